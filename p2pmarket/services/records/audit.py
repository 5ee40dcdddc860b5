"""Records that can't be quietly rewritten: `verify` walks every chain and the ledger's invariants.

Each chained row stores `prev_hash` (the hash of the row before it in its chain)
and `hash` = sha256(prev_hash + canonical content, id included); rows are only ever
added through chain.append. Editing, deleting, inserting or reordering any row breaks
the chain at that row. `chain_head` holds each chain's last hash; updating it inside
the write transaction serialises appends.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from sqlalchemy import func
from sqlmodel import Session, SQLModel, col, select

from p2pmarket.models import (
    Account,
    ChainHead,
    Entry,
    Order,
    OrderStatus,
)
from p2pmarket.services.money import ledger
from p2pmarket.services.records import chain
from p2pmarket.store.engine import integrity_problems

# ---------------------------------------------------------------------------- verify


@dataclass(frozen=True)
class Problem:
    chain: str
    table: str
    row_id: int | None
    what: str

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class VerifyReport:
    rows_checked: dict[str, int]
    problems: list[Problem]

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict:
        return {
            "ok": self.ok,
            "rows_checked": self.rows_checked,
            "problems": [p.to_json() for p in self.problems],
        }


def _walk(session: Session, model: type[SQLModel], name: str) -> tuple[int, Problem | None]:
    """Check one chain row by row; the first broken row is the one reported."""
    table = model.__tablename__
    head = session.get(ChainHead, name)
    prev, expected, count = chain.GENESIS, 1, 0
    rows = session.exec(select(model).order_by(col(model.id)).execution_options(yield_per=2000))
    for row in rows:
        count += 1
        if row.id != expected:
            return count, Problem(
                name,
                table,
                row.id,
                f"rows {expected}..{row.id - 1} before this one are missing (deleted)",
            )
        if row.prev_hash != prev:
            return count, Problem(
                name,
                table,
                row.id,
                "its link to the previous row is broken "
                "(a row before it was deleted, inserted or moved)",
            )
        if chain.digest(row.prev_hash, row) != row.hash:
            return count, Problem(
                name, table, row.id, "its content no longer matches its hash (edited or moved)"
            )
        prev, expected = row.hash, row.id + 1
    last_id = expected - 1
    if head is None:
        if count:
            return count, Problem(name, table, None, "the chain has rows but no recorded head")
        return count, None
    if head.last_id > last_id:
        return count, Problem(
            name,
            table,
            last_id + 1,
            f"rows {last_id + 1}..{head.last_id} at the end are missing (deleted)",
        )
    if head.last_id < last_id or head.last_hash != prev:
        return count, Problem(
            name,
            table,
            head.last_id + 1 if head.last_id < last_id else last_id,
            "rows were added or changed outside the chain (head mismatch)",
        )
    return count, None


def _ledger_problems(session: Session) -> list[Problem]:
    problems = []
    totals = ledger.totals(session)
    if totals.sum_of_balances != 0:
        problems.append(
            Problem(
                "ledger", "account", None, f"balances sum to {totals.sum_of_balances}, not zero"
            )
        )
    if totals.negative_wallets:
        problems.append(
            Problem("ledger", "account", None, f"{totals.negative_wallets} wallet(s) below zero")
        )
    drift = session.exec(
        select(Account.id)
        .outerjoin(Entry, col(Entry.account_id) == col(Account.id))
        .group_by(col(Account.id))
        .having(func.coalesce(func.sum(Entry.amount), 0) != col(Account.balance))
    ).all()
    for account_id in drift:
        problems.append(
            Problem(
                "ledger", "account", account_id, "its balance differs from the sum of its entries"
            )
        )
    unbalanced = session.exec(
        select(Entry.transfer_id)
        .group_by(col(Entry.transfer_id))
        .having(func.sum(Entry.amount) != 0)
    ).all()
    for transfer_id in unbalanced:
        problems.append(Problem("ledger", "transfer", transfer_id, "its entries don't sum to zero"))
    held = session.exec(
        select(func.coalesce(func.sum(Order.amount), 0)).where(
            col(Order.status).in_([OrderStatus.paid, OrderStatus.delivered, OrderStatus.disputed])
        )
    ).one()
    if held != totals.escrow:
        problems.append(
            Problem(
                "ledger",
                "account",
                None,
                f"escrow holds {totals.escrow} but open paid orders total {held}",
            )
        )
    return problems


def verify(session: Session) -> VerifyReport:
    """SQLite's integrity_check first (a damaged file is reported, and its chains are not
    walked: rows read from broken pages prove nothing), then every chain and the ledger."""
    damage = integrity_problems(session)
    if damage:
        more = f" (and {len(damage) - 1} more)" if len(damage) > 1 else ""
        what = f"SQLite's integrity_check fails: {damage[0]}{more}"
        return VerifyReport(rows_checked={}, problems=[Problem("store", "file", None, what)])
    checked, problems = {}, []
    for model, name in chain.CHAINS.items():
        count, problem = _walk(session, model, name)
        checked[name] = count
        if problem:
            problems.append(problem)
    problems.extend(_ledger_problems(session))
    return VerifyReport(rows_checked=checked, problems=problems)


# --------------------------------------------------------------------------- backups
