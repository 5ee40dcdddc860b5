"""Nearby search: text, place and filters, one page at a time, each hit with a short why.

- query.py: what a person asks (Query, its checks and parsing) and how a match scores.
- plan.py: finding a page, the radius steps and price groups (the same on every store).
- results.py: the page as shown (rounded distances, credit, the why, prices vs bands).
- index.py: keeping the derived index (catch up, bulk loads, rebuild).

Text and place intersect inside one index (store/ports.py SearchIndex; SQLite's FTS5
and PostgreSQL's btree adapters), never in a scan of a large candidate set.
"""

from p2pmarket.services.market.search.index import catch_up, pending, rebuild, resume, suspend
from p2pmarket.services.market.search.plan import find, find_new, seller_credit
from p2pmarket.services.market.search.query import (
    BEYOND_MAX_KM,
    PAGE_SIZE,
    PREFIX_SCORE,
    RADIUS_DEFAULT_KM,
    RADIUS_MAX_KM,
    Candidate,
    Query,
    Sort,
    check_query,
    parse_min_credit,
    parse_near,
    parse_radius,
    parse_sort,
    text_score,
)
from p2pmarket.services.market.search.results import (
    Hit,
    Results,
    finish,
    fmt_km,
    page_results,
    round_km,
    search,
    seller_handles,
    with_nearest_beyond,
)
from p2pmarket.tokens import query_tokens, tokens

__all__ = [
    "BEYOND_MAX_KM",
    "PAGE_SIZE",
    "PREFIX_SCORE",
    "RADIUS_DEFAULT_KM",
    "RADIUS_MAX_KM",
    "Candidate",
    "Hit",
    "Query",
    "Results",
    "Sort",
    "catch_up",
    "check_query",
    "find",
    "find_new",
    "finish",
    "fmt_km",
    "page_results",
    "parse_min_credit",
    "parse_near",
    "parse_radius",
    "parse_sort",
    "pending",
    "query_tokens",
    "rebuild",
    "resume",
    "round_km",
    "search",
    "seller_credit",
    "seller_handles",
    "suspend",
    "text_score",
    "tokens",
    "with_nearest_beyond",
]
