"""Forward migrations: each takes a store from one schema version to the next, in place.

A backup is taken before any of them runs (Store.create_all); they run in one transaction.
"""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy import (
    Connection,
    String,
    bindparam,
    case,
    cast,
    func,
    insert,
    inspect,
    text,
    update,
)
from sqlmodel import select

from p2pmarket import geo, hashchain, models
from p2pmarket.errors import StoreFailure

SCHEMA_VERSION = 17
# The `meta` row naming the market's operator (a user id); services/trust/operators.py owns it.
OPERATOR_KEY = "operator"


def _v2_backup_log(conn: Connection) -> None:
    """v2: a log of every backup taken, so pruning and `backup --list` need no file globbing."""
    models.BackupLog.__table__.create(conn)


def _v3_keys_of_their_actor(conn: Connection) -> None:
    """v3: idempotency keys move into their actor's space; a failed timer is remembered.

    The market's own keys (no actor, or an order's payment made without a key, which was
    `order:<id>:pay`) go behind "market:", a person's behind "user:<id>:" (the forms of
    services/money/ledger.py), so a retry across the upgrade still replays. In two steps: an old
    store may hold a key already in a new form (anyone could type "user:1:x"), so every
    key first steps aside behind a newline, which no key holds (keys are printable).
    """
    transfer = models.Transfer.__table__
    key = transfer.c.idem_key
    if conn.dialect.name != "sqlite":
        # SQLite ignores VARCHAR lengths; PostgreSQL needs the room for the space.
        conn.exec_driver_sql("ALTER TABLE transfer ALTER COLUMN idem_key TYPE VARCHAR(300)")
    conn.execute(update(transfer).values(idem_key="\n" + key))
    old = func.substr(key, 2)
    default_pay = (transfer.c.kind == "pay") & (
        old == "order:" + cast(transfer.c.order_id, String) + ":pay"
    )
    conn.execute(
        update(transfer).values(
            idem_key=case(
                (transfer.c.actor_id.is_(None) | default_pay, "market:" + old),
                else_="user:" + cast(transfer.c.actor_id, String) + ":" + old,
            )
        )
    )
    conn.exec_driver_sql("ALTER TABLE orders ADD COLUMN timer_failed_at INTEGER")


def _v4_operator(conn: Connection) -> None:
    """v4: the operator's chain of acts, and an operator for a market that has people.

    As in a new market, the first user is the operator; the row in `meta` is what the
    services read (services/trust/operators.py), and the chain records acts from now on.
    """
    models.OperatorEvent.__table__.create(conn)
    first = conn.execute(select(func.min(models.User.id))).scalar()
    if first is not None:
        conn.execute(insert(models.Meta).values(key=OPERATOR_KEY, value=str(first)))


def _v5_public_points(conn: Connection) -> None:
    """v5: everyone gets a public point (geo.py); listings at their seller's home move there.

    Listings sat at their seller's exact home, which probing searches could find to the
    metre. The derived search index placed them there too: forgetting its version has
    `_install_derived` build it afresh from the moved listings on open (on both
    dialects): 9 s for 100k listings, where re-indexing each moved row took 24 s.
    """
    user, listing = models.User.__table__, models.Listing.__table__
    name = conn.dialect.identifier_preparer.format_table(user)
    for column in (user.c.public_lat, user.c.public_lon):
        kind = column.type.compile(dialect=conn.dialect)
        conn.execute(text(f"ALTER TABLE {name} ADD COLUMN {column.name} {kind}"))
    moves = []
    for uid, lat, lon in conn.execute(select(user.c.id, user.c.lat, user.c.lon)):
        public_lat, public_lon = geo.public_point(lat, lon)
        moves.append({"uid": uid, "lat0": lat, "lon0": lon, "lat1": public_lat, "lon1": public_lon})
    if not moves:
        return
    conn.execute(
        update(user)
        .where(user.c.id == bindparam("uid"))
        .values(public_lat=bindparam("lat1"), public_lon=bindparam("lon1")),
        moves,
    )
    conn.execute(
        update(listing)
        .where(
            listing.c.seller_id == bindparam("uid"),
            listing.c.lat == bindparam("lat0"),
            listing.c.lon == bindparam("lon0"),
        )
        .values(lat=bindparam("lat1"), lon=bindparam("lon1")),
        moves,
    )
    if inspect(conn).has_table("search_version"):
        conn.execute(text("DELETE FROM search_version"))


# The chains a v5 store has (or gets at v6): the key records' chain, the signature table
# and the disputes' notes come later (v8, v17 and the tables made after the migrations),
# so v6 leaves them be.
_V6_KINDS = tuple(k for k in hashchain.KINDS if k.name not in ("keys", "disputes"))


def _v6_chains_per_owner(conn: Connection) -> None:
    """v6: one chain per owner (hashchain.KINDS), chat chained, checkpoints over the heads.

    The old store kept one chain per table. Its history is checked first, link by link
    against its `chain_head`, and an upgrade of a broken chain is refused (the store stays
    at v5, as its backup): re-chaining it would launder the tampering. Then every row is
    re-chained into its owner's chain in id order, keeping its id and content; only
    `prev_hash` and `hash` change, so the history verifies as before, in the new chains.
    Exports made before the upgrade name the old hashes and no longer match.
    """
    message = models.Message.__table__
    for column in (message.c.prev_hash, message.c.hash):
        kind = column.type.compile(dialect=conn.dialect)
        conn.execute(
            text(f"ALTER TABLE message ADD COLUMN {column.name} {kind} DEFAULT '' NOT NULL")
        )
    old_heads = {
        name: (last_id, last_hash)
        for name, last_id, last_hash in conn.execute(
            text("SELECT name, last_id, last_hash FROM chain_head")
        )
    }
    for kind in _V6_KINDS:
        if kind.name not in ("chat", "checkpoints"):  # chained from v6 on
            _check_old_chain(conn, kind, old_heads.get(kind.name, (0, hashchain.GENESIS)))
    conn.execute(text("DROP TABLE chain_head"))
    for model in (models.ChainHead, models.Checkpoint, models.CheckpointHead):
        model.__table__.create(conn)
    heads = []
    for kind in _V6_KINDS:
        heads.extend(_rechain(conn, kind))
    if heads:
        conn.execute(insert(models.ChainHead), heads)


def _check_old_chain(conn: Connection, kind: hashchain.ChainKind, head: tuple[int, str]) -> None:
    """Walk a v5 chain (the whole table, ids 1..n); refuse the upgrade at its first broken row."""
    table = kind.model.__table__
    prev, expected = hashchain.GENESIS, 1
    for row in conn.execute(select(table).order_by(table.c.id)).mappings():
        if (
            row["id"] != expected
            or row["prev_hash"] != prev
            or hashchain.digest(prev, row) != row["hash"]
        ):
            _refuse(kind, row["id"])
        prev, expected = row["hash"], expected + 1
    if head != (expected - 1, prev):
        _refuse(kind, expected)


def _refuse(kind: hashchain.ChainKind, row_id: int) -> None:
    raise StoreFailure(
        "store_tampered",
        f"The {kind.name} chain is broken at {kind.model.__tablename__} #{row_id}; upgrading "
        "would re-chain (hide) it, so nothing was changed. Restore an earlier backup "
        "(p2pmarket backup --list, p2pmarket restore PATH) with the older p2pmarket.",
    )


def _rechain(conn: Connection, kind: hashchain.ChainKind) -> list[dict]:
    """Chain every row of `kind` to the row before it of the same owner; the heads."""
    table = kind.model.__table__
    owner = table.c[kind.owner] if kind.owner else None
    order = [owner, table.c.id] if owner is not None else [table.c.id]
    tips: dict[int, tuple[int, str]] = {}
    moves = []
    move = (
        update(table)
        .where(table.c.id == bindparam("row_id"))
        .values(prev_hash=bindparam("prev"), hash=bindparam("new"))
    )
    # Read whole before writing: an open cursor over the table being updated is undefined.
    for row in conn.execute(select(table).order_by(*order)).mappings().all():
        owner_id = (row[kind.owner] or 0) if kind.owner else 0  # NULL owner: 0, as owner_of
        prev = tips.get(owner_id, (0, hashchain.GENESIS))[1]
        fields = {**row, "prev_hash": prev}
        tips[owner_id] = (row["id"], hashchain.digest(prev, fields))
        moves.append({"row_id": row["id"], "prev": prev, "new": tips[owner_id][1]})
        if len(moves) == 5_000:
            conn.execute(move, moves)
            moves = []
    if moves:
        conn.execute(move, moves)
    return [
        {"kind": kind.name, "owner_id": o, "last_id": i, "last_hash": h, "checkpointed_id": 0}
        for o, (i, h) in tips.items()
    ]


def _v7_escrow_per_order(conn: Connection) -> None:
    """v7: escrow is held per order (an account with `order_id`), not in one ESCROW row.

    Only the column here: moving the old ESCROW's money into the orders' accounts is a
    chained ledger transfer, made by the services when the market opens
    (services/money/orders/old_escrow.py); until then verify still balances.
    """
    conn.exec_driver_sql("ALTER TABLE account ADD COLUMN order_id INTEGER REFERENCES orders (id)")
    conn.exec_driver_sql("CREATE UNIQUE INDEX ix_account_order_id ON account (order_id)")


def _v8_signing_keys(conn: Connection) -> None:
    """v8: signatures. Users get a column for their public key and their sealed private key,
    both filled at their next login with a passphrase (services/records/signing.py); the
    `key_event` chain and the `signature` table are new (created after the migrations).
    Rows written before someone's key are legacy: verify counts them, unsigned.
    """
    user = models.User.__table__
    name = conn.dialect.identifier_preparer.format_table(user)
    for column in (user.c.public_key, user.c.sealed_key):
        kind = column.type.compile(dialect=conn.dialect)
        conn.execute(text(f"ALTER TABLE {name} ADD COLUMN {column.name} {kind}"))


def _v9_listing_condition(conn: Connection) -> None:
    """v9: listings of goods say their condition (new, like_new, good, fair, for_parts).

    A nullable column: listings from before say none, and their suggested prices treat
    them as neither worn nor new (services/market/pricing.py CONDITION_FACTORS).
    """
    listing = models.Listing.__table__
    name = conn.dialect.identifier_preparer.format_table(listing)
    column = listing.c.condition
    kind = column.type.compile(dialect=conn.dialect)
    conn.execute(text(f"ALTER TABLE {name} ADD COLUMN {column.name} {kind}"))


def _v10_offers(conn: Connection) -> None:
    """v10: offers (haggling). A listing gets its offer floor and its "price firm" flag, and a
    chat line may be an offer; the `offer` table is new (created after the migrations).
    PostgreSQL keeps message kinds as an enum type, which learns the new value; SQLite
    stores the name as text.
    """
    listing = models.Listing.__table__
    floor = listing.c.offer_floor.type.compile(dialect=conn.dialect)
    firm = listing.c.price_firm.type.compile(dialect=conn.dialect)
    conn.execute(text(f"ALTER TABLE listing ADD COLUMN offer_floor {floor}"))
    conn.execute(text(f"ALTER TABLE listing ADD COLUMN price_firm {firm} DEFAULT false NOT NULL"))
    if conn.dialect.name == "postgresql":
        conn.execute(text("ALTER TYPE messagekind ADD VALUE IF NOT EXISTS 'offer'"))


def _v11_bookings(conn: Connection) -> None:
    """v11: bookings. An order may hold a slot of its seller's time (`slot_start`,
    `slot_end`); listings get weekly hours (`listing_hours`) and live slots claim their
    5-minute blocks (`slot_claim`, one row per seller and block)."""
    for name in ("slot_start", "slot_end"):
        conn.exec_driver_sql(f"ALTER TABLE orders ADD COLUMN {name} INTEGER")
    for model in (models.ListingHours, models.SlotClaim):
        model.__table__.create(conn, checkfirst=True)


def _v12_inbox(conn: Connection) -> None:
    """v12: the inbox (`inbox_item`, each person's read state; `inbox_cursor`, how far it
    gathered the records), saved searches (`saved_search`) and watched listings (`watch`).
    New tables only: existing rows reach the inbox when their person first looks."""
    for model in (models.InboxItem, models.InboxCursor, models.SavedSearch, models.Watch):
        model.__table__.create(conn, checkfirst=True)


def _v13_plans(conn: Connection) -> None:
    """v13: plans. A wish of several legs (`plans`) and its legs (`plan_legs`), each leg
    naming its listing, slot and, once booked, its order."""
    for model in (models.Plan, models.PlanLeg):
        model.__table__.create(conn, checkfirst=True)


def _v14_rentals(conn: Connection) -> None:
    """v14: rentals. A listing of goods by the day may ask a deposit; an order may be a
    rental (its deposit, when the thing came back, the owner's claim on the deposit) in
    three new statuses; rented days are claimed per item (`rental_claim`). PostgreSQL
    keeps order statuses as an enum type, which learns the new values."""
    for table, name, kind in (
        ("listing", "deposit", "INTEGER"),
        ("orders", "deposit", "INTEGER"),
        ("orders", "returned_at", "INTEGER"),
        ("orders", "claim_amount", "INTEGER"),
        ("orders", "claim_reason", "VARCHAR(300)"),
    ):
        conn.exec_driver_sql(f"ALTER TABLE {table} ADD COLUMN {name} {kind}")
    if conn.dialect.name == "postgresql":
        for status in ("handed_over", "returned", "claimed"):
            conn.execute(text(f"ALTER TYPE orderstatus ADD VALUE IF NOT EXISTS '{status}'"))
    models.RentalClaim.__table__.create(conn, checkfirst=True)


def _v15_photos_and_handovers(conn: Connection) -> None:
    """v15: listings get photos (`listing_photo`: the sha256 of each stored file) and goods
    orders say how they change hands (`handover`: a meet-up or shipping, proposed and
    agreed). Both tables are new."""
    for model in (models.ListingPhoto, models.Handover):
        model.__table__.create(conn, checkfirst=True)


def _v16_condition_factors(conn: Connection) -> None:
    """v16: condition factors learned from completed sales (`condition_factor`: per category
    and condition, the median price ratio against good and how many sales voted). A new
    table of derived data; the next tick learns it."""
    models.ConditionFactor.__table__.create(conn, checkfirst=True)


def _v17_dispute_notes(conn: Connection) -> None:
    """v17: a dispute's reason (with the chat lines attached to it) and each party's
    statement are rows of `dispute_note`, a new table chained per order."""
    models.DisputeNote.__table__.create(conn, checkfirst=True)


# Forward migrations: MIGRATIONS[n] takes a store at version n-1 to version n.
MIGRATIONS: dict[int, Callable[[Connection], None]] = {
    2: _v2_backup_log,
    3: _v3_keys_of_their_actor,
    4: _v4_operator,
    5: _v5_public_points,
    6: _v6_chains_per_owner,
    7: _v7_escrow_per_order,
    8: _v8_signing_keys,
    9: _v9_listing_condition,
    10: _v10_offers,
    11: _v11_bookings,
    12: _v12_inbox,
    13: _v13_plans,
    14: _v14_rentals,
    15: _v15_photos_and_handovers,
    16: _v16_condition_factors,
    17: _v17_dispute_notes,
}
