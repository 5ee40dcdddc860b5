"""Double-entry ledger: money moves only in balanced transfers, and never twice.

Accounts are each user's wallet, one escrow per paid order and one EXTERNAL (the world
outside: top-ups and withdrawals). Escrow per order, not one ESCROW row: two payments
to different people touch disjoint rows, so on PostgreSQL they commit side by side.
A transfer has two or more entries summing to zero; entries are append-only and
hash-chained (records.py). No wallet and no escrow ever goes below zero; EXTERNAL is the only
account that may. Every transfer carries an idempotency key: the same key with the same
parameters returns the original transfer, the same key with other parameters is refused.

Keys belong to their actor. A key a person gives is stored in that person's space
(`user_key`: "user:<id>:<text>"), the market's own keys in a space no person can
write (`market_key`: "market:order:<id>:<operation>"). The stored key is unique, so
two people may use the same text, and nobody can take a key the market will need.

Callers run inside `store.write()` (BEGIN IMMEDIATE on SQLite; on PostgreSQL one
snapshot, and accounts read FOR UPDATE), so the balance check and the debit cannot
interleave with another writer.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple
from weakref import WeakKeyDictionary

from sqlalchemy import Engine, Row, bindparam, func, insert, update
from sqlmodel import Session, SQLModel, col, select

from p2pmarket import money
from p2pmarket.clock import Clock
from p2pmarket.errors import Invalid, Refused, StoreFailure
from p2pmarket.models import Account, AccountKind, Entry, Transfer
from p2pmarket.services.records import chain

KEY_MAX = 255
# Every stored key starts with one of these; a person's text is always behind USER_SPACE.
USER_SPACE, MARKET_SPACE = "user:", "market:"


@dataclass(frozen=True)
class TransferResult:
    id: int
    kind: str
    amount: int
    replayed: bool

    def to_json(self) -> dict:
        return {
            "transfer_id": self.id,
            "kind": self.kind,
            "amount": self.amount,
            "replayed": self.replayed,
        }


# Core statements, built once: the pay path runs a dozen per payment, and building a
# statement (or running the ORM's unit of work) costs more than the SQL itself. The
# account and transfer tables are written only here, so reading them through the
# connection (no autoflush) sees everything this transaction wrote.
_ACCOUNT = Account.__table__
_TRANSFER = Transfer.__table__
_ACCOUNT_COLUMNS = (_ACCOUNT.c.id, _ACCOUNT.c.kind, _ACCOUNT.c.balance)
# FOR UPDATE is a no-op under SQLite's single writer. On PostgreSQL it is what keeps the
# balance check safe: a wallet changed by a writer after this one's snapshot aborts it, and
# the unit of work runs again (store/postgres/engine.py).
_WALLET = (
    select(*_ACCOUNT_COLUMNS).where(_ACCOUNT.c.user_id == bindparam("user_id")).with_for_update()
)
_SYSTEM = (
    select(*_ACCOUNT_COLUMNS)
    .where(
        _ACCOUNT.c.kind == bindparam("kind"),
        _ACCOUNT.c.user_id.is_(None),
        _ACCOUNT.c.order_id.is_(None),
    )
    .with_for_update()
)
_ESCROW = (
    select(*_ACCOUNT_COLUMNS).where(_ACCOUNT.c.order_id == bindparam("order_id")).with_for_update()
)
_MOVE = (
    update(_ACCOUNT)
    .where(_ACCOUNT.c.id == bindparam("account_id"), _ACCOUNT.c.kind == bindparam("account_kind"))
    .values(balance=_ACCOUNT.c.balance + bindparam("delta"))
)
_EARLIER = (_TRANSFER.c.id, _TRANSFER.c.kind, _TRANSFER.c.fingerprint)
_BY_KEY = select(*_EARLIER).where(_TRANSFER.c.idem_key == bindparam("key"))
_BY_KEYS = select(_TRANSFER.c.idem_key, *_EARLIER).where(
    _TRANSFER.c.idem_key.in_(bindparam("keys", expanding=True))
)
# Many rows in one INSERT … RETURNING, ids in the order the rows were given.
_NEW_TRANSFERS = insert(_TRANSFER).returning(_TRANSFER.c.id, sort_by_parameter_order=True)


class _Queued(NamedTuple):
    """A transfer `Postings` has queued or written: what `replay` needs of it."""

    id: int | None
    kind: str
    fingerprint: str


@dataclass(frozen=True)
class Held:
    """An account as this write transaction sees it.

    `balance` is read inside the transaction (BEGIN IMMEDIATE on SQLite; FOR UPDATE and
    the write lock on PostgreSQL), so no other writer can move it before the transfer
    ends. It is None for an account taken by id only, which may only be credited.
    """

    id: int
    kind: AccountKind
    balance: int | None = None


def _held(session: Session, statement, params: dict) -> Held | None:
    row = session.connection().execute(statement, params).first()
    return None if row is None else Held(row.id, AccountKind(row.kind), row.balance)


def _open_account(
    session: Session, kind: AccountKind, user_id: int | None = None, order_id: int | None = None
) -> Held:
    result = session.connection().execute(
        insert(_ACCOUNT).values(kind=kind, user_id=user_id, order_id=order_id, balance=0)
    )
    return Held(result.inserted_primary_key[0], kind, 0)


def system_account(session: Session, kind: AccountKind) -> Held:
    """EXTERNAL (or a store's old single ESCROW) with its balance (opened on first use)."""
    return _held(session, _SYSTEM, {"kind": kind}) or _open_account(session, kind)


def old_escrow(session: Session) -> Held | None:
    """The single ESCROW of a store from before v6, if it has one (never opened anew)."""
    return _held(session, _SYSTEM, {"kind": AccountKind.escrow})


def escrow(session: Session, order_id: int) -> Held:
    """The escrow of one order with its balance (opened when the order is first paid)."""
    return _held(session, _ESCROW, {"order_id": order_id}) or _open_account(
        session, AccountKind.escrow, order_id=order_id
    )


# The EXTERNAL account id of each store: made once, never changed. A credit needs only
# the id; the UPDATE checks the kind too, so a stale id can never misdirect money.
_system_ids: WeakKeyDictionary[Engine, dict[AccountKind, int]] = WeakKeyDictionary()


def system_account_ref(session: Session, kind: AccountKind) -> Held:
    """EXTERNAL by its remembered id, balance unread: to credit (or debit: it may go below)."""
    ids = _system_ids.setdefault(session.get_bind(), {})
    if kind not in ids:
        ids[kind] = system_account(session, kind).id
    return Held(ids[kind], kind)


def wallet(session: Session, user_id: int) -> Held:
    """A user's wallet with its balance (opened on first use)."""
    return _held(session, _WALLET, {"user_id": user_id}) or _open_account(
        session, AccountKind.wallet, user_id
    )


def balance(session: Session, user_id: int) -> int:
    account = session.exec(select(Account.balance).where(Account.user_id == user_id)).first()
    return account or 0


def user_key(user_id: int, key: str) -> str:
    """The stored form of a key a person gave: inside their own space, whatever the text."""
    if not key or len(key) > KEY_MAX or not key.isprintable():
        raise Invalid("idempotency_key", f"An idempotency key is 1-{KEY_MAX} printable characters.")
    return f"{USER_SPACE}{user_id}:{key}"


def market_key(order_id: int, operation: str) -> str:
    """The stored key of the market's own operation on an order (pay with no key, release…)."""
    return f"{MARKET_SPACE}order:{order_id}:{operation}"


def shown_key(stored: str) -> str:
    """What a person sees of a stored key: the text they gave, never the space around it."""
    if stored.startswith(USER_SPACE):
        return stored.split(":", 2)[2]
    return stored


def fingerprint(kind: str, order_id: int | None, params: dict) -> str:
    request = {**params, "kind": kind, "order_id": order_id}
    return hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()


def _conflict(key: str) -> Refused:
    return Refused(
        "idempotency_conflict",
        f"Idempotency key {shown_key(key)!r} was already used for a different request; "
        "use a new key for a new payment.",
    )


def replay(session: Session, key: str, kind: str, order_id: int | None, params: dict) -> Row | None:
    """The earlier transfer (id, kind) made with the stored `key`, if it asked for the same;
    refuse if not."""
    earlier = session.connection().execute(_BY_KEY, {"key": key}).first()
    if earlier is None:
        return None
    if earlier.fingerprint != fingerprint(kind, order_id, params):
        raise _conflict(key)
    return earlier


def transfer(
    session: Session,
    clock: Clock,
    *,
    key: str,
    kind: str,
    legs: list[tuple[Held, int]],
    params: dict,
    order_id: int | None = None,
    actor_id: int | None = None,
    at: int | None = None,
) -> TransferResult:
    """Move money between accounts in one balanced, append-only transfer.

    `key` is a stored key, from `user_key` or `market_key`.
    `at` dates a transfer made by a timer at its deadline rather than at `clock.now()`.
    """
    earlier = replay(session, key, kind, order_id, params)
    if earlier is not None:
        amount = sum(a for _, a in legs if a > 0)
        return TransferResult(earlier.id, earlier.kind, amount, replayed=True)
    postings = Postings(session, clock)
    postings.add(
        key=key,
        kind=kind,
        legs=legs,
        params=params,
        order_id=order_id,
        actor_id=actor_id,
        at=at,
    )
    return postings.flush()[0]


def _check_legs(legs: list[tuple[Held, int]]) -> None:
    accounts = [account.id for account, _ in legs]
    if len(legs) < 2 or sum(a for _, a in legs) != 0 or any(a == 0 for _, a in legs):
        raise ValueError(f"unbalanced transfer {legs!r}")
    if len(set(accounts)) != len(accounts):
        raise ValueError(f"an account appears twice in transfer {legs!r}")


def short(kind: AccountKind, held: int, needed: int) -> Refused:
    missing = f"{money.fmt(needed - held)} missing"
    if kind == AccountKind.wallet:
        return Refused(
            "insufficient_funds",
            f"Not enough money: this needs {money.fmt(needed)} but the wallet holds "
            f"{money.fmt(held)} ({missing}). Top up with `p2pmarket wallet topup AMOUNT`.",
        )
    # Only a damaged store gets here: an order's escrow always holds what its payment put in.
    return Refused(
        "escrow_short",
        f"Escrow holds {money.fmt(held)} but this needs {money.fmt(needed)} ({missing}); "
        "the store's ledger is damaged: run `p2pmarket verify` and restore a backup.",
    )


class Postings:
    """Transfers checked one at a time against running balances, then written together.

    `add` refuses a transfer (Refused, and nothing queued) or queues it, so the next one
    sees the balances it left; `flush` writes every queued transfer with one INSERT for
    the transfers, one UPDATE per account touched and one chained append for the entries.
    Paying a hundred orders costs a handful of statements, not a hundred times a dozen.
    `replay` sees queued keys as well as written ones. Callers run inside `store.write()`.
    """

    def __init__(self, session: Session, clock: Clock) -> None:
        self.session, self.clock = session, clock
        self._balances: dict[int, int] = {}
        self._queued: list[tuple[dict, list[tuple[Held, int]]]] = []
        self._keys: dict[str, Row | _Queued | None] = {}

    def lookup(self, keys: list[str]) -> None:
        """Read the transfers made earlier with stored `keys` in one statement (for `replay`)."""
        wanted = [k for k in keys if k not in self._keys]
        if not wanted:
            return
        found = self.session.connection().execute(_BY_KEYS, {"keys": wanted})
        self._keys.update(dict.fromkeys(wanted))
        self._keys.update((row.idem_key, row) for row in found)

    def replay(
        self, key: str, kind: str, order_id: int | None, params: dict
    ) -> Row | _Queued | None:
        """`replay` (module level) for a key looked up, queued here, or neither."""
        if key not in self._keys:
            return replay(self.session, key, kind, order_id, params)
        earlier = self._keys[key]
        if earlier is not None and earlier.fingerprint != fingerprint(kind, order_id, params):
            raise _conflict(key)
        return earlier

    def available(self, account: Held) -> int:
        """What `account` holds after the transfers queued so far."""
        return self._balances.get(account.id, account.balance)

    def add(
        self,
        *,
        key: str,
        kind: str,
        legs: list[tuple[Held, int]],
        params: dict,
        order_id: int | None = None,
        actor_id: int | None = None,
        at: int | None = None,
    ) -> None:
        _check_legs(legs)
        for account, delta in legs:
            if account.kind == AccountKind.external or delta > 0:
                continue
            held = self._balances.get(account.id, account.balance)
            if held is None:
                raise ValueError(f"debit from account {account.id} without reading its balance")
            if held + delta < 0:
                raise short(account.kind, held, -delta)
        for account, delta in legs:
            held = self._balances.get(account.id, account.balance)
            if held is not None:
                self._balances[account.id] = held + delta
        row = {
            "idem_key": key,
            "fingerprint": fingerprint(kind, order_id, params),
            "kind": kind,
            "order_id": order_id,
            "actor_id": actor_id,
            "created_at": self.clock.now() if at is None else at,
        }
        self._queued.append((row, legs))
        self._keys[key] = _Queued(None, kind, row["fingerprint"])

    def flush(self, chained: Sequence[SQLModel] = ()) -> list[TransferResult]:
        """Write what is queued; the results in the order the transfers were added.

        `chained`: other rows to append to their chains with the entries (a payment's order
        events), so the transaction reads and moves its chain heads once."""
        queued, self._queued = self._queued, []
        if not queued:
            chain.append_all(self.session, chained)
            return []
        connection = self.session.connection()
        ids = connection.execute(_NEW_TRANSFERS, [row for row, _ in queued]).scalars().all()
        moves: dict[tuple[int, AccountKind], int] = {}
        for _, legs in queued:
            for account, delta in legs:
                moves[account.id, account.kind] = moves.get((account.id, account.kind), 0) + delta
        # One statement for every account (one round trip on PostgreSQL: a pipeline).
        moved = connection.execute(
            _MOVE,
            [
                {"account_id": account_id, "account_kind": kind, "delta": delta}
                for (account_id, kind), delta in moves.items()
            ],
        )
        if moved.rowcount != len(moves):
            # Only a remembered system account id can be stale (a restored older store).
            _system_ids.pop(self.session.get_bind(), None)
            accounts = ", ".join(f"{kind} #{account_id}" for account_id, kind in moves)
            raise StoreFailure(
                "ledger_account_missing",
                f"An account of this transfer ({accounts}) is gone; nothing was moved. Retry.",
            )
        chain.append_all(
            self.session,
            [
                Entry(
                    transfer_id=transfer_id,
                    account_id=account.id,
                    amount=delta,
                    created_at=row["created_at"],
                )
                for transfer_id, (row, legs) in zip(ids, queued, strict=True)
                for account, delta in legs
            ]
            + list(chained),
        )
        results = []
        for transfer_id, (row, legs) in zip(ids, queued, strict=True):
            self._keys[row["idem_key"]] = _Queued(transfer_id, row["kind"], row["fingerprint"])
            amount = sum(a for _, a in legs if a > 0)
            results.append(TransferResult(transfer_id, row["kind"], amount, replayed=False))
        return results


def topup(session: Session, clock: Clock, user_id: int, amount: int, key: str) -> TransferResult:
    money.check(amount)
    return transfer(
        session,
        clock,
        key=user_key(user_id, key),
        kind="topup",
        actor_id=user_id,
        legs=[
            (system_account_ref(session, AccountKind.external), -amount),
            (wallet(session, user_id), amount),
        ],
        params={"user": user_id, "amount": amount},
    )


def withdraw(session: Session, clock: Clock, user_id: int, amount: int, key: str) -> TransferResult:
    money.check(amount)
    return transfer(
        session,
        clock,
        key=user_key(user_id, key),
        kind="withdraw",
        actor_id=user_id,
        legs=[
            (wallet(session, user_id), -amount),
            (system_account_ref(session, AccountKind.external), amount),
        ],
        params={"user": user_id, "amount": amount},
    )


@dataclass(frozen=True)
class WalletView:
    handle: str
    balance: int
    entries: list[dict]

    def to_json(self) -> dict:
        return {"handle": self.handle, "balance": self.balance, "entries": self.entries}


@dataclass(frozen=True)
class Moved:
    """Money moved in or out of a wallet, and the balance it left."""

    transfer: TransferResult
    balance: int

    def to_json(self) -> dict:
        return {**self.transfer.to_json(), "balance": self.balance}


def statement(session: Session, user_id: int, limit: int = 20) -> list[dict]:
    rows = session.exec(
        select(Entry, Transfer)
        .join(Transfer, col(Transfer.id) == col(Entry.transfer_id))
        .join(Account, col(Account.id) == col(Entry.account_id))
        .where(Account.user_id == user_id)
        .order_by(col(Entry.id).desc())
        .limit(limit)
    )
    return [
        {
            "entry_id": e.id,
            "at": e.created_at,
            "kind": t.kind,
            "amount": e.amount,
            "order_id": t.order_id,
        }
        for e, t in rows
    ]


@dataclass(frozen=True)
class Totals:
    sum_of_balances: int
    sum_of_entries: int
    negative_wallets: int
    escrow: int


def totals(session: Session) -> Totals:
    """The ledger's invariants, as numbers (verify and tests compare them)."""
    return Totals(
        sum_of_balances=session.exec(select(func.coalesce(func.sum(Account.balance), 0))).one(),
        sum_of_entries=session.exec(select(func.coalesce(func.sum(Entry.amount), 0))).one(),
        negative_wallets=session.exec(
            select(func.count())
            .select_from(Account)
            .where(Account.kind != AccountKind.external, Account.balance < 0)
        ).one(),
        escrow=session.exec(
            select(func.coalesce(func.sum(Account.balance), 0)).where(
                Account.kind == AccountKind.escrow
            )
        ).one(),
    )
