"""A search as a person asks it: the query, its checks and parsing, and how a match scores."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from enum import StrEnum

from p2pmarket import text as text_mod
from p2pmarket.errors import Invalid
from p2pmarket.geo import RADIUS_DEFAULT_KM
from p2pmarket.models import Condition, Kind
from p2pmarket.services.market import catalog
from p2pmarket.tokens import query_tokens, tokens

RADIUS_MAX_KM = 500.0
# How far an empty search looks for the nearest match to tell about (bounded: it runs on
# every keystroke that finds nothing).
BEYOND_MAX_KM = 50.0
PAGE_SIZE = 20
QUERY_MAX = 200
QUERY_TOKENS_MAX = 8
# "best": text score times this distance decay (1 at the door, 0.5 at 1 km).
DECAY_KM = 1.0
PREFIX_SCORE = 0.7


class Sort(StrEnum):
    best = "best"
    nearest = "nearest"
    cheapest = "cheapest"
    credit = "credit"


@dataclass(frozen=True)
class Query:
    text: str = ""
    lat: float = 0.0
    lon: float = 0.0
    radius_km: float = RADIUS_DEFAULT_KM
    kind: Kind | None = None
    category: str | None = None
    min_price: int | None = None
    max_price: int | None = None
    min_credit: int | None = None
    # Goods said to be in this condition or better (new first); None: any listing.
    condition: Condition | None = None
    sort: Sort = Sort.best
    page: int = 1
    page_size: int = PAGE_SIZE


def parse_sort(value: str) -> Sort:
    try:
        return Sort(value.strip().lower())
    except ValueError:
        raise Invalid(
            "sort_format", f"Sort {value[:20]!r} must be best, nearest, cheapest or credit."
        ) from None


def parse_min_credit(value: str) -> int | None:
    """What a person typed as the minimum credit: empty is none (check_query checks the range)."""
    value = value.strip()
    if not value:
        return None
    if not (value.isascii() and value.isdigit()):
        raise Invalid(
            "credit_format",
            f"Minimum credit {text_mod.strip_controls(value)[:20]!r} must be a whole number, "
            "like 600.",
        )
    return int(value)


def parse_radius(value: str) -> float:
    """What a person typed as the radius in km: empty is the default (check_query checks
    the range)."""
    value = value.strip()
    if not value:
        return RADIUS_DEFAULT_KM
    try:
        radius = float(value)
    except ValueError:
        radius = math.nan
    if not math.isfinite(radius):
        raise Invalid(
            "radius_format",
            f"Radius {text_mod.strip_controls(value)[:20]!r} must be a number of km, like 3.",
        )
    return radius


def parse_near(value: str) -> tuple[float, float]:
    """'31.23,121.47' → (lat, lon)."""
    from p2pmarket.services.trust.accounts import check_location

    parts = value.replace(" ", "").split(",")
    try:
        if len(parts) != 2:
            raise ValueError
        lat, lon = float(parts[0]), float(parts[1])
    except ValueError:
        raise Invalid(
            "near_format",
            f"--near {text_mod.strip_controls(value)[:40]!r} must be LAT,LON, e.g. 31.23,121.47.",
        ) from None
    return check_location(lat, lon)


def check_query(query: Query) -> Query:
    if not (math.isfinite(query.radius_km) and 0 < query.radius_km <= RADIUS_MAX_KM):
        raise Invalid(
            "radius_range",
            f"Radius {query.radius_km:g} km must be more than 0 and at most {RADIUS_MAX_KM:g} km.",
        )
    if (
        query.min_price is not None
        and query.max_price is not None
        and query.min_price > query.max_price
    ):
        raise Invalid("price_range", "The minimum price is above the maximum price.")
    if query.page < 1 or query.page > 1000:
        raise Invalid("page_range", "The page must be between 1 and 1000.")
    if query.min_credit is not None and not 0 <= query.min_credit <= 1000:
        raise Invalid("credit_range", "The minimum credit must be between 0 and 1000.")
    if len(query.text) > QUERY_MAX:
        raise Invalid("query_too_long", f"The search text may have at most {QUERY_MAX} characters.")
    if len(query_tokens(query.text)) > QUERY_TOKENS_MAX:
        raise Invalid("query_too_many_words", f"Search for at most {QUERY_TOKENS_MAX} words.")
    if query.category is not None:
        query = replace(query, category=catalog.category(query.category).slug)
    return query


@dataclass
class Candidate:
    """A listing the index returned, before it is shown: what sorting and the why need."""

    id: int
    title: str
    description: str
    kind: str
    category: str
    unit: str
    price: int
    seller_id: int
    km: float
    credit: int | None = None
    text_score: float = 1.0
    where: str = ""

    @property
    def score(self) -> float:
        return self.text_score / (1 + self.km / DECAY_KM)


def text_score(words: tuple[str, ...], title: str) -> tuple[float, str]:
    """1.0 per exact title word, 0.7 per title prefix, 0.4 per description-only word.

    Every word matched the title or the description already (the index said so): a word
    the title lacks is in the description.

    A one-character word is a prefix being typed, never exact (see `exact`).
    """
    if not words:
        return 1.0, ""
    title_tokens = tokens(title)
    total, in_title = 0.0, True
    for w in words:
        if exact(w) and w in title_tokens:
            total += 1.0
        elif any(t.startswith(w) for t in title_tokens):
            total += PREFIX_SCORE
        else:
            total += 0.4
            in_title = False
    return total / len(words), "title match" if in_title else "description match"


def exact(word: str) -> bool:
    """Whether `word` can score as a whole word: not one character (the first key typed).

    Stray one-letter tokens ("lin's" holds "s") would otherwise make the first key's
    best-first search hunt the whole radius for them before it could stop.
    """
    return len(word) > 1
