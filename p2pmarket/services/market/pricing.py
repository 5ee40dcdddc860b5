"""Suggested prices: a weighted p25/p50/p75 band from the sales and listings like an item.

An item's band comes first from its comparables (comparables.py): completed sales
(weight 2) and active listings (weight 1) of the same category and unit that share its
distinctive words, each weighted by how alike it is (squared), by distance (1 at the centre, 1/2
at `scale`), by recency (half-life 90 days) and, for goods, by how near its condition
is. Prices are brought to one condition first (each condition's factor, learned from the
category's sales or configured: conditions.py) and the band is moved to the item's own.
With fewer than MIN_COMPARABLES the radius widens (3 km, 10 km, the whole market);
still short, the band is the category's and the basis says so, and no price is then
called under or over it (`against` is None).

The category band: completed orders and active listings of the same category and unit
around the place, with the same ladder; when even the whole market is thin it leans on
the category guide in data/ (shrinkage: the guide counts as PRIOR_WEIGHT points).

Speed: the store reads the category points from a covering price index, never the
listing table, and the comparables inside the search index (store/sqlite/prices.py,
store/postgres/prices.py); the exact distance is checked here. `suggest_many` reads the
category bands of many (category, unit) pairs together, each equal to its own.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, replace

from sqlmodel import Session, col, select

from p2pmarket import money
from p2pmarket.clock import DAY, Clock
from p2pmarket.errors import Invalid, Superseded
from p2pmarket.geo import haversine_km
from p2pmarket.models import Condition, Kind, Listing, Unit
from p2pmarket.services.market import catalog, comparables, conditions
from p2pmarket.services.market.catalog import Band, Category
from p2pmarket.store import ports

MIN_POINTS = 10
# Fewer comparables than this, even across the market: the category's band.
MIN_COMPARABLES = 4
# A comparable one condition step away (good vs fair) votes 0.8 as much, two steps 0.64
# (its price is already brought to the item's condition; nearer conditions still know more).
CONDITION_STEP_WEIGHT = 0.8
RADII_KM: tuple[float | None, ...] = (3.0, 10.0, None)
HALF_LIFE_DAYS = 90
ORDER_WEIGHT = 2.0
LISTING_WEIGHT = 1.0
PRIOR_WEIGHT = 10.0
# The quantiles read from data points: the band (p25, p50, p75) and the wider p10..p90.
WIDE = (0.1, 0.25, 0.5, 0.75, 0.9)
# Within a fair band, a little either side still counts as fair.
FAIR_SLACK = 0.05
# At most about this many listing points are read per suggestion (see _points).
SAMPLE_CAP = 1000
# At most this many listings like an item are read per radius step (by its head word, else
# the rarest words first): plenty for three quantiles, and a common word at 1M listings stays
# fast (reading 300 took a third more CPU time in `bench price`).
COMPARABLES_CAP = 200


@dataclass(frozen=True)
class Suggestion:
    category: str
    unit: str
    p25: int
    p50: int
    p75: int
    n: int
    sales: int
    listings: int
    radius_km: float | None
    basis: str
    # What a price is compared with ("14 similar 'metronome' items within 10 km"); None:
    # no comparables, so no price is called low, high, under or over.
    against: str | None = None
    condition: str | None = None
    factor: float = 1.0
    # The sales the condition's factor was learned from (0: the configured default).
    factor_sales: int = 0
    # The wider band (p10, p90) where the band was read from data points (None: a guide).
    p10: int | None = None
    p90: int | None = None

    @property
    def band(self) -> Band:
        return Band(self.p25, self.p50, self.p75)

    def to_json(self) -> dict:
        return asdict(self)


def verdict(price: int, suggestion: Suggestion) -> str | None:
    """'low' under p25, 'high' over p75 (with a little slack), else 'fair'; None without
    comparables (a category's range says nothing about this item)."""
    if suggestion.against is None:
        return None
    band = suggestion.band
    if price < band.p25 * (1 - FAIR_SLACK):
        return "low"
    if price > band.p75 * (1 + FAIR_SLACK):
        return "high"
    return "fair"


def compare(price: int, suggestion: Suggestion) -> str | None:
    """'12% under 14 similar 'metronome' items within 10 km' (None: nothing to compare with)."""
    if suggestion.against is None or not suggestion.p50:
        return None
    diff = round((price - suggestion.p50) * 100 / suggestion.p50)
    if diff <= -5:
        return f"{-diff}% under {suggestion.against}"
    if diff >= 5:
        return f"{diff}% over {suggestion.against}"
    return f"about the price of {suggestion.against}"


def condition_label(condition: str | None) -> str:
    return (condition or "not said").replace("_", " ")


def weighted_quantiles(points: list[tuple[int, float]], qs=(0.25, 0.5, 0.75)) -> list[int]:
    """Weighted quantiles of (price, weight) points: the first price whose share reaches q."""
    ordered = sorted(points)
    total = sum(w for _, w in ordered)
    out, acc, i = [], 0.0, 0
    for q in qs:
        target = q * total
        while i < len(ordered) - 1 and acc + ordered[i][1] < target:
            acc += ordered[i][1]
            i += 1
        out.append(ordered[i][0])
    return out


Pair = tuple[str, str]


def _points_many(
    session: Session,
    now: int,
    pairs: list[Pair],
    lat: float,
    lon: float,
    radius_km: float | None,
    exclude: int | None,
    cap: int,
) -> list[tuple[list[tuple[int, float]], int, int]]:
    """(points, sales, listings) of each (category slug, unit) pair, in the pairs' order.

    The store reads the rows (store/ports.py PricePoints); the exact distance and the
    weights are computed here, the same for every store.
    """
    rows = ports.of(session).prices.rows(session, pairs, lat, lon, radius_km, exclude, cap)
    scale = (radius_km or 30.0) / 2
    decay = math.log(2) / (HALF_LIFE_DAYS * DAY)
    found = []
    for listing_rows, order_rows in rows:
        points: list[tuple[int, float]] = []
        counts = [0, 0]
        for which, read, base in ((0, listing_rows, LISTING_WEIGHT), (1, order_rows, ORDER_WEIGHT)):
            for price, at, plat, plon in read:
                km = haversine_km(lat, lon, plat, plon)
                if radius_km is not None and km > radius_km:
                    continue
                age = max(0, now - at)
                weight = base * math.exp(-decay * age) / (1 + (km / scale) ** 2)
                points.append((price, weight))
                counts[which] += 1
        found.append((points, counts[1], counts[0]))
    return found


def _radius_text(radius_km: float | None) -> str:
    return f"within {radius_km:g} km" if radius_km is not None else "across the market"


def suggest(
    session: Session,
    clock: Clock,
    *,
    category: str,
    unit: Unit | str,
    lat: float,
    lon: float,
    title: str = "",
    condition: Condition | str | None = None,
    exclude_listing: int | None = None,
    cap: int = SAMPLE_CAP,
) -> Suggestion:
    """The suggested band for an item around (lat, lon): from its comparables, else its
    category's (and then the basis says why). Without a title: the category's."""
    cat, unit_ = _checked(category, unit)
    condition = str(condition) if condition else None
    factors = conditions.factors(session, cat.slug)
    words = comparables.distinctive(session, title, listed=exclude_listing is not None)
    found = comparables.Found([])
    if words.terms:
        for radius in RADII_KM:
            found = comparables.around(
                session,
                words,
                category=cat.slug,
                unit=str(unit_),
                lat=lat,
                lon=lon,
                radius_km=radius,
                exclude=exclude_listing,
                cap=min(cap, COMPARABLES_CAP),
            )
            if len(found.comparables) >= MIN_COMPARABLES:
                return _from_comparables(
                    cat, unit_, words, found.comparables, radius, factors, condition, clock.now()
                )
    guide = category_band(
        session,
        clock,
        category=cat.slug,
        unit=unit_,
        lat=lat,
        lon=lon,
        exclude_listing=exclude_listing,
        cap=cap,
    )
    said = _why_not(session, cat, unit_, words, found, exclude_listing, bool(title.strip()))
    return _category_only(guide, said, factors, condition)


def _why_not(
    session: Session,
    cat: Category,
    unit: Unit,
    words: comparables.Words,
    found: comparables.Found,
    exclude: int | None,
    titled: bool,
) -> str:
    """Why an item has too few comparables even across the market, as the basis says it:
    how many it has, else what holds its word and why none is used."""
    few, word = len(found.comparables), words.shown
    if few:
        return f"only {few} similar '{word}' {_items(few)} across the market"
    if found.unlike or found.idle:
        unlike, idle = found.unlike, found.idle
        held = f"{unlike + idle} '{word}' {_items(unlike + idle)} in {cat.slug} per {unit}"
        if not idle:
            return f"{held}, none sharing enough of this title's words"
        if not unlike:
            return f"{held}, none active or sold"
        return (
            f"{held}: {unlike} share{'s' * (unlike == 1)} too few of this title's words, "
            f"{idle} {'is' if idle == 1 else 'are'} neither active nor sold"
        )
    if holders := comparables.elsewhere(session, words, exclude):
        shown = [f"{n} in {category} per {per}" for category, per, n in holders[:2]]
        more = ", …" if len(holders) > 2 else ""
        return f"no '{word}' items in {cat.slug} per {unit} ({', '.join(shown)}{more})"
    if word:
        return f"no similar '{word}' items yet"
    return "no words of the title to compare by" if titled else "no title to compare by"


def _items(n: int) -> str:
    return "item" if n == 1 else "items"


def category_band(
    session: Session,
    clock: Clock,
    *,
    category: str,
    unit: Unit | str,
    lat: float,
    lon: float,
    exclude_listing: int | None = None,
    cap: int = SAMPLE_CAP,
) -> Suggestion:
    """The band of a whole category and unit around (lat, lon) (what an item falls back on)."""
    (band,) = suggest_many(
        session,
        clock,
        [(category, unit)],
        lat=lat,
        lon=lon,
        exclude_listing=exclude_listing,
        cap=cap,
    ).values()
    return band


# Each condition's place in the order (new first): how many steps apart two conditions are.
_RANKS = {condition: rank for rank, condition in enumerate(conditions.CONFIGURED)}


def _rank(condition: str | None) -> int:
    return _RANKS[condition or Condition.good]


def predicted(points: list[tuple[float, float]]) -> list[float]:
    """Where the next price like these falls (p10, p25, p50, p75, p90): the weighted
    quantiles of `points`, spread around their median on a log scale by 1 + 1/sqrt(n),
    n the points' effective number ((sum w)^2 / sum w^2), and never past the cheapest or
    dearest of them. Quantiles read from a few prices sit closer together than the prices
    to come (without it 42 % of held-out sales fell inside p25..p75 and 64 % inside
    p10..p90; with it 50 % and 71 %: `bench price-quality`). Not for a category's band:
    its many unlike prices are spread enough (49 % and 77 % as they are; spread, 57 % and
    86 %)."""
    total = sum(w for _, w in points)
    spread = 1 + 1 / math.sqrt(total * total / sum(w * w for _, w in points))
    quantiles = weighted_quantiles(points, WIDE)
    mid, low, high = quantiles[2], min(p for p, _ in points), max(p for p, _ in points)
    if mid <= 0:
        return quantiles
    # Never past the cheapest or dearest comparable: a few unlike ones (a kids' bike and a
    # road bike) would otherwise spread into prices nobody asked.
    return [min(high, max(low, mid * (q / mid) ** spread)) if q > 0 else q for q in quantiles]


def _from_comparables(
    cat: Category,
    unit: Unit,
    words: comparables.Words,
    found: list[comparables.Comparable],
    radius: float | None,
    factors: dict[str, conditions.Factor],
    condition: str | None,
    now: int,
) -> Suggestion:
    """The band of the comparables, each price brought to the item's condition."""
    scale = (radius or 30.0) / 2
    decay = math.log(2) / (HALF_LIFE_DAYS * DAY)
    own = factors[condition or Condition.good]
    points = []
    for c in found:
        weight = (
            (ORDER_WEIGHT if c.sale else LISTING_WEIGHT)
            # Squared: a comparable holding every word counts far more than one holding half.
            * c.likeness**2
            * math.exp(-decay * max(0, now - c.at))
            / (1 + (c.km / scale) ** 2)
            * CONDITION_STEP_WEIGHT ** abs(_rank(c.condition) - _rank(condition))
        )
        points.append((c.price / _factor(factors, c.condition), weight))
    p10, p25, p50, p75, p90 = (round(p * own.value) for p in predicted(points))
    sales = sum(c.sale for c in found)
    against = f"{_similar_count(len(found), sales, words.shown)} {_radius_text(radius)}"
    return Suggestion(
        cat.slug,
        str(unit),
        p25,
        p50,
        p75,
        len(found),
        sales,
        len(found) - sales,
        radius,
        against + _condition_text(cat, condition, own),
        against,
        condition,
        own.value,
        own.sales if own.learned_from is not None else 0,
        p10,
        p90,
    )


def _category_only(
    guide: Suggestion, said: str, factors: dict[str, conditions.Factor], condition: str | None
) -> Suggestion:
    """Too few comparables: the category's band, moved to the condition, saying so."""
    cat = catalog.category(guide.category)
    own = factors[condition or Condition.good]
    factor = own.value
    p25, p50, p75 = (round(p * factor) for p in (guide.p25, guide.p50, guide.p75))
    p10, p90 = (None if p is None else round(p * factor) for p in (guide.p10, guide.p90))
    ranges = f"the category ranges {money.fmt(p25)}–{money.fmt(p75)} ({guide.basis})"
    return replace(
        guide,
        p10=p10,
        p25=p25,
        p50=p50,
        p75=p75,
        p90=p90,
        n=0,
        basis=f"{said}; {ranges}{_condition_text(cat, condition, own)}",
        against=None,
        condition=condition,
        factor=factor,
        factor_sales=own.sales if own.learned_from is not None else 0,
    )


def _condition_text(cat: Category, condition: str | None, own: conditions.Factor) -> str:
    if Kind.goods not in cat.kinds or condition is None:
        return ""
    return f"; {own.text()}"


def _factor(factors: dict[str, conditions.Factor], condition: str | None) -> float:
    """A comparable's condition factor (not said, or not a condition: good)."""
    found = factors.get(condition or Condition.good)
    return found.value if found is not None else 1.0


def _similar_count(n: int, sales: int, word: str) -> str:
    if sales == n:
        return f"{n} similar '{word}' sale{'s' * (n != 1)}"
    if not sales:
        return f"{n} similar '{word}' listing{'s' * (n != 1)}"
    return f"{n} similar '{word}' items ({sales} sold)"


def _checked(category: str, unit: Unit | str) -> tuple[Category, Unit]:
    cat = catalog.category(category)
    try:
        unit = Unit(str(unit).strip().lower())
    except ValueError:
        raise Invalid(
            "unit_format", f"Unit {str(unit)[:20]!r} must be item, hour, session or day."
        ) from None
    if unit not in cat.units:
        allowed = ", ".join(cat.units)
        raise Invalid(
            "unit_not_allowed", f"Category {cat.slug} is priced per {allowed}, not per {unit}."
        )
    return cat, unit


def suggest_many(
    session: Session,
    clock: Clock,
    pairs: Iterable[tuple[str, Unit | str]],
    *,
    lat: float,
    lon: float,
    exclude_listing: int | None = None,
    cap: int = SAMPLE_CAP,
) -> dict[Pair, Suggestion]:
    """The band of each (category, unit) pair around (lat, lon), keyed as given.

    Each band is the one `suggest` gives for its pair (same ladder, sample and basis);
    the pairs still short of MIN_POINTS at a step are read together at the next.
    """
    checked = {(category, str(unit)): _checked(category, unit) for category, unit in pairs}
    now = clock.now()
    bands: dict[Pair, Suggestion] = {}
    todo = list(checked)
    found: list[tuple[list[tuple[int, float]], int, int]] = []
    radius: float | None = None
    for radius in RADII_KM:
        found = _points_many(
            session,
            now,
            [(checked[key][0].slug, str(checked[key][1])) for key in todo],
            lat,
            lon,
            radius,
            exclude_listing,
            cap,
        )
        for key, (points, sales, listings) in zip(todo, found, strict=True):
            if len(points) >= MIN_POINTS:
                cat, unit = checked[key]
                p10, p25, p50, p75, p90 = weighted_quantiles(points, WIDE)
                basis = f"{_basis_count(sales, listings)} {_radius_text(radius)}"
                bands[key] = Suggestion(
                    cat.slug,
                    str(unit),
                    p25,
                    p50,
                    p75,
                    len(points),
                    sales,
                    listings,
                    radius,
                    basis,
                    p10=p10,
                    p90=p90,
                )
        found = [f for key, f in zip(todo, found, strict=True) if key not in bands]
        todo = [key for key in todo if key not in bands]
        if not todo:
            break
    for key, (points, sales, listings) in zip(todo, found, strict=True):
        cat, unit = checked[key]
        bands[key] = _guided(cat, unit, points, sales, listings, radius)
    return bands


def _guided(
    cat: Category,
    unit: Unit,
    points: list[tuple[int, float]],
    sales: int,
    listings: int,
    radius: float | None,
) -> Suggestion:
    """Too few points even across the market: the category guide, shrunk towards the data."""
    prior = cat.prior[unit]
    n = len(points)
    if n:
        # The guide counts as PRIOR_WEIGHT points.
        data = weighted_quantiles(points)
        mixed = [
            round((n * d + PRIOR_WEIGHT * g) / (n + PRIOR_WEIGHT))
            for d, g in zip(data, (prior.p25, prior.p50, prior.p75), strict=True)
        ]
        p25, p50, p75 = sorted(mixed)
        basis = (
            f"category guide: too few nearby ({_basis_count(sales, listings)} "
            f"{_radius_text(radius)} blended in)"
        )
    else:
        p25, p50, p75 = prior.p25, prior.p50, prior.p75
        basis = "category guide: too few nearby (no sales or listings yet)"
    return Suggestion(cat.slug, str(unit), p25, p50, p75, n, sales, listings, radius, basis)


# Bands shown in search results ("12% under 14 similar 'bike' items within 3 km") are reused
# while the store is unchanged: typing a query re-reads the same listings' bands around the
# same place on every key. Recency weights move by ~0.2% a day, so a band stays current
# within this many seconds.
CACHE_SECONDS = 300
CACHE_SIZE = 256
_CACHE_KEY = "p2pmarket.pricing.listing-bands"


def suggest_listings(
    session: Session,
    clock: Clock,
    listing_ids: Iterable[int],
    *,
    lat: float,
    lon: float,
    cap: int = SAMPLE_CAP,
    cancelled: Callable[[], bool] | None = None,
) -> dict[int, Suggestion]:
    """Each listing's own band around (lat, lon) (its title, category, unit and condition;
    it does not vote on itself), remembered while nobody writes to the store.

    `cancelled` is asked before each band not remembered: once it says yes, `Superseded`
    is raised (the bands worked out so far stay remembered).

    The store says where bands may be remembered (PricePoints.memo: on SQLite a dict per
    pooled connection, emptied when PRAGMA data_version or the connection's own
    total_changes moves); where it keeps none, every band is read.
    """
    ids = list(dict.fromkeys(listing_ids))
    remembered = ports.of(session).prices.memo(session, _CACHE_KEY)
    if remembered is None:
        remembered = {}
    bucket = clock.now() // CACHE_SECONDS
    unknown = [lid for lid in ids if (lid, lat, lon, cap, bucket) not in remembered]
    # The listings not remembered, in one read (one by one was a sixth of a page's time).
    listings = (
        {
            listing.id: listing
            for listing in session.exec(select(Listing).where(col(Listing.id).in_(unknown)))
        }
        if unknown
        else {}
    )
    bands: dict[int, Suggestion] = {}
    for lid in ids:
        key = (lid, lat, lon, cap, bucket)
        if key in remembered:
            remembered[key] = bands[lid] = remembered.pop(key)
            continue
        listing = listings.get(lid)
        if listing is None:
            continue
        if cancelled is not None and cancelled():
            raise Superseded
        remembered[key] = bands[lid] = suggest(
            session,
            clock,
            category=listing.category,
            unit=listing.unit,
            lat=lat,
            lon=lon,
            title=listing.title,
            condition=listing.condition,
            exclude_listing=lid,
            cap=cap,
        )
    while len(remembered) > CACHE_SIZE:
        del remembered[next(iter(remembered))]
    return bands


def _basis_count(sales: int, listings: int) -> str:
    if sales and listings:
        return f"{sales} sale{'s' * (sales != 1)} and {listings} listing{'s' * (listings != 1)}"
    if sales:
        return f"{sales} nearby sale{'s' * (sales != 1)}"
    return f"{listings} nearby listing{'s' * (listings != 1)}"
