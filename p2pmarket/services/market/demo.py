"""Markets from data: the hand-written demo market, `load FILE`, and the seeded big market."""

from __future__ import annotations

import hashlib
import json
import math
import random
from collections.abc import Callable
from datetime import timedelta
from importlib import resources
from pathlib import Path

from sqlalchemy import func, insert
from sqlmodel import Session, col, select

from p2pmarket import files, geo, money
from p2pmarket.clock import DAY, HOUR, Clock, FixedClock
from p2pmarket.config import Settings
from p2pmarket.errors import Invalid, MarketError
from p2pmarket.models import (
    ChatMode,
    Condition,
    Kind,
    Listing,
    ListingStatus,
    Meta,
    Order,
    OrderStatus,
    Role,
    User,
)
from p2pmarket.services.market import (
    availability,
    catalog,
    conditions,
    demo_photos,
    search,
    shops,
)
from p2pmarket.services.money import ledger, orders
from p2pmarket.services.trust import accounts, chat, feedback, inbox, operators
from p2pmarket.store import ports
from p2pmarket.store.engine import Store

DEMO_KEY = "demo_loaded"
DEMO_USER = "demo"
# The demo market is 45 KB; a load file hundreds of times that is a mistake, not a market.
MARKET_FILE_MAX_BYTES = 16 * files.MIB
DEMO_PLACES_SEED = "demo-public-points"
Progress = Callable[[int, int], None]

_GIVEN = (
    "wei",
    "fang",
    "min",
    "jing",
    "lei",
    "yan",
    "hao",
    "li",
    "qiang",
    "xin",
    "yu",
    "ting",
    "jun",
    "hui",
    "bo",
    "na",
    "tao",
    "mei",
    "chen",
    "yi",
)
_FAMILY = (
    "wang",
    "li",
    "zhang",
    "liu",
    "chen",
    "yang",
    "zhao",
    "huang",
    "zhou",
    "wu",
    "xu",
    "sun",
    "hu",
    "zhu",
    "gao",
    "lin",
    "he",
    "guo",
    "ma",
    "luo",
)
_TAGS_EN = (
    "",
    "",
    "almost new",
    "weekend",
    "near metro",
    "flexible hours",
    "for beginners",
    "lightly used",
    "cheap",
    "evenings",
)
_TAGS_ZH = ("", "", "九成新", "周末", "近地铁", "时间灵活", "适合新手", "闲置", "便宜出", "晚上")


def demo_data() -> dict:
    text = resources.files("p2pmarket.data").joinpath("demo.json").read_text("utf-8")
    return json.loads(text)


def read_market_file(path: Path) -> dict:
    data = files.read_json(path, cap=MARKET_FILE_MAX_BYTES, what="market file (JSON)")
    lists = ("users", "listings")
    if not isinstance(data, dict) or not all(isinstance(data.get(k, []), list) for k in lists):
        raise Invalid("file_shape", f"{path} must be an object with 'users' and 'listings' lists.")
    if not any(data.get(k) for k in lists):
        raise Invalid("file_empty", f"{path} holds no users and no listings: nothing to load.")
    return data


def _field(entry: dict, name: str, kind: type, where: str, default=None):
    value = entry.get(name, default)
    if value is None:
        raise Invalid("file_field_missing", f"{where}: field {name!r} is missing.")
    if kind is float and isinstance(value, int) and not isinstance(value, bool):
        value = float(value)
    if not isinstance(value, kind) or (kind is int and isinstance(value, bool)):
        raise Invalid("file_field_type", f"{where}: field {name!r} must be {kind.__name__}.")
    return value


def load_market(
    session: Session,
    clock: Clock,
    data: dict,
    *,
    hash_profile: str,
    actor: User | None = None,
    place_rng: random.Random | None = None,
) -> dict:
    """Load users and listings through the same services as the CLI, all or nothing.

    Users join as anyone may; a file's roles and verified flags are the operator's acts,
    made by `actor` or, in a new market, by the operator the file itself brings (its
    first user, as for any new market). Anyone else's file is refused with nothing loaded.
    `place_rng` draws public points for made-up people only (the demo); the people of
    a file loaded with `p2pmarket load` may be real, so theirs are secret draws.
    """
    passphrase = data.get("passphrase", "")
    counts = {"users": 0, "listings": 0}
    users: dict[str, User] = {}
    grants: list[tuple[str, User, Role, bool]] = []
    for i, entry in enumerate(data.get("users", [])):
        where = f"users[{i}]"
        try:
            if not isinstance(entry, dict):
                raise Invalid("file_shape", "must be an object")
            role = operators.parse_role(_field(entry, "role", str, where, "member"))
            view = accounts.create_user(
                session,
                clock,
                handle=_field(entry, "handle", str, where),
                real_name=_field(entry, "name", str, where),
                passphrase=_field(entry, "passphrase", str, where, passphrase),
                lat=_field(entry, "lat", float, where),
                lon=_field(entry, "lon", float, where),
                area=entry.get("area"),
                bio=_field(entry, "bio", str, where, ""),
                hash_profile=hash_profile,
                place_rng=place_rng,
            )
        except MarketError as exc:
            raise type(exc)(exc.code, f"{where}: {exc.message}") from None
        users[view.handle] = session.get(User, view.id)
        grants.append((where, users[view.handle], role, bool(entry.get("verified", False))))
        counts["users"] += 1
    granter = actor
    if granter is None:
        brought = operators.operator(session)
        granter = brought if brought is not None and brought.handle in users else None
    for where, user, role, verified in grants:
        try:
            if verified:
                operators.verify_user(session, clock, granter, user)
            if role != Role.member:
                operators.set_role(session, clock, granter, user, role)
        except MarketError as exc:
            raise type(exc)(exc.code, f"{where}: {exc.message}") from None
    for i, entry in enumerate(data.get("listings", [])):
        where = f"listings[{i}]"
        try:
            if not isinstance(entry, dict):
                raise Invalid("file_shape", "must be an object")
            seller_handle = _field(entry, "seller", str, where)
            seller = users.get(seller_handle) or accounts.user_row(session, seller_handle)
            shops.add_listing(
                session,
                clock,
                seller,
                kind=shops.parse_kind(_field(entry, "kind", str, where)),
                title=_field(entry, "title", str, where),
                description=_field(entry, "description", str, where, ""),
                category=_field(entry, "category", str, where),
                price=_field(entry, "price", int, where),
                unit=shops.parse_unit(_field(entry, "unit", str, where)),
                quantity=_field(entry, "quantity", int, where, 1),
                condition=(
                    shops.parse_condition(_field(entry, "condition", str, where))
                    if "condition" in entry
                    else None
                ),
                deposit=_field(entry, "deposit", int, where) if "deposit" in entry else None,
            )
        except MarketError as exc:
            raise type(exc)(exc.code, f"{where}: {exc.message}") from None
        counts["listings"] += 1
    return counts


def demo_loaded(session: Session) -> bool:
    return session.get(Meta, DEMO_KEY) is not None


def load_demo(store: Store, clock: Clock) -> dict | None:
    """Load the demo market once; None when it is already there (idempotent).

    People join `days_ago` + 30 days back, then the market's story (top-ups, orders in
    every state, reviews, conversations) is replayed through the services day by day,
    so histories, credit and countdowns look like a real neighbourhood's.
    """
    data = demo_data()
    story = data.get("history", {})
    now = clock.now()
    start = now - story.get("days_ago", 0) * DAY
    with store.write() as session:
        if demo_loaded(session):
            return None
        counts = load_market(
            session,
            FixedClock(start - 30 * DAY),
            data,
            hash_profile=store.config.settings.hash_profile,
            # The demo's people are made up and its homes are in demo.json anyway: the same
            # public points on every load keep its distances (and screenshots) the same.
            place_rng=random.Random(DEMO_PLACES_SEED),
        )
        counts.update(replay_story(session, start, story, store.config.settings))
        orders.tick(session, clock, store.config.settings)
        counts.update(book_slots(session, clock, data.get("bookings", {}), store.config.settings))
        counts.update(rent_out(session, clock, data.get("rentals", {}), store.config.settings))
        counts.update(follow(session, FixedClock(now - DAY), data.get("follows", {})))
        counts["photos"] = demo_photos.seed(
            session, clock, store.config.photo_dir, data.get("listings", [])
        )
        session.add(Meta(key=DEMO_KEY, value=str(now)))
        return counts


def replay_story(session: Session, start: int, story: dict, settings: Settings) -> dict:
    """Top-ups, orders step by step with reviews, and conversations, in the order of days."""
    users = {u.handle: u for u in session.exec(select(User))}
    clock = FixedClock(start)
    for handle, amount in story.get("topups", {}).items():
        ledger.topup(session, clock, users[handle].id, amount, f"demo:topup:{handle}")
    events = [("order", o) for o in story.get("orders", [])]
    events += [("conversation", c) for c in story.get("conversations", [])]
    events.sort(key=lambda e: e[1]["day"])
    made = 0
    for kind, event in events:
        clock.set(start + event["day"] * DAY + 9 * 3600)
        if kind == "conversation":
            a, b = users[event["a"]], users[event["b"]]
            for sender, body in event["messages"]:
                other = b if sender == a.handle else a
                chat.send(session, clock, users[sender], other, body, settings=settings)
                clock.advance(7 * 60)
            if event.get("mode") == "trade":
                chat.set_mode(session, clock, a, b, ChatMode.trade)
            continue
        listing_id = session.exec(
            select(Listing.id).where(
                Listing.seller_id == users[event["seller"]].id, Listing.title == event["listing"]
            )
        ).one()
        buyer, seller = users[event["buyer"]], users[event["seller"]]
        order = orders.create_order(session, clock, buyer, listing_id)
        actors = {
            "accept": seller,
            "pay": buyer,
            "deliver": seller,
            "confirm": buyer,
            "revoke": buyer,
            "dispute": buyer,
        }
        # A dispute opens with the story's reason; the other side may answer it.
        opening = orders.disputes.Opening(event.get("dispute_reason", ""))
        for step in event["steps"]:
            clock.advance(3 * 3600)
            orders.act(session, clock, settings, actors[step], order.id, step, opening=opening)
        for author, body in event.get("statements", []):
            clock.advance(5 * 3600)
            orders.disputes.add_statement(session, clock, settings, users[author], order.id, body)
        for author, stars, body in event.get("reviews", []):
            feedback.review(session, clock, users[author], order.id, stars, body)
        made += 1
    return {"orders": made, "conversations": len(story.get("conversations", []))}


def follow(session: Session, clock: Clock, follows: dict) -> dict:
    """A day ago: the demo's person saved searches and watched listings; since then a
    neighbour listed something one search finds and dropped a watched listing's price, so
    their inbox has news when they first look."""
    if not follows:
        return {}
    users = {u.handle: u for u in session.exec(select(User))}
    me = users[follows["person"]]

    def listing_of(entry: dict) -> Listing:
        return session.exec(
            select(Listing).where(
                Listing.seller_id == users[entry["seller"]].id, Listing.title == entry["listing"]
            )
        ).one()

    for saved in follows.get("searches", []):
        fields = {k: v for k, v in saved.items() if k != "name"}
        query = search.Query(lat=me.lat, lon=me.lon, **fields)
        inbox.save_search(session, clock, me, saved["name"], query)
    for watched in follows.get("watches", []):
        inbox.watch(session, clock, me, listing_of(watched).id)
    then = follows.get("then", {})
    clock.advance(DAY // 2)
    if "new_listing" in then:
        entry = dict(then["new_listing"])
        seller = users[entry.pop("seller")]
        shops.add_listing(
            session,
            clock,
            seller,
            kind=shops.parse_kind(entry.pop("kind")),
            unit=shops.parse_unit(entry.pop("unit")),
            condition=shops.parse_condition(entry.pop("condition", None) or "good"),
            **entry,
        )
    if "price_drop" in then:
        drop = then["price_drop"]
        shops.edit_listing(
            session, clock, users[drop["seller"]], listing_of(drop).id, price=drop["price"]
        )
    return {
        "saved_searches": len(follows.get("searches", [])),
        "watches": len(follows.get("watches", [])),
    }


def book_slots(session: Session, clock: Clock, bookings: dict, settings: Settings) -> dict:
    """Weekly hours on the demo's lessons and walks, then slots booked from now on."""
    users = {u.handle: u for u in session.exec(select(User))}

    def listing_of(entry: dict) -> int:
        return session.exec(
            select(Listing.id).where(
                Listing.seller_id == users[entry["seller"]].id, Listing.title == entry["listing"]
            )
        ).one()

    for entry in bookings.get("hours", []):
        availability.set_hours(
            session,
            clock,
            users[entry["seller"]],
            listing_of(entry),
            entry["week"],
            zone=settings.zone,
            slot_minutes=entry.get("slot"),
            buffer_after=entry.get("buffer", 0),
            notice_hours=entry.get("notice", 0),
            window_days=entry.get("window", 30),
            days_off=entry.get("off", ()),
        )
    booked = 0
    for entry in bookings.get("orders", []):
        listing_id = listing_of(entry)
        since = clock.now() + entry["ahead_h"] * 3600
        free = availability.free_slots(session, clock, settings.zone, listing_id, since=since)
        if not free:
            continue
        buyer, seller = users[entry["buyer"]], users[entry["seller"]]
        order = orders.book_slot(
            session, clock, settings, buyer, listing_id, free[0].start, entry["hours"]
        )
        for step in entry["steps"]:
            actor = seller if step in ("accept", "deliver") else buyer
            orders.act(session, clock, settings, actor, order.id, step)
        booked += 1
    return {"bookings": booked}


def rent_out(session: Session, clock: Clock, rentals: dict, settings: Settings) -> dict:
    """The demo's rentals, one in each state: each rented two days before its first day (or
    three hours ago), paid an hour later, handed over on its first day at 09:00, back on
    its return day at 10:00 and claimed on at 12:00, so the deposits still wait at now."""
    users = {u.handle: u for u in session.exec(select(User))}
    today = availability.today(clock, settings.zone)
    rented = 0
    for entry in rentals.get("orders", []):
        renter, owner = users[entry["renter"]], users[entry["owner"]]
        listing_id = session.exec(
            select(Listing.id).where(
                Listing.seller_id == owner.id, Listing.title == entry["listing"]
            )
        ).one()
        first = today + timedelta(days=entry["from_d"])
        back = first + timedelta(days=entry["days"])
        period = availability.period(first, back, settings.zone)
        when = FixedClock(min(clock.now() - 3 * HOUR, period.start - 2 * DAY + 9 * HOUR))
        order = orders.rent_item(session, when, settings, renter, listing_id, first, back)
        times = {
            "accept": when.now() + HOUR,
            "pay": when.now() + 2 * HOUR,
            "handover": period.start + 9 * HOUR,
            "return": period.end + 10 * HOUR,
            "claim": period.end + 12 * HOUR,
        }
        for step in entry["steps"]:
            when.set(times[step])
            actor = renter if step == "pay" else owner
            claim = orders.Claim(*entry["claim"]) if step == "claim" else None
            orders.act(session, when, settings, actor, order.id, step, claim=claim)
        rented += 1
    return {"rentals": rented}


def _handle(rng: random.Random, index: int) -> str:
    return f"{rng.choice(_FAMILY)}{rng.choice(_GIVEN)}_{index}"[:20]


def _near(rng: random.Random, area: catalog.Area, spread_km: float) -> tuple[float, float]:
    dlat = rng.gauss(0, spread_km / 111.0)
    dlon = rng.gauss(0, spread_km / (111.0 * math.cos(math.radians(area.lat))))
    return round(area.lat + dlat, 5), round(area.lon + dlon, 5)


# Within one item type (a category's word: 'road bike', 'wok'), prices spread this much
# (log-normal sigma); between the types of a category, as the category's guide does.
TYPE_SPREAD = 0.3


def type_level(band: catalog.Band, slug: str, index: int) -> float:
    """The price level of a category's index-th item type (the same in English and Chinese):
    fixed by the name alone, so every seed agrees, and spread like the category's guide."""
    spread = max(math.log(band.p75 / band.p25) / 1.35, 0.1)
    digest = hashlib.sha256(f"{slug}:{index}".encode()).digest()
    return math.exp(random.Random(digest).gauss(0, spread))


def _price(rng: random.Random, band: catalog.Band, level: float, factor: float) -> int:
    # Log-normal around the type's level, moved by the condition.
    value = band.p50 * level * factor * math.exp(rng.gauss(0, TYPE_SPREAD))
    step = 100 if value >= 1000 else 10
    return max(step, min(money.MAX_MINOR, round(value / step) * step))


def _insert_listings(session: Session, rows: list[dict]) -> None:
    ports.of(session).bulk.insert_listings(session, rows)


def seed_market(
    store: Store,
    clock: Clock,
    *,
    users: int,
    listings: int,
    seed: int,
    area: str | None = None,
    progress: Progress | None = None,
    batch: int = 20_000,
    sales: int = 0,
    factors: dict[str, float] | None = None,
) -> dict:
    """A deterministic synthetic market: the same seed on the same store gives the same rows.

    Each category's item types ('road bike', '折叠车') have their own price level
    (`type_level`), goods their condition. `sales` completed orders of seeded listings
    are added as price points (rows only, without the order events of a real trade:
    for benchmarks of reading sales, not for `verify`). `factors`: what each condition
    asks against good (default: the configured factors).
    """
    factors = factors or conditions.CONFIGURED
    if users < 0 or listings < 0:
        raise Invalid("seed_counts", "Counts of users and listings must be zero or more.")
    rng = random.Random(seed)
    # Synthetic people: their public points come from the seed too (the same seed gives
    # the same rows), from a stream of their own so the rest of the market stays as it was.
    place_rng = random.Random(f"{seed}:public-points")
    now = clock.now()
    all_areas = [catalog.area(area)] if area else list(catalog.areas().values())
    area_weights = [a.density for a in all_areas]
    cats = list(catalog.categories().values())
    salt = hashlib.sha256(f"p2pmarket-seed-{seed}".encode()).digest()[:16]
    pass_hash = accounts.hasher(store.config.settings.hash_profile).hash(
        demo_data()["passphrase"], salt=salt
    )
    total = users + listings
    done = 0
    with store.write() as session:
        first_user = (session.exec(select(func.max(User.id))).one() or 0) + 1
        if users == 0:
            seller_ids = list(session.exec(select(User.id)))
            if listings and not seller_ids:
                raise Invalid("seed_no_users", "Seeding listings needs users; pass --users N.")
            # Listings sit at their seller's public point, never at home.
            places = {
                uid: (lat, lon)
                for uid, lat, lon in session.exec(select(User.id, User.public_lat, User.public_lon))
            }
        else:
            seller_ids, places = [], {}
        rows: list[dict] = []
        verified: list[int] = []
        for offset in range(users):
            uid = first_user + offset
            home_area = rng.choices(all_areas, weights=area_weights)[0]
            lat, lon = _near(rng, home_area, 1.5)
            public = geo.public_point(lat, lon, place_rng)
            rows.append(
                {
                    "id": uid,
                    "handle": _handle(rng, uid),
                    "real_name": f"{rng.choice(_FAMILY).title()} {rng.choice(_GIVEN).title()}",
                    "passphrase_hash": pass_hash,
                    "verified": rng.random() < 0.8,
                    "role": Role.member,
                    "lat": lat,
                    "lon": lon,
                    "public_lat": public[0],
                    "public_lon": public[1],
                    "area": home_area.slug,
                    "bio": "",
                    "created_at": now - rng.randint(0, 730) * DAY,
                    "pub_real_name": False,
                    "pub_verified": True,
                    "pub_credit": True,
                    "pub_trades": True,
                    "pub_spent": False,
                    "pub_member_since": True,
                }
            )
            if rows[-1]["verified"]:
                verified.append(uid)
            seller_ids.append(uid)
            places[uid] = public
            if len(rows) >= batch:
                session.execute(insert(User), rows)
                done += len(rows)
                rows = []
                if progress:
                    progress(done, total)
        if rows:
            session.execute(insert(User), rows)
            done += len(rows)
            rows = []
        if users:
            # Bulk rows skip create_user: a new market's first seeded user is its operator.
            operators.user_added(session, clock, session.get(User, first_user))
            operators.vouch_seeded(session, clock, verified)
        # Bulk path: search triggers and indexes are rebuilt once, after the rows are in.
        after_id = search.suspend(session)
        for _ in range(listings):
            cat = rng.choice(cats)
            kind = rng.choice(cat.kinds)
            unit = rng.choice(cat.units)
            seller_id = rng.choice(seller_ids)
            chinese = rng.random() < 0.35
            words, tags = (cat.words_zh, _TAGS_ZH) if chinese else (cat.words_en, _TAGS_EN)
            tag = rng.choice(tags)
            which = rng.randrange(len(words))
            title = f"{words[which]}{' ' if chinese else ', '}{tag}" if tag else words[which]
            condition = rng.choice(list(Condition)) if kind == Kind.goods else None
            factor = factors[condition] if condition else 1.0
            level = type_level(cat.prior[unit], cat.slug, which)
            lat, lon = places[seller_id]
            created = now - rng.randint(0, 365) * DAY
            rows.append(
                {
                    "seller_id": seller_id,
                    "kind": kind,
                    "title": title,
                    "description": "",
                    "category": cat.slug,
                    "unit": unit,
                    "price": _price(rng, cat.prior[unit], level, factor),
                    "condition": str(condition) if condition else None,
                    "quantity": rng.randint(1, 10),
                    "status": ListingStatus.active if rng.random() < 0.95 else ListingStatus.paused,
                    "lat": lat,
                    "lon": lon,
                    "created_at": created,
                    "updated_at": created,
                }
            )
            if len(rows) >= batch:
                _insert_listings(session, rows)
                done += len(rows)
                rows = []
                if progress:
                    progress(done, total)
        if rows:
            _insert_listings(session, rows)
            done += len(rows)
        search.resume(session, after_id)
        if sales:
            _seed_sales(session, rng, now, after_id, min(sales, listings), seller_ids)
    if progress:
        progress(total, total)
    return {"users": users, "listings": listings, "seed": seed, "sales": sales}


def _seed_sales(
    session: Session, rng: random.Random, now: int, after_id: int, count: int, buyers: list[int]
) -> None:
    """`count` completed orders of distinct listings seeded after `after_id`, each at its
    asking price give or take what a buyer haggles off."""
    last = session.exec(select(func.max(Listing.id))).one() or after_id
    chosen = sorted(rng.sample(range(after_id + 1, last + 1), count))
    for start in range(0, len(chosen), 5_000):
        part = chosen[start : start + 5_000]
        rows = []
        for lid, seller_id, kind, title, price in session.exec(
            select(Listing.id, Listing.seller_id, Listing.kind, Listing.title, Listing.price)
            .where(col(Listing.id).in_(part))
            .order_by(Listing.id)
        ):
            paid = max(10, round(price * math.exp(rng.gauss(-0.05, 0.1))))
            at = now - rng.randint(0, 180) * DAY
            rows.append(
                {
                    "listing_id": lid,
                    "title": title,
                    "buyer_id": rng.choice(buyers),
                    "seller_id": seller_id,
                    "kind": kind,
                    "quantity": 1,
                    "unit_price": paid,
                    "amount": paid,
                    "status": OrderStatus.completed,
                    "created_at": at,
                    "updated_at": at,
                }
            )
        session.execute(insert(Order), rows)
