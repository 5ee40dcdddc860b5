"""User text is data: one cleaning rule applied when text is stored.

Strips C0 controls (except newline and tab where a field allows several lines),
DEL, C1 controls, bidi overrides and isolates, and lone surrogates; normalises
to NFC; bounds the length. Rendering is the other half: every face passes what it
prints through `strip_controls` (CLI lines, tables and --json, TUI Content) and never
parses user text as markup.
"""

from __future__ import annotations

import re
import unicodedata

from p2pmarket.errors import Invalid

# C0 minus \t \n, DEL, C1, bidi embedding/override/isolate marks, BOM, lone surrogates.
_CONTROL = re.compile(
    "[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069\ufeff\ud800-\udfff]"
)
_SPACES = re.compile(r"[ \t]+")

TITLE_MAX = 120
DESCRIPTION_MAX = 2000
NAME_MAX = 80
MESSAGE_MAX = 2000
HANDLE = re.compile(r"[a-z0-9_]{3,20}")


def strip_controls(text: str) -> str:
    return _CONTROL.sub("", text)


def strip_all(value: object) -> object:
    """JSON-shaped `value` (dicts, lists, strings, numbers) with every string stripped.

    For printing: text stored before the cleaning rules, or by another tool, and echoed
    input reach a script's terminal as safely as a person's.
    """
    if isinstance(value, str):
        return strip_controls(value)
    if isinstance(value, dict):
        return {strip_all(k): strip_all(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [strip_all(v) for v in value]
    return value


def clean(text: str, *, field: str, max_len: int, multiline: bool = False, required=True) -> str:
    text = strip_controls(unicodedata.normalize("NFC", strip_controls(text)))
    if multiline:
        text = "\n".join(_SPACES.sub(" ", line).strip() for line in text.splitlines()).strip()
    else:
        text = _SPACES.sub(" ", text.replace("\n", " ").replace("\t", " ")).strip()
    if required and not text:
        raise Invalid(f"{field}_empty", f"The {field} must not be empty.")
    if len(text) > max_len:
        raise Invalid(
            f"{field}_too_long", f"The {field} is {len(text):,} characters; at most {max_len:,}."
        )
    return text


def handle(text: str) -> str:
    value = text.strip().lower()
    if not HANDLE.fullmatch(value):
        raise Invalid(
            "handle_format",
            f"Handle {strip_controls(text)[:40]!r} must be 3-20 letters a-z, "
            "digits or underscores.",
        )
    return value


def counted(n: int, noun: str) -> str:
    """'1 month', '3 months': a count and its noun, plural when it is not one."""
    return f"{n} {noun}{'' if n == 1 else 's'}"
