"""Double-entry ledger: money moves only in balanced transfers, and never twice.

Accounts are each user's wallet, one ESCROW and one EXTERNAL (the world outside:
top-ups and withdrawals). A transfer has two or more entries summing to zero;
entries are append-only and hash-chained (records.py). No wallet and no escrow
ever goes below zero; EXTERNAL is the only account that may. Every transfer
carries an idempotency key: the same key with the same parameters returns the
original transfer, the same key with other parameters is refused.

Callers run inside `store.write()` (BEGIN IMMEDIATE on SQLite, the write lock on
PostgreSQL), so the balance check and the debit cannot interleave with another
writer; accounts are also read FOR UPDATE. Idempotency keys are unique in the database.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from weakref import WeakKeyDictionary

from sqlalchemy import Engine, Row, bindparam, func, insert, update
from sqlmodel import Session, col, select

from p2pmarket import money
from p2pmarket.clock import Clock
from p2pmarket.errors import Invalid, Refused, StoreFailure
from p2pmarket.models import Account, AccountKind, Entry, Transfer
from p2pmarket.services import records

KEY_MAX = 255


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
# FOR UPDATE is a no-op under SQLite's single writer. On PostgreSQL writers already queue
# on the store's write lock (db_pg.py); the row lock keeps the balance check safe even for
# a writer outside `Store.write`.
_WALLET = (
    select(*_ACCOUNT_COLUMNS).where(_ACCOUNT.c.user_id == bindparam("user_id")).with_for_update()
)
_SYSTEM = (
    select(*_ACCOUNT_COLUMNS)
    .where(_ACCOUNT.c.kind == bindparam("kind"), _ACCOUNT.c.user_id.is_(None))
    .with_for_update()
)
_MOVE = (
    update(_ACCOUNT)
    .where(_ACCOUNT.c.id == bindparam("account_id"), _ACCOUNT.c.kind == bindparam("account_kind"))
    .values(balance=_ACCOUNT.c.balance + bindparam("delta"))
)
_BY_KEY = select(_TRANSFER.c.id, _TRANSFER.c.kind, _TRANSFER.c.fingerprint).where(
    _TRANSFER.c.idem_key == bindparam("key")
)
_NEW_TRANSFER = insert(_TRANSFER)


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


def _open_account(session: Session, kind: AccountKind, user_id: int | None) -> Held:
    result = session.connection().execute(
        insert(_ACCOUNT).values(kind=kind, user_id=user_id, balance=0)
    )
    return Held(result.inserted_primary_key[0], kind, 0)


def system_account(session: Session, kind: AccountKind) -> Held:
    """ESCROW or EXTERNAL with its balance (opened on first use)."""
    return _held(session, _SYSTEM, {"kind": kind}) or _open_account(session, kind, None)


# The ESCROW and EXTERNAL account ids of each store: made once, never changed. A credit
# needs only the id; the UPDATE checks the kind too, so a stale id can never misdirect money.
_system_ids: WeakKeyDictionary[Engine, dict[AccountKind, int]] = WeakKeyDictionary()


def system_account_ref(session: Session, kind: AccountKind) -> Held:
    """ESCROW or EXTERNAL by its remembered id, balance unread: to credit (or EXTERNAL)."""
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


def check_key(key: str) -> str:
    if not key or len(key) > KEY_MAX or not key.isprintable():
        raise Invalid("idempotency_key", f"An idempotency key is 1-{KEY_MAX} printable characters.")
    return key


def fingerprint(kind: str, order_id: int | None, params: dict) -> str:
    request = {**params, "kind": kind, "order_id": order_id}
    return hashlib.sha256(json.dumps(request, sort_keys=True).encode()).hexdigest()


def replay(session: Session, key: str, kind: str, order_id: int | None, params: dict) -> Row | None:
    """The earlier transfer (id, kind) made with `key`, if it asked for the same; refuse if not."""
    earlier = session.connection().execute(_BY_KEY, {"key": check_key(key)}).first()
    if earlier is None:
        return None
    if earlier.fingerprint != fingerprint(kind, order_id, params):
        raise Refused(
            "idempotency_conflict",
            f"Idempotency key {key!r} was already used for a different request; "
            "use a new key for a new payment.",
        )
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

    `at` dates a transfer made by a timer at its deadline rather than at `clock.now()`.
    """
    earlier = replay(session, key, kind, order_id, params)
    if earlier is not None:
        amount = sum(a for _, a in legs if a > 0)
        return TransferResult(earlier.id, earlier.kind, amount, replayed=True)
    return post(
        session,
        clock,
        key=key,
        kind=kind,
        legs=legs,
        params=params,
        order_id=order_id,
        actor_id=actor_id,
        at=at,
    )


def post(
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
    """`transfer` for a caller that has just called `replay` in this transaction."""
    accounts = [account.id for account, _ in legs]
    if len(legs) < 2 or sum(a for _, a in legs) != 0 or any(a == 0 for _, a in legs):
        raise ValueError(f"unbalanced transfer {legs!r}")
    if len(set(accounts)) != len(accounts):
        raise ValueError(f"an account appears twice in transfer {legs!r}")
    for account, delta in legs:
        if account.kind == AccountKind.external or delta > 0:
            continue
        if account.balance is None:
            raise ValueError(f"debit from account {account.id} without reading its balance")
        if account.balance + delta < 0:
            short = -(account.balance + delta)
            raise Refused(
                "insufficient_funds",
                f"Not enough money: this needs {money.fmt(-delta)} but the wallet holds "
                f"{money.fmt(account.balance)} ({money.fmt(short)} missing). "
                "Top up with `p2pmarket wallet topup AMOUNT`.",
            )
    now = clock.now() if at is None else at
    connection = session.connection()
    transfer_id = connection.execute(
        _NEW_TRANSFER,
        {
            "idem_key": key,
            "fingerprint": fingerprint(kind, order_id, params),
            "kind": kind,
            "order_id": order_id,
            "actor_id": actor_id,
            "created_at": now,
        },
    ).inserted_primary_key[0]
    for account, delta in legs:
        moved = connection.execute(
            _MOVE, {"account_id": account.id, "account_kind": account.kind, "delta": delta}
        )
        if moved.rowcount != 1:
            # Only a remembered system account id can be stale (a restored older store).
            _system_ids.pop(session.get_bind(), None)
            raise StoreFailure(
                "ledger_account_missing",
                f"The {account.kind} account #{account.id} is gone; nothing was moved. Retry.",
            )
    records.append_all(
        session,
        [
            Entry(transfer_id=transfer_id, account_id=account.id, amount=delta, created_at=now)
            for account, delta in legs
        ],
    )
    return TransferResult(transfer_id, kind, sum(a for _, a in legs if a > 0), replayed=False)


def topup(session: Session, clock: Clock, user_id: int, amount: int, key: str) -> TransferResult:
    money.check(amount)
    return transfer(
        session,
        clock,
        key=key,
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
        key=key,
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
    in_escrow_buying: int
    entries: list[dict]

    def to_json(self) -> dict:
        return {
            "handle": self.handle,
            "balance": self.balance,
            "in_escrow_buying": self.in_escrow_buying,
            "entries": self.entries,
        }


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
