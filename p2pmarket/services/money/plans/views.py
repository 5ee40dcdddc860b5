"""What the faces see of plans: each leg with where and when, each plan with its why."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from zoneinfo import ZoneInfo

from sqlmodel import Session, col, select

from p2pmarket import money
from p2pmarket.clock import Clock
from p2pmarket.geo import haversine_km
from p2pmarket.models import Listing, Order
from p2pmarket.services.market import pricing, search
from p2pmarket.services.money.orders import PaymentPreview

# The price of each leg is compared with the band of this many similar points at most.
PRICE_CAP = 200


@dataclass(frozen=True)
class LegView:
    position: int
    wish: str
    listing_id: int
    title: str
    seller: str
    start: int
    end: int
    at: str
    where: str
    travel_minutes: int
    amount: int
    credit: int | None
    price_vs: str | None
    order_id: int | None = None
    status: str | None = None

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class PlanView:
    id: int
    number: int | None
    status: str
    day: str
    window: str
    total: int
    travel_minutes: int
    lowest_credit: int | None
    why: str
    legs: tuple[LegView, ...]
    # A booked plan's cancelled legs (by position): listings that still fit in their place.
    replacements: dict[int, tuple[LegView, ...]] = field(default_factory=dict)

    def to_json(self) -> dict:
        data = asdict(self)
        data["legs"] = [leg.to_json() for leg in self.legs]
        data["replacements"] = {
            str(p): [leg.to_json() for leg in legs] for p, legs in self.replacements.items()
        }
        return data

    @property
    def cancelled(self) -> list[LegView]:
        """Legs whose order ended without taking place (a seller's cancellation, a revoke)."""
        return [leg for leg in self.legs if leg.status in ("refunded", "cancelled")]


@dataclass(frozen=True)
class Proposals:
    plans: tuple[PlanView, ...]
    unfilled: tuple[str, ...]

    def to_json(self) -> dict:
        return {"plans": [p.to_json() for p in self.plans], "unfilled": list(self.unfilled)}


@dataclass(frozen=True)
class PlanPreview:
    """What booking a plan would do, shown before the second confirmation."""

    plan: PlanView
    balance_before: int
    balance_after: int
    terms: str

    def payment(self, now: int) -> PaymentPreview:
        """The plan as the one payment the second confirmation shows."""
        sellers = ", ".join(dict.fromkeys(f"@{leg.seller}" for leg in self.plan.legs))
        return PaymentPreview(
            order_id=self.plan.id,
            title=", ".join(leg.wish for leg in self.plan.legs) + f" on {self.plan.day}",
            amount=self.plan.total,
            to=sellers.removeprefix("@"),
            balance_before=self.balance_before,
            balance_after=self.balance_after,
            revoke_window=max(0, min(leg.start for leg in self.plan.legs) - now),
            warning=self.terms,
        )

    def to_json(self) -> dict:
        return {
            "plan": self.plan.to_json(),
            "total": self.plan.total,
            "balance_before": self.balance_before,
            "balance_after": self.balance_after,
            "terms": self.terms,
            "confirmed": False,
        }


@dataclass(frozen=True)
class LegRow:
    """One leg to show, stored or not: which listing, when, how far, at what price (the
    columns of a PlanLeg but its plan's)."""

    position: int
    wish: str
    listing_id: int
    slot_start: int
    slot_end: int
    travel_minutes: int
    amount: int
    order_id: int | None = None


class Shown:
    """What showing legs needs, read once for all of them: listings, sellers, credit,
    price bands around the start of the day, and the orders booked."""

    def __init__(
        self,
        session: Session,
        clock: Clock,
        zone: str,
        origin: tuple[float, float, str],
        rows: list[LegRow],
    ) -> None:
        self.zone, self.origin = zone, origin
        ids = sorted({r.listing_id for r in rows})
        self.listings = {
            row.id: row for row in session.exec(select(Listing).where(col(Listing.id).in_(ids)))
        }
        sellers = {row.seller_id for row in self.listings.values()}
        self.handles = search.seller_handles(session, sellers)
        self.credit = search.seller_credit(session, sellers)
        self.bands = pricing.suggest_listings(
            session, clock, ids, lat=origin[0], lon=origin[1], cap=PRICE_CAP
        )
        order_ids = [r.order_id for r in rows if r.order_id is not None]
        self.status = (
            {
                o.id: str(o.status)
                for o in session.exec(select(Order).where(col(Order.id).in_(order_ids)))
            }
            if order_ids
            else {}
        )

    def leg(self, row: LegRow) -> LegView:
        listing = self.listings[row.listing_id]
        km = haversine_km(self.origin[0], self.origin[1], listing.lat, listing.lon)
        band = self.bands.get(row.listing_id)
        return LegView(
            position=row.position,
            wish=row.wish,
            listing_id=row.listing_id,
            title=listing.title,
            seller=self.handles.get(listing.seller_id, "?"),
            start=row.slot_start,
            end=row.slot_end,
            at=f"{self._clock(row.slot_start)}–{self._clock(row.slot_end)}",
            where=f"{search.fmt_km(km)} from {self.origin[2]}",
            travel_minutes=row.travel_minutes,
            amount=row.amount,
            credit=self.credit.get(listing.seller_id),
            price_vs=_price_vs(listing.price, band),
            order_id=row.order_id,
            status=self.status.get(row.order_id) if row.order_id is not None else None,
        )

    def _clock(self, instant: int) -> str:
        return f"{datetime.fromtimestamp(instant, ZoneInfo(self.zone)):%H:%M}"


def _price_vs(price: int, band: pricing.Suggestion | None) -> str | None:
    """A leg's price against similar ones nearby, else against the category's guide."""
    if band is None:
        return None
    said = pricing.compare(price, band)
    if said is not None:
        return said
    return f"{money.fmt(price)} against a guide of {money.fmt(band.p50)} per {band.unit}"


def why(legs: tuple[LegView, ...], party: int = 1) -> str:
    """A plan in one line: what it costs, the time on the way, the least trusted seller,
    and each leg's price against what similar ones cost."""
    total = sum(leg.amount for leg in legs)
    credits = [leg.credit for leg in legs if leg.credit is not None]
    parts = [
        f"{money.fmt(total)} in all" + (f" (a party of {party})" if party > 1 else ""),
        f"{sum(leg.travel_minutes for leg in legs)} min travelling",
        f"lowest credit {min(credits)}" if credits else "no seller publishes credit",
    ]
    twice = sorted({leg.seller for leg in legs if [x.seller for x in legs].count(leg.seller) > 1})
    parts += [f"{seller} does more than one leg" for seller in twice]
    priced = [f"{leg.wish} {leg.price_vs}" for leg in legs if leg.price_vs]
    return " · ".join(parts) + (f"; {'; '.join(priced)}" if priced else "")
