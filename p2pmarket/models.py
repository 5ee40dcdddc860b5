"""SQLModel tables, and nothing else. Times are whole UTC seconds; money is minor units."""

from __future__ import annotations

from enum import StrEnum

from sqlalchemy import Index, UniqueConstraint, false
from sqlmodel import Field, SQLModel
from sqlmodel.main import SQLModelConfig


class Table(SQLModel):
    """What every table is. Rows are read and written, never validated from input (the
    services check it): pydantic builds a table's validator on first use, not at import
    (37 of them were a quarter of this module's import)."""

    model_config = SQLModelConfig(defer_build=True)


class Role(StrEnum):
    member = "member"
    mediator = "mediator"


class Kind(StrEnum):
    goods = "goods"
    skill = "skill"
    time = "time"


class Unit(StrEnum):
    item = "item"
    hour = "hour"
    session = "session"
    day = "day"


class Condition(StrEnum):
    """How worn a thing for sale is (goods only); skills and time have none."""

    new = "new"
    like_new = "like_new"
    good = "good"
    fair = "fair"
    for_parts = "for_parts"


class ListingStatus(StrEnum):
    active = "active"
    paused = "paused"
    sold_out = "sold_out"
    removed = "removed"


class Tier(StrEnum):
    blocked = "blocked"
    stranger = "stranger"
    acquaintance = "acquaintance"
    trusted = "trusted"


class AccountKind(StrEnum):
    wallet = "wallet"
    escrow = "escrow"
    external = "external"


class OrderStatus(StrEnum):
    requested = "requested"
    accepted = "accepted"
    paid = "paid"
    delivered = "delivered"
    completed = "completed"
    cancelled = "cancelled"
    refunded = "refunded"
    disputed = "disputed"
    resolved = "resolved"
    # A rental (services/money/orders/rentals.py): the thing is with the renter; it came
    # back (the rent is released, the deposit waits out the claim window); the owner
    # claimed part of the deposit (the renter accepts or disputes).
    handed_over = "handed_over"
    returned = "returned"
    claimed = "claimed"


class SchemaVersion(Table, table=True):
    __tablename__ = "schema_version"
    id: int = Field(default=1, primary_key=True)
    version: int


class Meta(Table, table=True):
    """Small facts about the store itself (demo loaded, last automatic backup)."""

    key: str = Field(primary_key=True, max_length=64)
    value: str


class User(Table, table=True):
    id: int | None = Field(default=None, primary_key=True)
    handle: str = Field(unique=True, index=True, max_length=20)
    real_name: str = Field(max_length=80)
    passphrase_hash: str
    verified: bool = False
    role: Role = Role.member
    # Home: seen by its owner only (the origin of their own searches and prices).
    lat: float
    lon: float
    # Where others see this person and their listings (geo.public_point): home moved
    # by an offset drawn once, so probing distances can't find home.
    public_lat: float
    public_lon: float
    area: str | None = None
    bio: str = ""
    created_at: int
    # Published facts: what others may see of the real-name back.
    pub_real_name: bool = False
    pub_verified: bool = True
    pub_credit: bool = True
    pub_trades: bool = True
    pub_spent: bool = False
    pub_member_since: bool = True
    # Signing key (services/records/signing.py): the public half, hex, that verify checks
    # this person's records against; the private half sealed with their passphrase. None
    # until their first login with a passphrase after the store got signatures.
    public_key: str | None = Field(default=None, max_length=64)
    sealed_key: str | None = None


class Listing(Table, table=True):
    id: int | None = Field(default=None, primary_key=True)
    seller_id: int = Field(foreign_key="user.id", index=True)
    kind: Kind
    title: str = Field(max_length=120)
    description: str = ""
    category: str = Field(index=True, max_length=40)
    unit: Unit
    price: int
    quantity: int = 1
    status: ListingStatus = ListingStatus.active
    # A Condition's value, goods only; None: not said (skills and time, and goods listed
    # before conditions). Plain text, not an enum type: a column added by a migration.
    condition: str | None = Field(default=None, max_length=12)
    # Offers (services/trust/offers.py): below the floor they are declined automatically;
    # a firm price takes none. The floor is the seller's alone (never shown to buyers).
    offer_floor: int | None = None
    price_firm: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    # Goods rented by the day: what the renter leaves in escrow until the thing is back.
    deposit: int | None = None
    # The seller's public point, never their home (see geo.py).
    lat: float
    lon: float
    created_at: int
    updated_at: int


class ConditionFactor(Table, table=True):
    """What goods in one condition sold for against the same thing in good condition, per
    category: derived from completed sales once a day (services/market/conditions.py)."""

    __tablename__ = "condition_factor"
    category: str = Field(primary_key=True, max_length=40)
    condition: str = Field(primary_key=True, max_length=12)
    # The median ratio in thousandths (1150: ×1.15), and how many sales voted for it.
    permille: int
    sales: int
    learned_at: int


class ListingHours(Table, table=True):
    """When a skill or time listing can be booked (services/market/availability.py).

    `week` is JSON: weekday (0 Monday) -> [[from, to], ...] in minutes after midnight in
    the market's time zone; buffers in minutes, notice in seconds, `days_off` a JSON list
    of ISO dates. Settings, not records: unchained, replaced whole by `listing hours`.
    """

    __tablename__ = "listing_hours"
    listing_id: int = Field(foreign_key="listing.id", primary_key=True)
    week: str
    slot_minutes: int = 60
    buffer_before: int = 0
    buffer_after: int = 0
    notice: int = 0
    window_days: int = 30
    days_off: str = "[]"
    updated_at: int


class SlotClaim(Table, table=True):
    """One 5-minute block of a seller's time held by a live booked order.

    The primary key (seller, block) is what keeps two live orders of one seller from
    overlapping, buffers included, on every dialect: the second claim of a block fails
    in the store whatever the writers read before. Rows go when their order ends.
    """

    __tablename__ = "slot_claim"
    seller_id: int = Field(foreign_key="user.id", primary_key=True)
    block: int = Field(primary_key=True)
    order_id: int = Field(foreign_key="orders.id", index=True)


class RentalClaim(Table, table=True):
    """One day of a rented thing held by a live rental order: as `SlotClaim` for a
    seller's time, the primary key (listing, day) keeps two rentals of one item apart in
    the store itself. `day` counts days since 1970-01-01 on the market's calendar."""

    __tablename__ = "rental_claim"
    listing_id: int = Field(foreign_key="listing.id", primary_key=True)
    day: int = Field(primary_key=True)
    order_id: int = Field(foreign_key="orders.id", index=True)


class Contact(Table, table=True):
    """How `owner` classifies `other`. No row means stranger."""

    owner_id: int = Field(foreign_key="user.id", primary_key=True)
    other_id: int = Field(foreign_key="user.id", primary_key=True, index=True)
    tier: Tier = Tier.stranger
    updated_at: int


class Account(Table, table=True):
    """A wallet (`user_id`), an order's escrow (`order_id`) or EXTERNAL (neither).

    Escrow is held per order, so payments to different people touch disjoint rows. A
    store from before v6 also keeps its old single ESCROW (neither id), emptied into the
    orders' escrow accounts when the market opens (orders.split_old_escrow).
    """

    id: int | None = Field(default=None, primary_key=True)
    kind: AccountKind
    user_id: int | None = Field(default=None, foreign_key="user.id", unique=True)
    order_id: int | None = Field(default=None, foreign_key="orders.id", unique=True, index=True)
    balance: int = 0


class Transfer(Table, table=True):
    """One movement of money: two or more entries that sum to zero."""

    id: int | None = Field(default=None, primary_key=True)
    # Stored in its actor's space (services/money/ledger.py: user_key, market_key): a person's
    # key of up to 255 characters plus the space in front.
    idem_key: str = Field(unique=True, max_length=300)
    fingerprint: str = Field(max_length=64)
    kind: str = Field(max_length=20)
    order_id: int | None = Field(default=None, foreign_key="orders.id", index=True)
    actor_id: int | None = Field(default=None, foreign_key="user.id")
    created_at: int


class Entry(Table, table=True):
    """Append-only, hash-chained ledger line. Positive credits the account."""

    id: int | None = Field(default=None, primary_key=True)
    transfer_id: int = Field(foreign_key="transfer.id", index=True)
    account_id: int = Field(foreign_key="account.id", index=True)
    amount: int
    created_at: int
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class Order(Table, table=True):
    __tablename__ = "orders"
    id: int | None = Field(default=None, primary_key=True)
    # None for a payment request made in chat without a listing.
    listing_id: int | None = Field(default=None, foreign_key="listing.id", index=True)
    title: str = Field(max_length=120)
    buyer_id: int = Field(foreign_key="user.id", index=True)
    seller_id: int = Field(foreign_key="user.id", index=True)
    kind: Kind
    quantity: int
    unit_price: int
    amount: int
    status: OrderStatus = Field(default=OrderStatus.requested, index=True)
    created_at: int
    updated_at: int
    # Deadlines (unix seconds); None when not running. A dispute pauses them.
    revoke_until: int | None = None
    deliver_by: int | None = None
    confirm_by: int | None = None
    extended: bool = False
    # Asked for in a chat's trade mode: paying it needs that conversation in trade mode.
    via_chat: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    disputed_from: OrderStatus | None = None
    paused_at: int | None = None
    # When a timer's payout failed (a damaged store); the timeline says why. Not retried.
    timer_failed_at: int | None = None
    # A booked slot of the seller's time (services/money/orders/slots.py); None otherwise.
    slot_start: int | None = None
    slot_end: int | None = None
    # A rental (services/money/orders/rentals.py): its deposit (None: not a rental), when
    # the thing came back, and the owner's one claim on the deposit.
    deposit: int | None = None
    returned_at: int | None = None
    claim_amount: int | None = None
    claim_reason: str | None = Field(default=None, max_length=300)


class OrderEvent(Table, table=True):
    """Append-only, hash-chained: every order transition with actor and time."""

    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="orders.id", index=True)
    actor_id: int | None = Field(default=None, foreign_key="user.id")
    at: int
    from_status: str = Field(max_length=20)
    to_status: str = Field(max_length=20)
    amount: int = 0
    note: str = ""
    prev_hash: str = Field(max_length=64)
    hash: str = Field(max_length=64)


class DisputeNote(Table, table=True):
    """Append-only, hash-chained per order: what a party told the mediator of a dispute.

    `kind` is "reason" (the opener's one line, with the chat lines they attached:
    `attached`, a JSON list of message ids of the pair's conversation) or "statement"
    (one per party, within the statement window after the dispute opened).
    """

    __tablename__ = "dispute_note"
    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="orders.id", index=True)
    author_id: int = Field(foreign_key="user.id")
    kind: str = Field(max_length=12)
    text: str
    attached: str = "[]"
    at: int
    prev_hash: str = Field(default="", max_length=64)
    hash: str = Field(default="", max_length=64)


class ListingPhoto(Table, table=True):
    """A photo of a listing: its re-encoded file in the market home, named by the sha256 of
    its bytes (services/market/photos.py); `verify` finds a file missing or altered."""

    __tablename__ = "listing_photo"
    __table_args__ = (UniqueConstraint("listing_id", "sha256"),)
    id: int | None = Field(default=None, primary_key=True)
    listing_id: int = Field(foreign_key="listing.id", index=True)
    sha256: str = Field(max_length=64)
    width: int
    height: int
    thumb_sha256: str = Field(max_length=64)
    added_at: int


class HandoverMethod(StrEnum):
    meet = "meet"
    ship = "ship"


class Handover(Table, table=True):
    """How a goods order changes hands, as last proposed (and maybe agreed): a meet-up at a
    public landmark at a time, or shipping with the seller's tracking note. Each proposal
    and agreement is also an event on the order's chain (what verify holds it to)."""

    order_id: int = Field(foreign_key="orders.id", primary_key=True)
    method: HandoverMethod
    area: str = Field(default="", max_length=40)
    landmark: str = Field(default="", max_length=40)
    meet_at: int | None = None
    tracking: str = Field(default="", max_length=120)
    proposed_by: int = Field(foreign_key="user.id")
    agreed_by: int | None = Field(default=None, foreign_key="user.id")
    updated_at: int


class OperatorEvent(Table, table=True):
    """Append-only, hash-chained: every act of the market's operator (who, what, whom, when).

    `action` is "operator" (someone became the operator), "verify" or "role"; `detail`
    says how or which role. `actor_id` is None when no one acted for it (the first user).
    """

    __tablename__ = "operator_event"
    id: int | None = Field(default=None, primary_key=True)
    actor_id: int | None = Field(default=None, foreign_key="user.id")
    action: str = Field(max_length=20)
    subject_id: int = Field(foreign_key="user.id", index=True)
    detail: str = Field(default="", max_length=80)
    at: int
    prev_hash: str = Field(default="", max_length=64)
    hash: str = Field(default="", max_length=64)


class KeyEvent(Table, table=True):
    """Append-only, hash-chained: a signing key made ("created"), replaced ("rotated", signed
    by the old key) or re-sealed after a passphrase change ("passphrase").

    `user_id` None is the market's own key. `passphrase_digest` is sha256 of the person's
    passphrase hash then, so verify notices a passphrase hash swapped in the store;
    `legacy_upto` (JSON, table -> last id) marks the rows written before the key existed.
    """

    __tablename__ = "key_event"
    id: int | None = Field(default=None, primary_key=True)
    user_id: int | None = Field(default=None, foreign_key="user.id", index=True)
    action: str = Field(max_length=20)
    public_key: str = Field(max_length=64)
    passphrase_digest: str = Field(default="", max_length=64)
    legacy_upto: str = ""
    at: int
    prev_hash: str = Field(default="", max_length=64)
    hash: str = Field(default="", max_length=64)


class Signature(Table, table=True):
    """Who signed a chained row, over its hash and the facts of other rows it relies on.

    A side table, not a column: the chained tables, their hashes and their chains stay as
    they are (old stores keep verifying; a newly chained table is signed with no schema
    change), and a row's signature can be added after the row (legacy rows have none).
    `signer_id` None is the market. `facts` names and digests the rows the signature also
    covers (an entry's transfer and account, an order event's order).
    """

    table_name: str = Field(primary_key=True, max_length=40)
    row_id: int = Field(primary_key=True)
    signer_id: int | None = Field(default=None, foreign_key="user.id")
    facts: str = ""
    sig: str = Field(max_length=128)


class ChainHead(Table, table=True):
    """The last row of each chain (hashchain.py: a kind and an owner, e.g. ledger, account 7).

    An append reads and moves only its own chain's head (FOR UPDATE on PostgreSQL), so two
    payments between different people touch disjoint heads. `checkpointed_id` is the
    `last_id` the latest checkpoint recorded: the next checkpoint records only heads that
    moved since (a shortcut; the checkpoints themselves are what `verify` trusts).
    """

    __tablename__ = "chain_head"
    kind: str = Field(primary_key=True, max_length=20)
    owner_id: int = Field(primary_key=True)
    last_id: int = 0
    last_hash: str = Field(max_length=64)
    checkpointed_id: int = 0


class Checkpoint(Table, table=True):
    """A chained snapshot of every chain head, written by the market's tick, verify and backup.

    Its `checkpoint_head` rows are the heads that moved since the checkpoint before, so the
    heads of every chain at checkpoint N are the latest recorded at or before N; `digest`
    (sha256 over those rows, sorted) binds them into this row's hash. `marks` (JSON: chain
    kind -> largest row id) tells an incremental verify which rows came after this checkpoint.
    """

    id: int | None = Field(default=None, primary_key=True)
    at: int
    heads: int
    digest: str = Field(max_length=64)
    marks: str
    prev_hash: str = Field(default="", max_length=64)
    hash: str = Field(default="", max_length=64)


class CheckpointHead(Table, table=True):
    """One chain head as a checkpoint recorded it."""

    __tablename__ = "checkpoint_head"
    __table_args__ = (Index("ix_checkpoint_head_kind_owner", "kind", "owner_id"),)
    checkpoint_id: int = Field(foreign_key="checkpoint.id", primary_key=True)
    kind: str = Field(primary_key=True, max_length=20)
    owner_id: int = Field(primary_key=True)
    last_id: int
    last_hash: str = Field(max_length=64)


class ChatMode(StrEnum):
    chat = "chat"
    trade = "trade"


class MessageKind(StrEnum):
    text = "text"
    system = "system"
    request = "request"
    offer = "offer"


class OfferStatus(StrEnum):
    open = "open"
    accepted = "accepted"
    declined = "declined"
    countered = "countered"
    expired = "expired"
    withdrawn = "withdrawn"


class Offer(Table, table=True):
    """A price and quantity proposed for a listing, by its buyer or (a counter) its seller.

    A counter is a new offer (`parent_id` the one it answers, which becomes countered), so
    each row is one proposal and its fate. `message_id` is the chat line that announced it;
    the chat shows the offer's state there. An accepted offer names its order.
    """

    id: int | None = Field(default=None, primary_key=True)
    listing_id: int = Field(foreign_key="listing.id", index=True)
    buyer_id: int = Field(foreign_key="user.id", index=True)
    seller_id: int = Field(foreign_key="user.id", index=True)
    # Who proposed it: the buyer, or the seller countering.
    by_id: int = Field(foreign_key="user.id")
    unit_price: int
    quantity: int
    amount: int
    note: str = Field(default="", max_length=200)
    status: OfferStatus = Field(default=OfferStatus.open, index=True)
    parent_id: int | None = Field(default=None, foreign_key="offer.id")
    order_id: int | None = Field(default=None, foreign_key="orders.id")
    message_id: int | None = Field(default=None, foreign_key="message.id", index=True)
    created_at: int
    expires_at: int = Field(index=True)
    decided_at: int | None = None
    # None when nobody decided: expired, or declined under the seller's floor.
    decided_by: int | None = Field(default=None, foreign_key="user.id")


class CreditDimension(StrEnum):
    transaction = "transaction"
    social = "social"


class ReportStatus(StrEnum):
    open = "open"
    upheld = "upheld"
    dismissed = "dismissed"


class Conversation(Table, table=True):
    """Two people talking: one conversation per pair, a_id < b_id."""

    __table_args__ = (UniqueConstraint("a_id", "b_id"),)
    id: int | None = Field(default=None, primary_key=True)
    a_id: int = Field(foreign_key="user.id", index=True)
    b_id: int = Field(foreign_key="user.id", index=True)
    mode: ChatMode = ChatMode.chat
    # What the conversation is about now, if anything.
    listing_id: int | None = Field(default=None, foreign_key="listing.id")
    order_id: int | None = Field(default=None, foreign_key="orders.id")
    # The last message id each side has read (unread = newer ones from the other side).
    a_read_id: int = 0
    b_read_id: int = 0
    last_message_id: int = 0
    created_at: int
    updated_at: int


class Message(Table, table=True):
    """One line of a conversation. `to_id` makes "anything new for me?" one index probe."""

    __table_args__ = (
        Index("ix_message_to_id_id", "to_id", "id"),
        Index("ix_message_sender_fingerprint_at", "sender_id", "fingerprint", "at"),
    )
    id: int | None = Field(default=None, primary_key=True)
    conversation_id: int = Field(foreign_key="conversation.id", index=True)
    sender_id: int = Field(foreign_key="user.id")
    to_id: int = Field(foreign_key="user.id")
    kind: MessageKind = MessageKind.text
    body: str
    # Normalised hash of the body: the same text sent to many strangers is spam.
    fingerprint: str = Field(default="", max_length=64)
    order_id: int | None = Field(default=None, foreign_key="orders.id")
    at: int
    # Chained per conversation (hashchain.py): an edited, deleted or reordered line fails verify.
    prev_hash: str = Field(default="", max_length=64)
    hash: str = Field(default="", max_length=64)


class SpamFlag(Table, table=True):
    __tablename__ = "spam_flag"
    __table_args__ = (UniqueConstraint("user_id", "fingerprint"),)
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    fingerprint: str = Field(max_length=64)
    recipients: int
    message_id: int = Field(foreign_key="message.id")
    at: int


class CreditEvent(Table, table=True):
    """Append-only, hash-chained: every change of a credit score, with its reason and source."""

    __tablename__ = "credit_event"
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    dimension: CreditDimension
    delta: int
    score_after: int
    reason: str = Field(max_length=200)
    # What caused it, e.g. "order:12", "review:3", "age"; one running sum per (dimension, source).
    source: str = Field(max_length=80)
    at: int
    prev_hash: str = Field(default="", max_length=64)
    hash: str = Field(default="", max_length=64)


class Review(Table, table=True):
    """Append-only, hash-chained: one review per side of a completed paid order."""

    __table_args__ = (UniqueConstraint("order_id", "author_id"),)
    id: int | None = Field(default=None, primary_key=True)
    order_id: int = Field(foreign_key="orders.id", index=True)
    author_id: int = Field(foreign_key="user.id")
    subject_id: int = Field(foreign_key="user.id", index=True)
    stars: int
    text: str
    at: int
    prev_hash: str = Field(default="", max_length=64)
    hash: str = Field(default="", max_length=64)


class Report(Table, table=True):
    """One report per reporter per target; only upheld reports touch credit."""

    __table_args__ = (UniqueConstraint("reporter_id", "target_id"),)
    id: int | None = Field(default=None, primary_key=True)
    reporter_id: int = Field(foreign_key="user.id")
    target_id: int = Field(foreign_key="user.id", index=True)
    reason: str
    status: ReportStatus = ReportStatus.open
    at: int
    resolved_by: int | None = Field(default=None, foreign_key="user.id")
    resolved_at: int | None = None


class BackupLog(Table, table=True):
    """Every backup taken (by hand, daily, before a migration or reset), newest last."""

    __tablename__ = "backup_log"
    id: int | None = Field(default=None, primary_key=True)
    path: str
    reason: str = Field(max_length=40)
    at: int
    size_bytes: int


class InboxKind(StrEnum):
    message = "message"
    offer = "offer"
    order = "order"
    deadline = "deadline"
    reminder = "reminder"
    search = "search"
    price_drop = "price_drop"
    sold = "sold"


class InboxItem(Table, table=True):
    """One thing that needs a person (services/trust/inbox.py), with its read state.

    Gathered from the records (messages, order events) and from saved searches and
    watched listings when their owner looks, or written by the market's tick (deadlines
    soon, slot reminders). `key` names what it is about, so each is written once per
    person. `ref_kind` and `ref_id` say what opening it shows: an order, a listing, an
    offer or a conversation.
    """

    __tablename__ = "inbox_item"
    __table_args__ = (
        UniqueConstraint("user_id", "key"),
        Index("ix_inbox_item_user_read", "user_id", "read"),
    )
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id")
    kind: str = Field(max_length=12)
    text: str = Field(max_length=300)
    ref_kind: str = Field(max_length=12)
    ref_id: int
    at: int
    read: bool = Field(default=False, sa_column_kwargs={"server_default": false()})
    key: str = Field(max_length=80)


class InboxCursor(Table, table=True):
    """How far a person's inbox has gathered the records: the last message and order
    event looked at."""

    __tablename__ = "inbox_cursor"
    user_id: int = Field(foreign_key="user.id", primary_key=True)
    message_id: int = 0
    event_id: int = 0


class SavedSearch(Table, table=True):
    """A search a person saved by name: `query` is its JSON (text, place, radius,
    filters). Listings newer than `seen_id` are the ones it has not looked at yet."""

    __tablename__ = "saved_search"
    __table_args__ = (UniqueConstraint("user_id", "name"),)
    id: int | None = Field(default=None, primary_key=True)
    user_id: int = Field(foreign_key="user.id", index=True)
    name: str = Field(max_length=40)
    query: str
    seen_id: int = 0
    created_at: int


class Watch(Table, table=True):
    """A listing a person watches: its price and status when they last looked, so a
    drop or a sale is told once."""

    user_id: int = Field(foreign_key="user.id", primary_key=True)
    listing_id: int = Field(foreign_key="listing.id", primary_key=True)
    price: int
    status: str = Field(max_length=12)
    created_at: int


class PlanStatus(StrEnum):
    proposed = "proposed"
    booked = "booked"


class Plan(Table, table=True):
    """One wish turned into legs from several sellers (services/money/plans/).

    A proposal waits with its `number` (1..5, among the buyer's latest proposals, which the
    next proposal replaces); booking it makes one order per leg, all paid in one transaction.
    `wish` is the request as JSON (its legs, day, window, area, budget, credit floor), so a
    leg a seller cancels can be planned again in its place. Settings, not records: the
    money and the steps are the orders' own chained events.
    """

    __tablename__ = "plans"
    id: int | None = Field(default=None, primary_key=True)
    buyer_id: int = Field(foreign_key="user.id", index=True)
    # A PlanStatus value (plain text: no enum type to create on PostgreSQL).
    status: str = Field(default=PlanStatus.proposed, max_length=12)
    number: int | None = None
    wish: str
    total: int
    travel_minutes: int
    created_at: int


class PlanLeg(Table, table=True):
    """One leg of a plan: the listing, its slot, and once booked, the order holding it."""

    __tablename__ = "plan_legs"
    plan_id: int = Field(foreign_key="plans.id", primary_key=True)
    position: int = Field(primary_key=True)
    wish: str = Field(max_length=60)
    listing_id: int = Field(foreign_key="listing.id")
    slot_start: int
    slot_end: int
    amount: int
    # Minutes on the way to this leg, from the starting area or the leg before it.
    travel_minutes: int
    order_id: int | None = Field(default=None, foreign_key="orders.id", index=True)
