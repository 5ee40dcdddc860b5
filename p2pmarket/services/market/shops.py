"""Personal shops: listings of idle things, skills and time."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING

from sqlmodel import Session, col, select

from p2pmarket import money, text
from p2pmarket.clock import Clock
from p2pmarket.errors import Invalid, Refused
from p2pmarket.models import Condition, Kind, Listing, ListingStatus, Unit, User
from p2pmarket.services.market import availability, catalog, search

if TYPE_CHECKING:
    from p2pmarket.services.market.photos import PhotoView

QUANTITY_MAX = 10_000

# Which status changes a seller may make by hand (sold_out is set by orders).
_STATUS_MOVES: dict[str, tuple[set[ListingStatus], ListingStatus]] = {
    "pause": ({ListingStatus.active, ListingStatus.sold_out}, ListingStatus.paused),
    "resume": ({ListingStatus.paused}, ListingStatus.active),
    "remove": (
        {ListingStatus.active, ListingStatus.paused, ListingStatus.sold_out},
        ListingStatus.removed,
    ),
}


@dataclass(frozen=True)
class ListingView:
    id: int
    seller: str
    kind: str
    title: str
    description: str
    category: str
    unit: str
    price: int
    quantity: int
    status: str
    created_at: int
    updated_at: int
    # Goods only: new, like_new, good, fair or for_parts (None: not said).
    condition: str | None = None
    # Goods by the day: what a renter leaves in escrow until the thing is back.
    deposit: int | None = None
    # Filled where a listing is shown whole (services/market/photos.py), else empty.
    photos: tuple[PhotoView, ...] = ()

    @classmethod
    def of(cls, listing: Listing, seller: str) -> ListingView:
        return cls(
            id=listing.id,
            seller=seller,
            kind=str(listing.kind),
            title=listing.title,
            description=listing.description,
            category=listing.category,
            unit=str(listing.unit),
            price=listing.price,
            quantity=listing.quantity,
            status=str(listing.status),
            created_at=listing.created_at,
            updated_at=listing.updated_at,
            condition=listing.condition,
            deposit=listing.deposit,
        )

    @property
    def rentable(self) -> bool:
        """Goods by the day: rented for a period (availability.rentable)."""
        return availability.rentable(self)

    def to_json(self) -> dict:
        return asdict(self)


def parse_kind(value: str) -> Kind:
    try:
        return Kind(value.strip().lower())
    except ValueError:
        raise Invalid("kind_format", f"Kind {value[:20]!r} must be goods, skill or time.") from None


def parse_unit(value: str) -> Unit:
    try:
        return Unit(value.strip().lower())
    except ValueError:
        raise Invalid(
            "unit_format", f"Unit {value[:20]!r} must be item, hour, session or day."
        ) from None


def parse_condition(value: str) -> Condition:
    """'like-new', 'like new' or 'like_new' -> Condition.like_new."""
    folded = "_".join(value.strip().lower().replace("-", " ").replace("_", " ").split())
    try:
        return Condition(folded)
    except ValueError:
        raise Invalid(
            "condition_format",
            f"Condition {text.strip_controls(value)[:20]!r} must be new, like-new, good, fair "
            "or for-parts.",
        ) from None


def check_condition(kind: Kind, condition: Condition | None) -> Condition | None:
    """Only goods wear: a skill or time listed with a condition is refused."""
    if condition is not None and kind != Kind.goods:
        raise Invalid(
            "condition_goods_only",
            f"Condition is for goods; a {kind} listing has none (leave --condition out).",
        )
    return condition


def takes_deposit(kind: str, unit: str) -> bool:
    """Goods rented by the day (availability.rentable) take a deposit."""
    return kind == Kind.goods and unit == Unit.day


def check_deposit(kind: Kind, unit: Unit, deposit: int | None) -> int | None:
    """Only goods rented by the day take a deposit (0 asks none)."""
    if deposit is None:
        return None
    if not takes_deposit(kind, unit):
        raise Invalid(
            "deposit_rentals_only",
            f"A deposit is for goods rented by the day; a {kind} listing by the {unit} "
            "takes none (leave --deposit out).",
        )
    return money.check(deposit, allow_zero=True)


def parse_status(value: str) -> ListingStatus:
    try:
        return ListingStatus(value)
    except ValueError:
        raise Invalid(
            "status_format", f"Status {value!r} is not one of active, paused, sold_out, removed."
        ) from None


def check_quantity(quantity: int) -> int:
    if (
        isinstance(quantity, bool)
        or not isinstance(quantity, int)
        or not 1 <= quantity <= QUANTITY_MAX
    ):
        raise Invalid("quantity_range", f"Quantity must be a whole number 1..{QUANTITY_MAX:,}.")
    return quantity


def add_listing(
    session: Session,
    clock: Clock,
    seller: User,
    *,
    kind: Kind,
    title: str,
    category: str,
    price: int,
    unit: Unit,
    description: str = "",
    quantity: int = 1,
    condition: Condition | None = None,
    deposit: int | None = None,
) -> ListingView:
    cat = catalog.category(category)
    catalog.check_listing_shape(cat, kind, unit)
    condition = check_condition(kind, condition)
    deposit = check_deposit(kind, unit, deposit)
    now = clock.now()
    listing = Listing(
        seller_id=seller.id,
        kind=kind,
        title=text.clean(title, field="title", max_len=text.TITLE_MAX),
        description=text.clean(
            description,
            field="description",
            max_len=text.DESCRIPTION_MAX,
            multiline=True,
            required=False,
        ),
        category=cat.slug,
        unit=unit,
        price=money.check(price),
        quantity=check_quantity(quantity),
        condition=str(condition) if condition else None,
        deposit=deposit,
        lat=seller.public_lat,
        lon=seller.public_lon,
        created_at=now,
        updated_at=now,
    )
    session.add(listing)
    session.flush()
    search.catch_up(session)
    return ListingView.of(listing, seller.handle)


def listing_row(session: Session, listing_id: int) -> Listing:
    listing = session.get(Listing, listing_id)
    if listing is None:
        raise Invalid("unknown_listing", f"No listing #{listing_id}.")
    return listing


def own_listing(session: Session, seller: User, listing_id: int) -> Listing:
    listing = listing_row(session, listing_id)
    if listing.seller_id != seller.id:
        raise Refused("not_your_listing", f"Listing #{listing_id} belongs to another seller.")
    if listing.status == ListingStatus.removed:
        raise Refused("listing_removed", f"Listing #{listing_id} was removed; add a new one.")
    return listing


def edit_listing(
    session: Session,
    clock: Clock,
    seller: User,
    listing_id: int,
    *,
    title: str | None = None,
    description: str | None = None,
    price: int | None = None,
    quantity: int | None = None,
    category: str | None = None,
    unit: Unit | None = None,
    condition: Condition | None = None,
    deposit: int | None = None,
) -> ListingView:
    listing = own_listing(session, seller, listing_id)
    if condition is not None:
        listing.condition = str(check_condition(listing.kind, condition))
    if title is not None:
        listing.title = text.clean(title, field="title", max_len=text.TITLE_MAX)
    if description is not None:
        listing.description = text.clean(
            description,
            field="description",
            max_len=text.DESCRIPTION_MAX,
            multiline=True,
            required=False,
        )
    if price is not None:
        listing.price = money.check(price)
    if quantity is not None:
        listing.quantity = check_quantity(quantity)
        if listing.status == ListingStatus.sold_out:
            listing.status = ListingStatus.active
    if category is not None or unit is not None:
        cat = catalog.category(category or listing.category)
        catalog.check_listing_shape(cat, listing.kind, unit or listing.unit)
        listing.category, listing.unit = cat.slug, unit or listing.unit
    if deposit is not None:
        listing.deposit = check_deposit(listing.kind, listing.unit, deposit)
    listing.updated_at = clock.now()
    session.add(listing)
    search.catch_up(session)
    return ListingView.of(listing, seller.handle)


def change_status(
    session: Session, clock: Clock, seller: User, listing_id: int, move: str
) -> ListingView:
    allowed_from, target = _STATUS_MOVES[move]
    listing = own_listing(session, seller, listing_id)
    if listing.status not in allowed_from:
        raise Refused(
            "status_move", f"Listing #{listing_id} is {listing.status}; it can't {move} from there."
        )
    listing.status = target
    listing.updated_at = clock.now()
    session.add(listing)
    return ListingView.of(listing, seller.handle)


def pause_or_resume(session: Session, clock: Clock, seller: User, listing_id: int) -> ListingView:
    """One key for both: a paused listing resumes, any other pauses (or says why it can't)."""
    paused = listing_row(session, listing_id).status == ListingStatus.paused
    return change_status(session, clock, seller, listing_id, "resume" if paused else "pause")


def get_listing(session: Session, listing_id: int) -> ListingView:
    listing = listing_row(session, listing_id)
    seller = session.get(User, listing.seller_id)
    return ListingView.of(listing, seller.handle)


def list_listings(
    session: Session,
    *,
    seller: str | None = None,
    status: ListingStatus | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[ListingView]:
    query = select(Listing, User.handle).join(User, col(User.id) == col(Listing.seller_id))
    if seller is not None:
        query = query.where(User.handle == seller.strip().lower())
    if status is not None:
        query = query.where(Listing.status == status)
    query = query.order_by(col(Listing.id)).offset(offset).limit(limit)
    return [ListingView.of(listing, handle) for listing, handle in session.exec(query)]
