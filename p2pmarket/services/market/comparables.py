"""Comparables: the sales and listings like an item, found by the item's distinctive words.

A title's words are the search tokens a person would type for it (tokens.query_tokens:
folded latin words, Chinese bigrams), less a few words that say nothing about what the
thing is. Each word weighs its rarity over the search index (log(1 + listings /
listings holding it)), so 'metronome' or '节拍' counts for far more than 'used', 'kids' or
'二手'; the rarest few are asked for. A listing of the same category and unit is alike
when it holds at least LIKENESS_MIN of the item's word weight, and it votes with that
share: an 'office chair' is most like other office chairs, less like any chair.

The store finds the listings holding a word inside the search index, near first, each
with its completed sales (store/ports.py PricePoints.alike).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import NamedTuple

from sqlmodel import Session

from p2pmarket.geo import haversine_km
from p2pmarket.models import ListingStatus
from p2pmarket.store import ports
from p2pmarket.store.ports import LikeRow
from p2pmarket.tokens import query_tokens, tokens

# The rarest this many words of a title are looked up.
TERMS_MAX = 6
# The head word (what the thing is) counts this many times its rarity.
HEAD_WEIGHT = 2.0
# A comparable holds at least this share of the item's word weight.
LIKENESS_MIN = 0.5
# With no comparables, at most this many listings holding the word are read to say where
# they are instead.
HOLDERS_MAX = 1000
# Words that say how a thing is offered, not what it is (rarity alone would leave some
# in: a small market has few listings saying 'barely').
_FILLER_TEXT = (
    "a an and the of for with in on at to from by or new used old good great nice fair"
    " like very barely almost set pcs piece pieces one two three only size kids adult"
    " inch inches cm mm kg"
    " 二手 全新 九成 成新 八成 一个 一套 出售 转让 便宜"
)
FILLER = frozenset(_FILLER_TEXT.split())


# Where the name of the thing ends: a title names its thing first, then says more
# ("Office chair with armrests", "Wittner metronome, boxed", "办公椅 可升降").
_FIRST_PART = re.compile(r"[,，;；(（/|:：]| - | with | for | and | in |\s{2,}", re.IGNORECASE)
_WORDS = re.compile(r"\S+")


def head(title: str) -> str | None:
    """The word naming the thing (None: none found). Latin titles name it last in their
    first part ("Small digital metronome, boxed"); Chinese ones in their first word group,
    last ("人体工学办公椅 可升降": its last bigram)."""
    part = _FIRST_PART.split(title, maxsplit=1)[0]
    named = [_named(chunk) for chunk in _WORDS.findall(part)]
    latin = [t for t in named if t and t.isascii()]
    if latin:
        return latin[-1]
    return next((t for t in named if t), None)


def thing(title: str) -> tuple[str, ...]:
    """The words naming the thing, in order: those of the title's first part that say what
    it is ("Road bike, almost new" -> ('road', 'bike')); of a Chinese title, its first word
    group ("公路车 九成新" -> ('公路', '路车')). () when none do."""
    part = _FIRST_PART.split(title, maxsplit=1)[0]
    first = part.split(maxsplit=1)[:1]
    if first and not first[0].isascii():
        part = first[0]
    return tuple(dict.fromkeys(t for t in query_tokens(part) if _wordlike(t)))


def _named(chunk: str) -> str | None:
    found = [t for t in query_tokens(chunk) if _wordlike(t)]
    return found[-1] if found else None


def _wordlike(token: str) -> bool:
    return token not in FILLER and len(token) > 1 and not any(c.isdigit() for c in token)


@dataclass(frozen=True)
class Words:
    """An item's distinctive words, rarest first, and each one's weight; its head word
    (what the thing is) weighs double and every comparable holds it."""

    terms: tuple[str, ...]
    weights: tuple[float, ...]
    # Words of the title no listing holds yet (the rarest of all).
    unheard: tuple[str, ...] = ()
    head: str | None = None

    @property
    def shown(self) -> str:
        """The word a person recognises the comparison by: the head, else the rarest known,
        else the last unheard."""
        return self.head or (self.terms + self.unheard[-1:] + ("",))[0]

    @property
    def asked(self) -> tuple[str, ...]:
        """The words the store looks listings up by: the head alone when there is one
        (every comparable holds it, so listings found by the other words alone would be
        read only to be dropped), else every word."""
        return (self.head,) if self.head is not None else self.terms

    def held(self, found: frozenset[str]) -> frozenset[str]:
        """The item's words another title holds, given that title's tokens (none without
        the head word)."""
        if self.head is not None and self.head not in found:
            return frozenset()
        return frozenset(t for t in self.terms if t in found)

    def likeness(self, held: frozenset[str]) -> float:
        """The share of the item's word weight another title holds (0 to 1)."""
        part = sum(w for t, w in zip(self.terms, self.weights, strict=True) if t in held)
        return part / sum(self.weights)


def distinctive(session: Session, title: str, *, listed: bool = False) -> Words:
    """The title's rarest TERMS_MAX words that some listing holds, and its head word
    among them when some listing holds it (no words: nothing to compare). `listed`: the
    item is itself a listing, so a word must be held by another one too."""
    candidates = [t for t in query_tokens(title) if _wordlike(t)]
    if not candidates:
        return Words((), ())
    docs, indexed = ports.of(session).prices.vocabulary(session, candidates)
    docs = {t: d - listed for t, d in docs.items() if d > listed}
    weight = {t: math.log(1 + max(indexed, 1) / docs[t]) for t in candidates if t in docs}
    named = head(title)
    named = named if named in weight else None
    if named is not None:
        weight[named] *= HEAD_WEIGHT
    rarest = sorted(weight, key=lambda t: (t != named, -weight[t]))[:TERMS_MAX]
    unheard = tuple(t for t in candidates if t not in docs)
    return Words(tuple(rarest), tuple(weight[t] for t in rarest), unheard, named)


@dataclass(frozen=True)
class Comparable:
    """One vote on an item's price: a completed sale or a live listing like it."""

    price: int
    at: int
    km: float
    condition: str | None
    sale: bool
    likeness: float


@dataclass(frozen=True)
class Found:
    """The sales and listings like an item in one radius step, and how many listings of
    its category and unit holding its words were read but not used, and why."""

    comparables: list[Comparable]
    # Holding under LIKENESS_MIN of the item's word weight (or not its head word).
    unlike: int = 0
    # Alike, but neither active nor ever sold.
    idle: int = 0


# Reads of the listings holding a word, kept while nobody writes to the store (the store's
# memo, as pricing keeps bands): a search page's rows are mostly one thing ('sofa'), each
# priced against the others, and typing "sofa b…" prices the same things again.
READS_KEPT = 64
_READS_KEY = "p2pmarket.comparables.reads"


class _Row(NamedTuple):
    """A row the store read, with its distance from the centre and its title's tokens."""

    like: LikeRow
    km: float
    tokens: frozenset[str]


def _rows(session: Session, words: Words, key: tuple, exclude: int | None) -> list[_Row]:
    """The store's rows of listings like the item (`key`: category, unit, centre, radius
    and cap), its own left out.

    One word's rows are read once for every item it is asked for, and kept: the store
    reads a word's listings in one order until `cap` are found, so the first `cap` of
    `cap` + 1 read with none left out, less the item's own, are those it would read for
    the item. Several words (no head word) dedupe across words; those are read per item.
    """
    category, unit, lat, lon, radius_km, cap = key
    prices = ports.of(session).prices
    memo = prices.memo(session, _READS_KEY) if len(words.asked) == 1 else None
    if memo is None:
        rows = prices.alike(session, category, unit, words.asked, lat, lon, radius_km, exclude, cap)
        return _distanced(rows, lat, lon)
    kept = (*key, words.asked)
    read = memo.pop(kept, None)
    if read is None:
        rows = prices.alike(
            session, category, unit, words.asked, lat, lon, radius_km, None, cap + 1
        )
        read = _distanced(rows, lat, lon)
    memo[kept] = read
    while len(memo) > READS_KEPT:
        del memo[next(iter(memo))]
    out: list[_Row] = []
    listings: set[int] = set()
    for row in read:
        lid = row.like[0]
        if lid == exclude:
            continue
        if lid not in listings:
            if len(listings) == cap:
                break
            listings.add(lid)
        out.append(row)
    return out


def _distanced(rows: list[LikeRow], lat: float, lon: float) -> list[_Row]:
    return [
        _Row(row, haversine_km(lat, lon, row[6], row[7]), frozenset(tokens(row[1]))) for row in rows
    ]


def around(
    session: Session,
    words: Words,
    *,
    category: str,
    unit: str,
    lat: float,
    lon: float,
    radius_km: float | None,
    exclude: int | None,
    cap: int,
) -> Found:
    """Completed sales and active listings like the item within radius_km (None: anywhere)."""
    if not words.terms:
        return Found([])
    rows = _rows(session, words, (category, unit, lat, lon, radius_km, cap), exclude)
    found: list[Comparable] = []
    # listing id -> (likeness, km); rows of one listing come together, one per sale.
    alike: dict[int, tuple[float, float]] = {}
    shares: dict[frozenset[str], float] = {}
    used: set[int] = set()
    unlike = 0
    for (lid, _title, condition, status, price, at, _lat, _lon, sold, sold_at), km, said in rows:
        if lid not in alike:
            if radius_km is not None and km > radius_km:
                alike[lid] = (0.0, km)  # outside this step's circle: the next step's
                continue
            share = shares.get(said)
            if share is None:  # many titles say the same of the item's words
                held = words.held(said)
                share = shares[said] = words.likeness(held) if held else 0.0
            alike[lid] = (share, km)
            unlike += share < LIKENESS_MIN
            if share >= LIKENESS_MIN and str(status) == ListingStatus.active:
                found.append(Comparable(price, at, km, condition, False, share))
                used.add(lid)
        share, km = alike[lid]
        if sold is not None and share >= LIKENESS_MIN:
            found.append(Comparable(sold, sold_at, km, condition, True, share))
            used.add(lid)
    idle = sum(share >= LIKENESS_MIN and lid not in used for lid, (share, _) in alike.items())
    return Found(found, unlike, idle)


def elsewhere(session: Session, words: Words, exclude: int | None) -> list[tuple[str, str, int]]:
    """Where active listings holding the item's word the basis names lie: (category, unit,
    how many), most first (about HOLDERS_MAX read)."""
    if not words.shown or words.shown not in words.terms:
        return []
    return ports.of(session).prices.holders(session, words.shown, exclude, HOLDERS_MAX)
