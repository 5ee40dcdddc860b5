"""The shop and the catalog: listings, search, suggested prices, the home view.

`ShopCases` holds what a person does (their shop, their searches, their home); the
functions below it need nobody logged in (browsing listings, the categories, the index).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING

from p2pmarket.errors import Invalid
from p2pmarket.market.base import ActorBase
from p2pmarket.models import Condition, Kind, ListingStatus, Unit, User
from p2pmarket.services.market import availability, catalog, photos, pricing, search, shops
from p2pmarket.services.money import attention, ledger
from p2pmarket.services.trust import accounts, chat, feedback, inbox, offers, privacy

if TYPE_CHECKING:
    from sqlmodel import Session

    from p2pmarket.market import Market

# The home view lists the shop and the open orders whole; a shop is small.
HOME_LISTINGS_MAX = 1000
HOME_CHATS_MAX = 50


@dataclass(frozen=True)
class Listed:
    """A listing just added, and how its price compares with the suggested band nearby."""

    listing: shops.ListingView
    suggestion: pricing.Suggestion
    # low, fair or high; None: no comparables to judge by.
    verdict: str | None


@dataclass(frozen=True)
class ListingPage:
    """A listing with what its seller published (as this viewer may see it) and reviews."""

    listing: shops.ListingView
    seller: privacy.PublicProfile
    reviews: tuple[feedback.ReviewView, ...]
    # Its own band around the viewer, as its search row compares it.
    price: pricing.Suggestion | None = None
    # When it can be booked (a skill or time by the slot), or None: ordered as a whole.
    hours: availability.Hours | None = None
    # Price firm or open to offers (and, for its seller only, the floor).
    policy: offers.OfferPolicy | None = None


@dataclass(frozen=True)
class Nearby:
    """A page of nearby results and the query as searched (its centre filled in).

    With a map asked for, where each result lies in whole steps of `step_km` (east,
    north): a map, never a spot.
    """

    query: search.Query
    results: search.Results
    step_km: float = 0.0
    offsets: dict[int, tuple[int, int]] = field(default_factory=dict)


@dataclass(frozen=True)
class HomeView:
    """Home: my shop, my wallet, and what needs me now."""

    shop: tuple[shops.ListingView, ...]
    balance: int
    orders: tuple[attention.Waiting, ...]
    unread: tuple[chat.ConversationSummary, ...]
    deadlines: tuple[attention.Deadline, ...]
    reminders: tuple[attention.Reminder, ...] = ()
    # Unread items in my inbox (as far as it was gathered: the TUI looks every few seconds).
    inbox_unread: int = 0

    @property
    def waiting_on_me(self) -> int:
        return sum(1 for w in self.orders if w.steps)

    @property
    def unread_messages(self) -> int:
        return sum(c.unread for c in self.unread)


def centre(me: User, near: str | None, area: str | None) -> tuple[float, float, str]:
    """Where a search or a price band is centred, and what to call it: home by default."""
    if near is not None and area is not None:
        raise Invalid("centre_twice", "Give --near or --area, not both.")
    if near is not None:
        lat, lon = search.parse_near(near)
        return lat, lon, f"{lat:.3f},{lon:.3f}"
    if area is not None:
        place = catalog.area(area)
        return place.lat, place.lon, place.slug
    return me.lat, me.lon, "home"


def _map_step_km(radius_km: float, steps: int) -> float:
    """A map `steps` wide from the centre to its edge, never finer than privacy allows."""
    return round(max(radius_km / steps, privacy.MAP_STEP_MIN_KM), 2)


class ShopCases(ActorBase):
    """The shop use cases of `market.Actor`."""

    # -- my shop ---------------------------------------------------------------------------

    def add_listing(
        self,
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
    ) -> Listed:
        """List something in my shop; its price is judged against the band around my home."""
        clock = self.market.clock

        def work(session: Session, me: User):
            view = shops.add_listing(
                session,
                clock,
                me,
                kind=kind,
                title=title,
                category=category,
                price=price,
                unit=unit,
                description=description,
                quantity=quantity,
                condition=condition,
                deposit=deposit,
            )
            guide = pricing.suggest(
                session,
                clock,
                category=view.category,
                unit=view.unit,
                lat=me.lat,
                lon=me.lon,
                title=view.title,
                condition=view.condition,
                exclude_listing=view.id,
            )
            return Listed(view, guide, pricing.verdict(view.price, guide))

        return self._write(work)

    def edit_listing(
        self,
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
    ) -> shops.ListingView:
        """Change a listing of mine (None: leave as is)."""

        def work(session: Session, me: User):
            return shops.edit_listing(
                session,
                self.market.clock,
                me,
                listing_id,
                title=title,
                description=description,
                price=price,
                quantity=quantity,
                category=category,
                unit=unit,
                condition=condition,
                deposit=deposit,
            )

        return self._write(work)

    def add_photos(self, listing_id: int, paths: list[Path]) -> tuple[photos.PhotoView, ...]:
        """Add photos from files to a listing of mine: each decoded, stripped of metadata,
        resized and stored by its hash (or refused in one sentence); all its photos after."""
        with self._read() as (session, me):
            shops.own_listing(session, me, listing_id)  # before decoding anything
        made = photos.prepare_all(paths)
        for prepared in made:
            photos.store_files(self.market.config.photo_dir, prepared)

        def work(session: Session, me: User):
            return photos.attach(session, self.market.clock, me, listing_id, made)

        return tuple(self._write(work))

    def remove_photo(self, listing_id: int, which: str) -> photos.PhotoView:
        """Remove a photo of a listing of mine (its number, or the start of its sha256); its
        file goes too once no listing shows it."""

        def work(session: Session, me: User):
            return photos.detach(session, me, listing_id, which)

        removed, unused = self._write(work)
        if unused:
            photos.delete_files(self.market.config.photo_dir, removed)
        return removed

    def move_listing(self, listing_id: int, move: str) -> shops.ListingView:
        """pause, resume or remove a listing of mine."""

        def work(session: Session, me: User):
            return shops.change_status(session, self.market.clock, me, listing_id, move)

        return self._write(work)

    def pause_or_resume(self, listing_id: int) -> shops.ListingView:
        """Resume a paused listing of mine, pause any other."""

        def work(session: Session, me: User):
            return shops.pause_or_resume(session, self.market.clock, me, listing_id)

        return self._write(work)

    def home(self) -> HomeView:
        """My shop (without what I removed), my balance, open orders (those waiting on me
        first), conversations with unread messages, and every running deadline."""
        with self._read() as (session, me):
            listings = shops.list_listings(session, seller=me.handle, limit=HOME_LISTINGS_MAX)
            balance = ledger.balance(session, me.id)
            waiting = attention.my_open_orders(session, me)
            chats = chat.list_conversations(session, me, limit=HOME_CHATS_MAX)
            unread = inbox.unread(session, me.id)
        now = self.market.clock.now()
        return HomeView(
            shop=tuple(v for v in listings if v.status != "removed"),
            balance=balance,
            orders=tuple(waiting),
            unread=tuple(c for c in chats if c.unread),
            deadlines=tuple(attention.deadlines([w.order for w in waiting], now)),
            reminders=tuple(attention.reminders([w.order for w in waiting], now)),
            inbox_unread=unread,
        )

    # -- finding things --------------------------------------------------------------------

    def search(
        self,
        query: search.Query,
        *,
        near: str | None = None,
        area: str | None = None,
        finished: bool = True,
        map_steps: int | None = None,
    ) -> Nearby:
        """One page of listings near my home (or `near` LAT,LON, or an `area`).

        `finished` False: the page alone, found fast; `finish` adds the slower part (each
        price against its band, how far the nearest match is when nothing was found).
        `map_steps`: where the results lie on a map that many steps from its centre to
        its edge.
        """
        query = search.check_query(query)
        with self._read() as (session, me):
            # Listings written by other paths wait in a queue: indexed before a search reads
            # (asked in the search's own read: typing pays for one transaction, not two).
            if not search.pending(session):
                return _nearby(
                    session, self.market.clock, me, query, near, area, finished, map_steps
                )
        self.market.store.transact(search.catch_up)
        with self._read() as (session, me):
            return _nearby(session, self.market.clock, me, query, near, area, finished, map_steps)

    def finish(self, found: Nearby, *, cancelled: Callable[[], bool] | None = None) -> Nearby:
        """A page found without its slower part (`search(finished=False)`), finished.

        `cancelled` is asked between rows: once it says yes (a newer keystroke searches),
        the pass stops there and raises `errors.Superseded`, so it no longer takes the CPU
        from the next search.
        """
        with self._read() as (session, me):
            results = search.finish(
                session, self.market.clock, me, found.query, found.results, cancelled=cancelled
            )
        return replace(found, results=results)

    def suggest_price(
        self,
        category: str,
        unit: Unit,
        *,
        title: str = "",
        condition: Condition | None = None,
        near: str | None = None,
        area: str | None = None,
        exclude_listing: int | None = None,
    ) -> pricing.Suggestion:
        """The fair band for an item (its title, category, unit and condition) around my
        home (or `near` / `area`); `exclude_listing`: the listing being edited does not
        vote on its own price."""
        catalog.category(category)  # an unknown category is the first thing to hear about
        with self._read() as (session, me):
            lat, lon, _ = centre(me, near, area)
            return pricing.suggest(
                session,
                self.market.clock,
                category=category,
                unit=unit,
                lat=lat,
                lon=lon,
                title=title,
                condition=condition,
                exclude_listing=exclude_listing,
            )

    def suggest_listing_price(
        self, listing_id: int, *, near: str | None = None, area: str | None = None
    ) -> pricing.Suggestion:
        """A listing's own band around my home (or `near` / `area`): its title, category,
        unit and condition, without its own vote; what its page and its search row show."""
        with self._read() as (session, me):
            shops.listing_row(session, listing_id)  # an unknown listing is refused first
            lat, lon, _ = centre(me, near, area)
            return pricing.suggest_listings(
                session, self.market.clock, [listing_id], lat=lat, lon=lon
            )[listing_id]

    def listing_page(self, listing_id: int) -> ListingPage:
        """A listing and its seller as I may see them: published facts, badges, reviews."""
        with self._read() as (session, me):
            listing = _with_photos(session, shops.get_listing(session, listing_id))
            seller = accounts.user_row(session, listing.seller)
            profile = privacy.public_profile(session, me.id, seller.id, self.market.clock)
            reviews = feedback.reviews_of(session, seller.id, limit=10)
            band = pricing.suggest_listings(
                session, self.market.clock, [listing_id], lat=me.lat, lon=me.lon
            )[listing_id]
            hours = availability.hours_of(session, listing_id, self.market.settings.zone)
            policy = offers.policy(session, me, listing_id)
        return ListingPage(listing, profile, tuple(reviews), price=band, hours=hours, policy=policy)


# -- nobody logged in ----------------------------------------------------------------------


def listings(
    market: Market,
    *,
    seller: str | None = None,
    status: ListingStatus | None = None,
    limit: int = 100,
    offset: int = 0,
) -> list[shops.ListingView]:
    """Listings, oldest first: one seller's shop, or one status, or all."""
    with market.store.read() as session:
        return shops.list_listings(
            session, seller=seller, status=status, limit=limit, offset=offset
        )


def listing(market: Market, listing_id: int) -> shops.ListingView:
    """One listing, with its photos."""
    with market.store.read() as session:
        return _with_photos(session, shops.get_listing(session, listing_id))


def _with_photos(session: Session, view: shops.ListingView) -> shops.ListingView:
    return replace(view, photos=photos.photos_of(session, view.id))


def photo_file(market: Market, photo: photos.PhotoView, *, thumb: bool = False) -> Path:
    """Where a listing photo's file is (what the TUI draws)."""
    return photos.path_of(market.config.photo_dir, photo.thumb_sha256 if thumb else photo.sha256)


def categories() -> list[catalog.Category]:
    """The categories, their kinds, units and price guides (data, no store)."""
    return list(catalog.categories().values())


def reindex(market: Market, progress: Callable[[int, int], None] | None = None) -> int:
    """Rebuild the search index from the listings (derived data); how many were indexed."""

    def work(session: Session):
        return search.rebuild(session, progress=progress)

    return market.store.transact(work)


def _nearby(
    session: Session,
    clock,
    me: User,
    query: search.Query,
    near: str | None,
    area: str | None,
    finished: bool,
    map_steps: int | None,
) -> Nearby:
    lat, lon, place = centre(me, near, area)
    query = replace(query, lat=lat, lon=lon)
    results = search.search(session, clock, me, query, centre=place, finished=finished)
    if map_steps is None:
        return Nearby(query, results)
    step_km = _map_step_km(query.radius_km, map_steps)
    offsets = privacy.rough_offsets(session, me, [h.id for h in results.hits], step_km)
    return Nearby(query, results, step_km, offsets)
