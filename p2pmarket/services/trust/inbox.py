"""The inbox: what needs a person, gathered in one list with its read state.

Nothing is written into it when a listing, a message or an order step is written. It
gathers when its person looks (`gather`): the messages and offer lines sent to them and
the steps others took on their orders since its cursor (the records already hold them),
the price drops and sales of the listings they watch, and the new listings their saved
searches find, each search run over only the listings added since its last look
(search.find_new). Deadlines soon and slot reminders come from the market's tick
(services/money/orders/timers.py, `add`). Each item has a key, so it is written once.

Messages of one conversation gather into one item while it is unread, and reading the
conversation (chat) reads its item too. Opening an item reads it; `read_all` reads all.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields

from sqlalchemy import String, cast, func, update
from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, or_, select

from p2pmarket import money, text
from p2pmarket.clock import Clock
from p2pmarket.errors import Invalid, Refused
from p2pmarket.models import (
    Condition,
    Conversation,
    InboxCursor,
    InboxItem,
    InboxKind,
    Kind,
    Listing,
    ListingStatus,
    Message,
    MessageKind,
    Offer,
    Order,
    OrderEvent,
    SavedSearch,
    User,
    Watch,
)
from p2pmarket.services.market import search

TEXT_MAX = 300
LIST_MAX = 200
SAVED_MAX = 50
WATCHES_MAX = 200
# New listings told per saved search per look (the nearest); the rest are counted.
HITS_PER_LOOK = 20
NAME_MAX = 40


@dataclass(frozen=True)
class ItemView:
    id: int
    kind: str
    text: str
    ref_kind: str
    ref_id: int
    at: int
    read: bool
    # Who a conversation or an offer is with (opening it shows your chat with them).
    other: str | None = None

    def to_json(self) -> dict:
        return {
            "id": self.id,
            "kind": self.kind,
            "text": self.text,
            "ref": {"kind": self.ref_kind, "id": self.ref_id, "other": self.other},
            "at": self.at,
            "read": self.read,
        }


@dataclass(frozen=True)
class InboxView:
    items: tuple[ItemView, ...]
    unread: int

    def to_json(self) -> dict:
        return {"items": [i.to_json() for i in self.items], "unread": self.unread}


@dataclass(frozen=True)
class SavedView:
    name: str
    text: str
    radius_km: float
    filters: dict
    created_at: int
    # Its hits in my inbox not yet seen (gathered, unread; opening the search sees them).
    new_hits: int = 0

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class OpenedSearch:
    """A saved search to run again: its query, where it is centred when not at home
    ("LAT,LON"), and the listings it found since my last look (newest first)."""

    name: str
    query: search.Query
    near: str | None
    new: tuple[int, ...]


@dataclass(frozen=True)
class WatchView:
    listing_id: int
    title: str
    price: int
    status: str
    since: int

    def to_json(self) -> dict:
        return asdict(self)


# -- writing items --------------------------------------------------------------------------


def _short(body: str) -> str:
    first = (body.splitlines() or [""])[0]
    return text.strip_controls(first)[:TEXT_MAX]


def add(
    session: Session,
    user_id: int,
    kind: InboxKind,
    what: str,
    ref: tuple[str, int],
    at: int,
    key: str,
) -> bool:
    """Put an item in `user_id`'s inbox unless one with `key` is there; whether it was new."""
    if _has(session, user_id, key):
        return False
    try:
        with session.begin_nested():
            session.add(
                InboxItem(
                    user_id=user_id,
                    kind=str(kind),
                    text=_short(what),
                    ref_kind=ref[0],
                    ref_id=ref[1],
                    at=at,
                    key=key[:80],
                )
            )
    except IntegrityError:  # written meanwhile by another gatherer: once is enough
        return False
    return True


def _has(session: Session, user_id: int, key: str) -> bool:
    found = session.exec(
        select(InboxItem.id).where(InboxItem.user_id == user_id, InboxItem.key == key[:80])
    ).first()
    return found is not None


def existing_keys(session: Session, pairs: list[tuple[int, str]]) -> set[tuple[int, str]]:
    """Which (person, key) pairs already have their item."""
    if not pairs:
        return set()
    users = {u for u, _ in pairs}
    keys = {k for _, k in pairs}
    rows = session.exec(
        select(InboxItem.user_id, InboxItem.key).where(
            col(InboxItem.user_id).in_(users), col(InboxItem.key).in_(keys)
        )
    ).all()
    return {(u, k) for u, k in rows} & set(pairs)


# -- gathering ------------------------------------------------------------------------------


def _cursor(session: Session, user_id: int) -> InboxCursor:
    cursor = session.get(InboxCursor, user_id)
    if cursor is None:
        cursor = InboxCursor(user_id=user_id)
        session.add(cursor)
    return cursor


def anything_new(session: Session, user: User) -> bool:
    """A cheap read: would `gather` find something (so a face looking often writes only
    then)? Index probes on messages, events, listings and the person's watches."""
    cursor = session.get(InboxCursor, user.id) or InboxCursor(user_id=user.id)
    newest_message = session.exec(
        select(func.max(Message.id)).where(Message.to_id == user.id)
    ).one()
    if (newest_message or 0) > cursor.message_id:
        return True
    newest_event = session.exec(select(func.max(OrderEvent.id))).one()
    if (newest_event or 0) > cursor.event_id and _new_events(session, user.id, cursor, limit=1):
        return True
    seen = session.exec(
        select(func.min(SavedSearch.seen_id)).where(SavedSearch.user_id == user.id)
    ).one()
    if seen is not None and (session.exec(select(func.max(Listing.id))).one() or 0) > seen:
        return True
    return bool(_watch_changes(session, user.id)) or bool(_read_elsewhere(session, user.id))


def gather(session: Session, clock: Clock, user: User) -> int:
    """Bring `user`'s inbox up to date; how many new items it got."""
    cursor = _cursor(session, user.id)
    added = _gather_messages(session, user, cursor)
    added += _gather_events(session, user, cursor)
    added += _gather_watches(session, user)
    added += _gather_searches(session, user)
    for item in _read_elsewhere(session, user.id):
        item.read = True
        session.add(item)
    session.add(cursor)
    return added


def _gather_messages(session: Session, user: User, cursor: InboxCursor) -> int:
    rows = session.exec(
        select(Message)
        .where(Message.to_id == user.id, Message.id > cursor.message_id)
        .order_by(col(Message.id))
    ).all()
    if not rows:
        return 0
    cursor.message_id = rows[-1].id
    handles = _handles(session, {m.sender_id for m in rows})
    offers = dict(
        session.exec(
            select(Offer.message_id, Offer.id).where(
                col(Offer.message_id).in_([m.id for m in rows])
            )
        ).all()
    )
    added = 0
    for m in rows:
        if m.kind == MessageKind.request:
            continue  # the order it opened tells it (its first event)
        if m.kind == MessageKind.offer:
            if m.id in offers:
                ref = ("offer", offers[m.id])
            elif m.order_id is not None:
                ref = ("order", m.order_id)
            else:
                ref = ("conversation", m.conversation_id)
            added += add(session, user.id, InboxKind.offer, m.body, ref, m.at, f"line:{m.id}")
            continue
        added += _message_item(session, user, m, handles[m.sender_id])
    return added


def _message_item(session: Session, user: User, m: Message, sender: str) -> int:
    """A new line of a conversation takes the place of its unread item (one per
    conversation while unread, the newest line, as a new item: a face tells it)."""
    stale = session.exec(
        select(InboxItem).where(
            InboxItem.user_id == user.id,
            InboxItem.kind == InboxKind.message,
            InboxItem.ref_id == m.conversation_id,
            col(InboxItem.read).is_(False),
        )
    ).all()
    what = f"@{sender}: {_short(m.body)}"
    conv = ("conversation", m.conversation_id)
    added = add(session, user.id, InboxKind.message, what, conv, m.at, f"line:{m.id}")
    # Deleted after the new one is in: SQLite would give a deleted last id to the next row,
    # and faces tell the items newer than the last id they saw.
    for item in stale:
        session.delete(item)
    return added


def _read_elsewhere(session: Session, user_id: int) -> list[InboxItem]:
    """Unread message items whose conversation was read (in the chat) since."""
    items = session.exec(
        select(InboxItem).where(
            InboxItem.user_id == user_id,
            InboxItem.kind == InboxKind.message,
            col(InboxItem.read).is_(False),
        )
    ).all()
    done = []
    for item in items:
        conv = session.get(Conversation, item.ref_id)
        read_id = conv.a_read_id if conv.a_id == user_id else conv.b_read_id
        newer = session.exec(
            select(Message.id)
            .where(
                Message.conversation_id == conv.id,
                Message.to_id == user_id,
                Message.id > read_id,
            )
            .limit(1)
        ).first()
        if newer is None:
            done.append(item)
    return done


def _new_events(session: Session, user_id: int, cursor: InboxCursor, limit: int | None = None):
    query = (
        select(OrderEvent, Order)
        .join(Order, col(Order.id) == col(OrderEvent.order_id))
        .where(
            OrderEvent.id > cursor.event_id,
            or_(Order.buyer_id == user_id, Order.seller_id == user_id),
            or_(col(OrderEvent.actor_id).is_(None), OrderEvent.actor_id != user_id),
        )
        .order_by(col(OrderEvent.id))
    )
    return session.exec(query.limit(limit) if limit else query).all()


def _gather_events(session: Session, user: User, cursor: InboxCursor) -> int:
    newest = session.exec(select(func.max(OrderEvent.id))).one() or 0
    if newest <= cursor.event_id:
        return 0
    rows = _new_events(session, user.id, cursor)
    cursor.event_id = newest
    handles = _handles(session, {e.actor_id for e, _ in rows if e.actor_id is not None})
    added = 0
    for event, order in rows:
        who = handles.get(event.actor_id)
        what = event_text(
            order.id, order.title, event.from_status, event.to_status, who, event.note
        )
        ref = ("order", order.id)
        added += add(session, user.id, InboxKind.order, what, ref, event.at, f"event:{event.id}")
    return added


# What the other side does next after a step, said in the item.
_NEXT = {
    "requested": "accept or decline it",
    "accepted": "pay it",
    "paid": "deliver it",
    "delivered": "confirm it",
}


def event_text(order_id: int, title: str, src: str, dst: str, who: str | None, note: str) -> str:
    """One step on an order as the other side reads it."""
    name = f"order #{order_id} ({text.strip_controls(title)[:60]})"
    if src == dst:
        return f"{name[0].upper()}{name[1:]}: {note}"
    if who is not None and dst in _NEXT:
        if not src:
            what = f"{text.strip_controls(title)[:60]} (order #{order_id})"
            return f"@{who} ordered {what}: {_NEXT[dst]}."
        return f"@{who} {dst} {name}: {_NEXT[dst]}."
    by = f" by @{who}" if who else ""
    state = dst.replace("_", " ")
    return f"{name[0].upper()}{name[1:]} is {state}{by}" + (f": {note}." if note else ".")


def _watch_changes(session: Session, user_id: int) -> list[tuple[Watch, Listing]]:
    return session.exec(
        select(Watch, Listing)
        .join(Listing, col(Listing.id) == col(Watch.listing_id))
        .where(
            Watch.user_id == user_id,
            # The listing's status is an enum type on PostgreSQL, the watch's plain text.
            or_(Listing.price != Watch.price, cast(Listing.status, String) != Watch.status),
        )
    ).all()


def _gather_watches(session: Session, user: User) -> int:
    added = 0
    for watch, listing in _watch_changes(session, user.id):
        name = f"Listing #{listing.id} {text.strip_controls(listing.title)[:80]}"
        ref, at = ("listing", listing.id), listing.updated_at
        if listing.price < watch.price:
            was, now = money.fmt(watch.price), money.fmt(listing.price)
            what = f"{name}: price dropped from {was} to {now}."
            key = f"drop:{listing.id}:{listing.price}:{at}"
            added += add(session, user.id, InboxKind.price_drop, what, ref, at, key)
        if listing.status == ListingStatus.sold_out and watch.status != ListingStatus.sold_out:
            key = f"sold:{listing.id}:{at}"
            added += add(session, user.id, InboxKind.sold, f"{name} sold out.", ref, at, key)
        watch.price, watch.status = listing.price, str(listing.status)
        session.add(watch)
    return added


def _gather_searches(session: Session, user: User) -> int:
    newest = session.exec(select(func.max(Listing.id))).one() or 0
    saved = session.exec(
        select(SavedSearch).where(SavedSearch.user_id == user.id, SavedSearch.seen_id < newest)
    ).all()
    if not saved:
        return 0
    found, last = search.find_new(session, user, [(saved_query(s.query), s.seen_id) for s in saved])
    added = 0
    for s, hits in zip(saved, found, strict=True):
        s.seen_id = max(s.seen_id, last)
        session.add(s)
        hits = hits[:HITS_PER_LOOK]
        listed = _listed_at(session, [c.id for c in hits])
        for c in hits:
            what = (
                f"New for '{s.name}': #{c.id} {text.strip_controls(c.title)[:80]}, "
                f"{money.fmt(c.price)}/{c.unit}, {search.fmt_km(c.km)}"
            )
            ref, key = ("listing", c.id), f"hit:{s.id}:{c.id}"
            added += add(session, user.id, InboxKind.search, what, ref, listed[c.id], key)
    return added


def _listed_at(session: Session, ids: list[int]) -> dict[int, int]:
    if not ids:
        return {}
    query = select(Listing.id, Listing.created_at).where(col(Listing.id).in_(ids))
    return dict(session.exec(query).all())


# -- reading --------------------------------------------------------------------------------


def _handles(session: Session, ids: set[int]) -> dict[int, str]:
    if not ids:
        return {}
    return dict(session.exec(select(User.id, User.handle).where(col(User.id).in_(ids))).all())


def unread(session: Session, user_id: int) -> int:
    return session.exec(
        select(func.count())
        .select_from(InboxItem)
        .where(InboxItem.user_id == user_id, col(InboxItem.read).is_(False))
    ).one()


def inbox(session: Session, user: User, *, unread_only: bool = False) -> InboxView:
    """The newest items first (unread ones only if asked), and how many are unread."""
    query = select(InboxItem).where(InboxItem.user_id == user.id)
    if unread_only:
        query = query.where(col(InboxItem.read).is_(False))
    rows = session.exec(
        query.order_by(col(InboxItem.at).desc(), col(InboxItem.id).desc()).limit(LIST_MAX)
    ).all()
    others = _others(session, user.id, rows)
    items = tuple(_view(r, others.get((r.ref_kind, r.ref_id))) for r in rows)
    return InboxView(items, unread(session, user.id))


def _others(session: Session, me: int, rows: list[InboxItem]) -> dict[tuple[str, int], str]:
    """Who each conversation or offer item is with: whose chat opening it shows."""
    convs = [r.ref_id for r in rows if r.ref_kind == "conversation"]
    offers = [r.ref_id for r in rows if r.ref_kind == "offer"]
    pairs = [
        (("conversation", i), a, b)
        for i, a, b in session.exec(
            select(Conversation.id, Conversation.a_id, Conversation.b_id).where(
                col(Conversation.id).in_(convs)
            )
        ).all()
    ] + [
        (("offer", i), a, b)
        for i, a, b in session.exec(
            select(Offer.id, Offer.buyer_id, Offer.seller_id).where(col(Offer.id).in_(offers))
        ).all()
    ]
    handles = _handles(session, {b if a == me else a for _, a, b in pairs})
    return {ref: handles[b if a == me else a] for ref, a, b in pairs}


def newest_id(session: Session, user_id: int) -> int:
    found = session.exec(select(func.max(InboxItem.id)).where(InboxItem.user_id == user_id)).one()
    return found or 0


def since(session: Session, user: User, item_id: int) -> list[ItemView]:
    """The unread items newer than `item_id`, newest first."""
    rows = session.exec(
        select(InboxItem)
        .where(
            InboxItem.user_id == user.id,
            InboxItem.id > item_id,
            col(InboxItem.read).is_(False),
        )
        .order_by(col(InboxItem.id).desc())
        .limit(LIST_MAX)
    ).all()
    return [_view(r) for r in rows]


def _view(r: InboxItem, other: str | None = None) -> ItemView:
    return ItemView(r.id, r.kind, r.text, r.ref_kind, r.ref_id, r.at, r.read, other)


def read(session: Session, user: User, item_id: int) -> ItemView:
    """Open an item: it is read from now on."""
    item = session.get(InboxItem, item_id)
    if item is None or item.user_id != user.id:
        raise Invalid("unknown_item", f"No item #{item_id} in your inbox.")
    item.read = True
    session.add(item)
    return _view(item)


def read_all(session: Session, user: User) -> int:
    """Mark every item read; how many were unread."""
    count = unread(session, user.id)
    session.exec(
        update(InboxItem)
        .where(InboxItem.user_id == user.id, col(InboxItem.read).is_(False))
        .values(read=True)
    )
    return count


# -- saved searches -------------------------------------------------------------------------

# The parts of a query a saved search keeps (the page is not one of them).
_KEPT = tuple(f.name for f in fields(search.Query) if f.name not in ("page", "page_size"))


def saved_query(stored: str) -> search.Query:
    saved = json.loads(stored)
    saved["kind"] = Kind(saved["kind"]) if saved.get("kind") else None
    saved["condition"] = Condition(saved["condition"]) if saved.get("condition") else None
    saved["sort"] = search.parse_sort(saved.get("sort") or "best")
    return search.Query(**{k: v for k, v in saved.items() if k in _KEPT})


def _stored(query: search.Query) -> str:
    kept = {k: getattr(query, k) for k in _KEPT}
    for k in ("kind", "condition", "sort"):
        kept[k] = str(kept[k]) if kept[k] is not None else None
    return json.dumps(kept, ensure_ascii=False, sort_keys=True)


def _saved_view(row: SavedSearch, new_hits: int = 0) -> SavedView:
    q = json.loads(row.query)
    filters = {
        k: v
        for k, v in q.items()
        if k not in ("text", "radius_km", "lat", "lon") and v is not None and k != "sort"
    }
    return SavedView(row.name, q["text"], q["radius_km"], filters, row.created_at, new_hits)


def _unread_hits(session: Session, user_id: int) -> dict[int, list[InboxItem]]:
    """My unread saved-search hits, by the saved search that found them (its id is in the
    item's key, `hit:SEARCH:LISTING`)."""
    rows = session.exec(
        select(InboxItem)
        .where(
            InboxItem.user_id == user_id,
            InboxItem.kind == InboxKind.search,
            col(InboxItem.read).is_(False),
        )
        .order_by(col(InboxItem.at).desc(), col(InboxItem.id).desc())
    ).all()
    found: dict[int, list[InboxItem]] = {}
    for item in rows:
        found.setdefault(int(item.key.split(":")[1]), []).append(item)
    return found


def _room(session: Session, model, user_id: int, most: int, full: Refused) -> None:
    """Refuse with `full` when the person already has `most` rows of `model`."""
    count = session.exec(
        select(func.count()).select_from(model).where(model.user_id == user_id)
    ).one()
    if count >= most:
        raise full


def save_search(
    session: Session, clock: Clock, user: User, name: str, query: search.Query
) -> SavedView:
    """Save `query` (its place already filled in) as `name`; hits are listings added from
    now on. The same name again replaces the search."""
    name = text.clean(name, field="search name", max_len=NAME_MAX)
    query = search.check_query(query)
    row = session.exec(
        select(SavedSearch).where(SavedSearch.user_id == user.id, SavedSearch.name == name)
    ).first()
    if row is None:
        _room(
            session,
            SavedSearch,
            user.id,
            SAVED_MAX,
            Refused(
                "too_many_saved",
                f"You have {SAVED_MAX} saved searches, the most there may be: drop one first.",
            ),
        )
        newest = session.exec(select(func.max(Listing.id))).one() or 0
        row = SavedSearch(user_id=user.id, name=name, seen_id=newest, created_at=clock.now())
    row.query = _stored(query)
    session.add(row)
    session.flush()
    return _saved_view(row)


def saved_searches(session: Session, user: User) -> list[SavedView]:
    """My saved searches by name, each with how many of its hits I have not seen."""
    rows = session.exec(
        select(SavedSearch).where(SavedSearch.user_id == user.id).order_by(col(SavedSearch.name))
    ).all()
    hits = _unread_hits(session, user.id)
    return [_saved_view(r, len(hits.get(r.id, ()))) for r in rows]


def _saved_row(session: Session, user: User, name: str) -> SavedSearch:
    row = session.exec(
        select(SavedSearch).where(SavedSearch.user_id == user.id, SavedSearch.name == name)
    ).first()
    if row is None:
        raise Invalid(
            "unknown_saved_search",
            f"You have no saved search named {text.strip_controls(name)[:NAME_MAX]!r}.",
        )
    return row


def open_saved(session: Session, user: User, name: str) -> OpenedSearch:
    """Run a saved search again: its query, and its unseen hits, read from now on."""
    row = _saved_row(session, user, name)
    query = saved_query(row.query)
    near = None if (query.lat, query.lon) == (user.lat, user.lon) else f"{query.lat},{query.lon}"
    new = _unread_hits(session, user.id).get(row.id, [])
    for item in new:
        item.read = True
        session.add(item)
    return OpenedSearch(row.name, query, near, tuple(i.ref_id for i in new))


def unsave(session: Session, user: User, name: str) -> SavedView:
    row = _saved_row(session, user, name)
    view = _saved_view(row)
    session.delete(row)
    return view


# -- watched listings -----------------------------------------------------------------------


def watch(session: Session, clock: Clock, user: User, listing_id: int) -> WatchView:
    """Watch a listing: a price drop or its selling out comes to the inbox."""
    listing = session.get(Listing, listing_id)
    if listing is None or listing.status == ListingStatus.removed:
        raise Invalid("unknown_listing", f"No listing #{listing_id}.")
    if listing.seller_id == user.id:
        raise Refused("own_listing", "You can't watch your own listing.")
    row = session.get(Watch, (user.id, listing_id))
    if row is None:
        full = Refused(
            "too_many_watches",
            f"You watch {WATCHES_MAX} listings, the most there may be: unwatch one first.",
        )
        _room(session, Watch, user.id, WATCHES_MAX, full)
        row = Watch(
            user_id=user.id,
            listing_id=listing_id,
            price=listing.price,
            status=str(listing.status),
            created_at=clock.now(),
        )
        session.add(row)
    return WatchView(listing.id, listing.title, listing.price, str(listing.status), row.created_at)


def unwatch(session: Session, user: User, listing_id: int) -> None:
    row = session.get(Watch, (user.id, listing_id))
    if row is None:
        raise Invalid("not_watching", f"You don't watch listing #{listing_id}.")
    session.delete(row)


def watches(session: Session, user: User) -> list[WatchView]:
    rows = session.exec(
        select(Watch, Listing)
        .join(Listing, col(Listing.id) == col(Watch.listing_id))
        .where(Watch.user_id == user.id)
        .order_by(col(Watch.created_at).desc(), col(Watch.listing_id))
    ).all()
    return [
        WatchView(lst.id, lst.title, lst.price, str(lst.status), w.created_at) for w, lst in rows
    ]
