"""What differs by SQL dialect, as ports: the services ask these, never which database it is.

`Store.open` chooses one adapter per port for its engine (store/sqlite/, store/postgres/),
once; a service reaches them through its session with `ports.of(session)`. Every
dialect-specific statement lives in an adapter; the rules around them (scoring, radius
steps, weights, timers) stay in services/ and are the same for both stores.
"""

from __future__ import annotations

import weakref
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import Connection, Engine
from sqlmodel import Session

Progress = Callable[[int, int], None]

# (id, title, description, kind, category, unit, price, seller id, exact distance in km)
Row = tuple[int, str, str, str, str, str, int, int, float]
# (price, updated_at, lat, lon) of a listing or of a completed order's listing
PriceRow = tuple[int, int, float, float]
# (id, title, condition, status, price, updated_at, lat, lon, sold price, sold at) of a
# listing sharing a word: one row per completed sale of it (sold None: a row without one)
LikeRow = tuple[int, str, str | None, str, int, int, float, float, int | None, int | None]


@dataclass(frozen=True)
class TextPlan:
    """What the index knows about a query's words and tags before reading any listing.

    `terms` is the adapter's own (its match expression); `estimate` an upper bound of
    the listings matching (None: no word and no tag, every listing matches); `exact`,
    per word, whether the word is itself an indexed token; `post`, words the index
    left out, each of which must prefix a token of a candidate; `indexed`, how many
    listings the index holds.
    """

    terms: object
    estimate: int | None
    exact: tuple[bool, ...]
    post: tuple[str, ...] = ()
    indexed: int = 0


@dataclass(frozen=True)
class Area:
    """Where and what a read looks for besides the words: the circle, the price range and
    whose listings are left out (the searcher's own)."""

    lat: float
    lon: float
    radius_km: float
    me_id: int
    min_price: int | None = None
    max_price: int | None = None


class SearchIndex(Protocol):
    """The nearby-search index: derived data kept from the listing table."""

    def pending(self, session: Session) -> int: ...

    def catch_up(self, session: Session, progress: Progress | None = None) -> int: ...

    def suspend(self, session: Session) -> int: ...

    def resume(self, session: Session, after_id: int, progress: Progress | None = None) -> int: ...

    def rebuild(self, session: Session, progress: Progress | None = None) -> int: ...

    def plan(
        self, session: Session, words: tuple[str, ...], kind: str | None, category: str | None
    ) -> TextPlan | None:
        """None when some word starts no indexed token (nothing can match)."""
        ...

    def price_buckets(self, session: Session) -> dict[int, int]:
        """Price bucket → about how many listings it holds (buckets never used are left out)."""
        ...

    def fetch(
        self,
        session: Session,
        plan: TextPlan,
        area: Area,
        buckets: Sequence[int] | None = None,
    ) -> list[Row]:
        """Active listings of others within the area that match the plan (and, given
        buckets, whose price lies in one of them), with their exact distance."""
        ...


class PricePoints(Protocol):
    """The data points of suggested prices, and where bands may be remembered."""

    def rows(
        self,
        session: Session,
        pairs: Sequence[tuple[str, str]],
        lat: float,
        lon: float,
        radius_km: float | None,
        exclude: int | None,
        cap: int,
    ) -> list[tuple[list[PriceRow], list[PriceRow]]]:
        """Per (category, unit) pair: active listings (sampled past `cap`) and completed
        orders whose listing lies in the box around (lat, lon) (everywhere if no radius)."""
        ...

    def memo(self, session: Session, name: str) -> dict | None:
        """A dict that lives while nobody writes to the store (None: nothing is remembered)."""
        ...

    def vocabulary(self, session: Session, terms: Sequence[str]) -> tuple[dict[str, int], int]:
        """About how many listings hold each term (an upper bound; terms held by none are
        left out), and how many listings the search index holds."""
        ...

    def alike(
        self,
        session: Session,
        category: str,
        unit: str,
        terms: Sequence[str],
        lat: float,
        lon: float,
        radius_km: float | None,
        exclude: int | None,
        cap: int,
    ) -> list[LikeRow]:
        """Listings of the category and unit, of any status, holding one of the terms (whole
        tokens, not prefixes) in the box around (lat, lon) (everywhere if no radius), read
        term by term in the order given until `cap` listings are found; `exclude` left out.
        Each with its completed sales (a row per sale)."""
        ...

    def holders(
        self, session: Session, term: str, exclude: int | None, cap: int
    ) -> list[tuple[str, str, int]]:
        """Active listings holding the term (a whole token), any category: (category, unit,
        how many) of the first `cap` the index holds, most first; `exclude` left out."""
        ...


class Changes(Protocol):
    """Whether anyone committed since the last call (never blocks)."""

    def changed(self) -> bool: ...

    def close(self) -> None: ...


class ChangeFeed(Protocol):
    def watch(self) -> Changes: ...


class BulkLoad(Protocol):
    """Loading many rows at once (seeding, copying a market)."""

    def insert_listings(self, session: Session, rows: list[dict]) -> None: ...

    def after_copy(self, session: Session) -> None:
        """After rows were copied with their ids: make the next plain insert safe."""
        ...


class RowIds(Protocol):
    """Ids for rows before they are inserted: a chained row's hash covers its id, so the
    row is written once, whole, instead of inserted and then given its hash."""

    def reserve(self, connection: Connection, counts: Mapping[str, int]) -> dict[str, list[int]]:
        """`counts[table]` new ids of each table, ascending, none used before."""
        ...


@dataclass(frozen=True)
class Ports:
    search: SearchIndex
    prices: PricePoints
    changes: ChangeFeed
    bulk: BulkLoad
    ids: RowIds
    # Whether the store is one file `Store.backup` can copy.
    backups: bool


# Engine → its store's ports, filled by `Store` when it opens its engines.
_BY_ENGINE: weakref.WeakKeyDictionary[Engine, Ports] = weakref.WeakKeyDictionary()


def attach(engine: Engine, ports: Ports) -> None:
    _BY_ENGINE[engine] = ports


def of(session: Session) -> Ports:
    """The ports of the store a session belongs to."""
    return _BY_ENGINE[session.get_bind()]


def of_engine(engine: Engine) -> Ports:
    """The ports of the store an engine belongs to."""
    return _BY_ENGINE[engine]
