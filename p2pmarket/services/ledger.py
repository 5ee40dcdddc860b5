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

from sqlalchemy import func
from sqlmodel import Session, col, select

from p2pmarket import money
from p2pmarket.clock import Clock
from p2pmarket.errors import Invalid, Refused
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


def _locked(statement):
    """Read accounts FOR UPDATE with fresh balances (a no-op under SQLite's single writer).

    On PostgreSQL writers already queue on the store's write lock (db_pg.py); the row
    lock keeps the balance check safe even for a writer outside `Store.write`.
    """
    return statement.with_for_update().execution_options(populate_existing=True)


def system_account(session: Session, kind: AccountKind) -> Account:
    account = session.exec(
        _locked(select(Account).where(Account.kind == kind, col(Account.user_id).is_(None)))
    ).first()
    if account is None:
        account = Account(kind=kind)
        session.add(account)
        session.flush()
    return account


def wallet(session: Session, user_id: int) -> Account:
    account = session.exec(_locked(select(Account).where(Account.user_id == user_id))).first()
    if account is None:
        account = Account(kind=AccountKind.wallet, user_id=user_id)
        session.add(account)
        session.flush()
    return account


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


def replay(
    session: Session, key: str, kind: str, order_id: int | None, params: dict
) -> Transfer | None:
    """The earlier transfer made with `key`, if it asked for the same; refuse if not."""
    earlier = session.exec(select(Transfer).where(Transfer.idem_key == check_key(key))).first()
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
    legs: list[tuple[Account, int]],
    params: dict,
    order_id: int | None = None,
    actor_id: int | None = None,
    at: int | None = None,
) -> TransferResult:
    """Move money between accounts in one balanced, append-only transfer.

    `at` dates a transfer made by a timer at its deadline rather than at `clock.now()`.
    """
    earlier = replay(session, key, kind, order_id, params)
    amount = sum(a for _, a in legs if a > 0)
    if earlier is not None:
        return TransferResult(earlier.id, earlier.kind, amount, replayed=True)
    if len(legs) < 2 or sum(a for _, a in legs) != 0 or any(a == 0 for _, a in legs):
        raise ValueError(f"unbalanced transfer {legs!r}")
    for account, delta in legs:
        if account.kind != AccountKind.external and account.balance + delta < 0:
            short = -(account.balance + delta)
            raise Refused(
                "insufficient_funds",
                f"Not enough money: this needs {money.fmt(-delta)} but the wallet holds "
                f"{money.fmt(account.balance)} ({money.fmt(short)} missing). "
                "Top up with `p2pmarket wallet topup AMOUNT`.",
            )
    now = clock.now() if at is None else at
    row = Transfer(
        idem_key=key,
        fingerprint=fingerprint(kind, order_id, params),
        kind=kind,
        order_id=order_id,
        actor_id=actor_id,
        created_at=now,
    )
    session.add(row)
    session.flush()
    for account, delta in legs:
        account.balance += delta
        session.add(account)
        records.append(
            session, Entry(transfer_id=row.id, account_id=account.id, amount=delta, created_at=now)
        )
    return TransferResult(row.id, kind, amount, replayed=False)


def topup(session: Session, clock: Clock, user_id: int, amount: int, key: str) -> TransferResult:
    money.check(amount)
    return transfer(
        session,
        clock,
        key=key,
        kind="topup",
        actor_id=user_id,
        legs=[
            (system_account(session, AccountKind.external), -amount),
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
            (system_account(session, AccountKind.external), amount),
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
