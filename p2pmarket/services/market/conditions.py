"""Condition factors: what goods in each condition sell for against the same thing in good
condition, learned from completed sales.

A completed sale of goods votes when its listing said a condition and the same thing
(category, unit and the words naming it: comparables.thing) also sold in good condition:
its price over the median of those good sales. A condition's factor is the median of its
votes in the item's category once it has LEARN_MIN of them, else of its votes across the
market, else the configured default (CONFIGURED); the basis says which ("like new: ×1.15,
learned from 212 sales"). Good is the reference (×1.00); goods whose condition was not said
count as good.

The factors are derived data, like the search index: learned once a day by the market's
tick into `condition_factor` (the market's own rows under the category ''), so a
suggestion reads a few rows, never the sales.
"""

from __future__ import annotations

import statistics
from collections import defaultdict
from dataclasses import dataclass

from sqlalchemy import delete, text
from sqlmodel import Session, col, select

from p2pmarket.clock import DAY, Clock
from p2pmarket.models import (
    Condition,
    ConditionFactor,
    Kind,
    Listing,
    Meta,
    Order,
    OrderStatus,
)
from p2pmarket.services.market.comparables import thing
from p2pmarket.store import ports

# What each condition sells for against good, until the sales say otherwise.
CONFIGURED: dict[str, float] = {
    Condition.new: 1.3,
    Condition.like_new: 1.15,
    Condition.good: 1.0,
    Condition.fair: 0.8,
    Condition.for_parts: 0.35,
}
# A category's factor is learned from at least this many votes.
LEARN_MIN = 30
# The most recent this many completed sales of goods are read (prices drift).
LEARN_SALES_MAX = 200_000
LEARN_EVERY = DAY
_LEARNED_KEY = "conditions_learned_at"
# The market's own factors, learned from every category's votes.
MARKET = ""
# A plain statement: every suggestion reads it, and building an ORM query costs more than
# the read.
_FACTORS_OF = text(
    "SELECT category, condition, permille, sales FROM condition_factor"
    " WHERE category IN (:category, :market)"
)


@dataclass(frozen=True)
class Factor:
    """One condition's factor for a category, and where it comes from."""

    condition: str
    value: float
    # The sales that voted for it (0 with none), and whose they were: the category's,
    # the market's (MARKET), or None: too few anywhere, so the configured value.
    sales: int
    learned_from: str | None

    def text(self) -> str:
        label = self.condition.replace("_", " ")
        said = f"{label}: ×{self.value:.2f}"
        if self.condition == Condition.good:
            return said
        if self.learned_from == MARKET:
            return f"{said}, learned from {self.sales} sales across the market"
        if self.learned_from is not None:
            return f"{said}, learned from {self.sales} sales"
        if self.sales:
            plural = "s" * (self.sales != 1)
            return f"{said} by default ({self.sales} sale{plural}, too few to learn from)"
        return f"{said} by default (no sales to learn from)"


# Factors read, kept while nobody writes to the store (a search page prices many listings
# of a category; the factors are learned by a write).
_KEPT = "p2pmarket.conditions.factors"


def factors(session: Session, category: str) -> dict[str, Factor]:
    """Every condition's factor for `category`: the category's where enough of its sales
    voted, else the market's, else the configured one."""
    kept = ports.of(session).prices.memo(session, _KEPT)
    if kept is None:
        return _factors(session, category)
    if category not in kept:
        kept[category] = _factors(session, category)
    return kept[category]


def _factors(session: Session, category: str) -> dict[str, Factor]:
    rows = {
        (scope, condition): (permille, sales)
        for scope, condition, permille, sales in session.execute(
            _FACTORS_OF, {"category": category, "market": MARKET}
        )
    }
    out = {}
    for condition, default in CONFIGURED.items():
        out[condition] = Factor(condition, default, 0, None)
        if condition == Condition.good:
            continue
        for scope in (category, MARKET):
            permille, sales = rows.get((scope, condition), (1000, 0))
            if sales >= LEARN_MIN:
                out[condition] = Factor(condition, permille / 1000, sales, scope)
                break
            if scope == category:
                # Too few to learn from: the default says how many the category had.
                out[condition] = Factor(condition, default, sales, None)
    return out


def due(session: Session, clock: Clock) -> bool:
    """Whether the factors were last learned LEARN_EVERY ago or never (one key read)."""
    mark = session.get(Meta, _LEARNED_KEY)
    return mark is None or clock.now() - int(mark.value) >= LEARN_EVERY


def learn(session: Session, clock: Clock) -> int:
    """Learn every category's factors from the completed sales of goods; the rows written."""
    sales = session.exec(
        select(Listing.category, Listing.unit, Listing.title, Listing.condition, Order.unit_price)
        .join(Listing, col(Listing.id) == col(Order.listing_id))
        .where(
            Order.status == OrderStatus.completed,
            Listing.kind == Kind.goods,
            col(Listing.condition).is_not(None),
        )
        .order_by(col(Order.id).desc())
        .limit(LEARN_SALES_MAX)
    ).all()
    # (category, unit, thing) -> condition -> prices
    named: dict[tuple, dict[str, list[int]]] = defaultdict(lambda: defaultdict(list))
    for category, unit, title, condition, price in sales:
        words = thing(title)
        if words and condition in CONFIGURED and price > 0:
            named[(category, str(unit), words)][condition].append(price)
    votes: dict[tuple[str, str], list[float]] = defaultdict(list)
    for (category, _unit, _words), prices in named.items():
        good = prices.get(Condition.good)
        if not good:
            continue
        reference = statistics.median(good)
        for condition, paid in prices.items():
            for scope in (category, MARKET):
                votes[(scope, condition)].extend(p / reference for p in paid)
    now = clock.now()
    session.execute(delete(ConditionFactor))
    for (category, condition), ratios in votes.items():
        session.add(
            ConditionFactor(
                category=category,
                condition=condition,
                permille=round(1000 * statistics.median(ratios)),
                sales=len(ratios),
                learned_at=now,
            )
        )
    session.merge(Meta(key=_LEARNED_KEY, value=str(now)))
    return len(votes)
