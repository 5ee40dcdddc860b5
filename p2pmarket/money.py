"""Money is an integer count of minor units (fen for CNY). Never a float.

`parse` turns what a person types ("12.5", "¥12.50") into minor units and
refuses anything ambiguous; `fmt` turns minor units back into text.
"""

from __future__ import annotations

import re

from p2pmarket.errors import Invalid

CURRENCY = "CNY"
SYMBOL = "¥"
MINOR_PER_MAJOR = 100
# 10 million yuan: far above any neighbourly trade, far below int64 trouble.
MAX_MINOR = 10_000_000 * MINOR_PER_MAJOR

_AMOUNT = re.compile(r"(?P<whole>[0-9]{1,12})(?:\.(?P<frac>[0-9]{1,2}))?")
_PREFIXES = ("¥", "￥", "CNY", "RMB")


def parse(text: str, *, maximum: int = MAX_MINOR, allow_zero: bool = False) -> int:
    raw = text
    text = text.strip()
    for prefix in _PREFIXES:
        if text.upper().startswith(prefix):
            text = text[len(prefix) :].strip()
            break
    match = _AMOUNT.fullmatch(text)
    if match is None:
        if text.startswith("-"):
            raise Invalid(
                "amount_negative", f"Amount {raw!r} is negative; amounts must be positive."
            )
        if re.fullmatch(r"[0-9]*\.[0-9]{3,}", text):
            raise Invalid(
                "amount_precision", f"Amount {raw!r} has more than two decimals; use e.g. 12.50."
            )
        if not text:
            raise Invalid("amount_format", "Type an amount, like 12 or 12.50.")
        raise Invalid("amount_format", f"Amount {raw!r} is not a plain amount like 12 or 12.50.")
    minor = int(match["whole"]) * MINOR_PER_MAJOR + int((match["frac"] or "0").ljust(2, "0"))
    if minor == 0 and not allow_zero:
        raise Invalid("amount_zero", "Amount must be more than zero.")
    if minor > maximum:
        raise Invalid("amount_too_large", f"Amount {raw!r} is over the limit of {fmt(maximum)}.")
    return minor


def check(minor: int, *, maximum: int = MAX_MINOR, allow_zero: bool = False) -> int:
    """Validate an amount that arrived already in minor units (JSON, services)."""
    if isinstance(minor, bool) or not isinstance(minor, int):
        raise Invalid("amount_format", f"Amount {minor!r} must be an integer of minor units.")
    if minor < 0:
        raise Invalid("amount_negative", f"Amount {minor} is negative; amounts must be positive.")
    if minor == 0 and not allow_zero:
        raise Invalid("amount_zero", "Amount must be more than zero.")
    if minor > maximum:
        raise Invalid("amount_too_large", f"Amount {minor} is over the limit of {fmt(maximum)}.")
    return minor


def fmt(minor: int) -> str:
    sign = "-" if minor < 0 else ""
    whole, frac = divmod(abs(minor), MINOR_PER_MAJOR)
    return f"{sign}{SYMBOL}{whole:,}.{frac:02d}"


def plain(minor: int) -> str:
    """Minor units as a person types them into a box, which `parse` reads back: "120.50"."""
    whole, frac = divmod(minor, MINOR_PER_MAJOR)
    return f"{whole}.{frac:02d}"
