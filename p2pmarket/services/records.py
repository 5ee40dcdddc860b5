"""Records that can't be quietly rewritten: verify, backups, restore, export, history.

Each chained row stores `prev_hash` (the hash of the row before it in its chain)
and `hash` = sha256(prev_hash + canonical content, id included); rows are only ever
added through chain.append. `verify` walks every chain: editing, deleting, inserting
or reordering any row breaks the chain at that row. `chain_head` holds each chain's
last hash; updating it inside the write transaction serialises appends.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import os
import sqlite3
import tempfile
from dataclasses import asdict, dataclass, replace
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import func
from sqlmodel import Session, SQLModel, col, select

from p2pmarket import files
from p2pmarket.clock import Clock
from p2pmarket.config import Config
from p2pmarket.db import Store
from p2pmarket.errors import Invalid, Refused, StoreFailure
from p2pmarket.models import (
    Account,
    BackupLog,
    ChainHead,
    CreditDimension,
    CreditEvent,
    Entry,
    Meta,
    Order,
    OrderEvent,
    OrderStatus,
    Review,
    Transfer,
    User,
)
from p2pmarket.services import chain, ledger

DAILY_KEY = "last_daily_backup"
# Sanity caps on files a person names: far above any real market, far below a disk.
BACKUP_MAX_BYTES = 64 * 1024 * files.MIB
EXPORT_MAX_BYTES = 64 * files.MIB


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
    """Walk every chain and check the ledger's invariants."""
    checked, problems = {}, []
    for model, name in chain.CHAINS.items():
        count, problem = _walk(session, model, name)
        checked[name] = count
        if problem:
            problems.append(problem)
    problems.extend(_ledger_problems(session))
    return VerifyReport(rows_checked=checked, problems=problems)


# --------------------------------------------------------------------------- backups


@dataclass(frozen=True)
class BackupView:
    path: str
    reason: str
    at: int
    size_bytes: int

    def to_json(self) -> dict:
        return asdict(self)


def backup(
    store: Store, clock: Clock, dest: Path | None = None, reason: str = "manual"
) -> BackupView:
    """Copy the store with SQLite's online backup API and log it."""
    at = clock.now()
    dest = Path(dest) if dest else store.config.backup_dir / f"market-{_stamp(at)}-{reason}.db"
    if dest.exists():
        raise Invalid("backup_exists", f"{dest} exists already; choose another path.")
    try:
        store.backup(dest)
    except OSError as exc:
        raise StoreFailure(
            "backup_failed", f"Cannot write the backup {dest}: {exc.strerror}."
        ) from exc
    row = BackupLog(path=str(dest), reason=reason, at=at, size_bytes=dest.stat().st_size)
    with store.write() as session:
        session.add(row)
    return BackupView(row.path, row.reason, row.at, row.size_bytes)


def _stamp(at: int) -> str:
    return datetime.fromtimestamp(at, UTC).strftime("%Y%m%d-%H%M%S")


def list_backups(session: Session) -> list[BackupView]:
    rows = session.exec(select(BackupLog).order_by(col(BackupLog.id).desc())).all()
    return [BackupView(r.path, r.reason, r.at, r.size_bytes) for r in rows]


def daily_backup(store: Store, clock: Clock) -> BackupView | None:
    """Once a day, on first use of a store with people in it, keep a copy; prune old dailies."""
    day = datetime.fromtimestamp(clock.now(), UTC).strftime("%Y%m%d")
    with store.read() as session:
        last = session.get(Meta, DAILY_KEY)
        if (last is not None and last.value == day) or session.exec(
            select(User.id)
        ).first() is None:
            return None
    dest = store.config.backup_dir / f"market-{day}-daily.db"
    # Today's copy may exist already, from a store that was reset today: keep that one.
    made = None if dest.exists() else backup(store, clock, dest, "daily")
    with store.write() as session:
        session.merge(Meta(key=DAILY_KEY, value=day))
        dailies = session.exec(
            select(BackupLog).where(BackupLog.reason == "daily").order_by(col(BackupLog.id).desc())
        ).all()
        for old in dailies[store.config.settings.backups_kept :]:
            Path(old.path).unlink(missing_ok=True)
            session.delete(old)
    return made


def check_backup(config: Config, path: Path) -> VerifyReport:
    """Open a copy of the backup file (never the file itself) and verify it."""
    path = Path(path)
    files.check(path, cap=BACKUP_MAX_BYTES, what="backup (a .db file)")
    with tempfile.TemporaryDirectory(dir=config.home) as tmp:
        probe = Path(tmp) / "probe.db"
        try:
            _copy_sqlite(path, probe)
        except sqlite3.DatabaseError as exc:
            raise StoreFailure(
                "backup_unreadable", f"{path} is not a readable store: {exc}."
            ) from None
        store = Store.open(replace(config, db_url=f"sqlite:///{probe}", home=Path(tmp)))
        try:
            with store.read() as session:
                return verify(session)
        finally:
            store.close()


def _copy_sqlite(src: Path, dest: Path) -> None:
    source = sqlite3.connect(f"file:{src}?mode=ro", uri=True)
    target = sqlite3.connect(dest)
    try:
        source.backup(target)
    finally:
        target.close()
        source.close()


def restore(config: Config, clock: Clock, path: Path) -> Path | None:
    """Verify the backup, keep the current store aside, then put the backup in its place.

    Returns where the previous store was kept (None when there was none).
    """
    report = check_backup(config, path)
    if not report.ok:
        first = report.problems[0]
        raise Refused(
            "backup_fails_verify",
            f"Refusing to restore {path}: it fails verify ({first.table} "
            f"#{first.row_id}: {first.what}). Choose an older backup.",
        )
    live = config.sqlite_path
    live.parent.mkdir(parents=True, exist_ok=True)
    incoming = live.with_name(live.name + ".restoring")
    incoming.unlink(missing_ok=True)
    _copy_sqlite(Path(path), incoming)
    kept = None
    if live.exists():
        kept = live.with_name(f"{live.stem}-before-restore-{_stamp(clock.now())}.db")
        _copy_sqlite(live, kept)
    for suffix in ("-wal", "-shm"):
        Path(f"{live}{suffix}").unlink(missing_ok=True)
    os.replace(incoming, live)
    return kept


# ---------------------------------------------------------------------------- export

EXPORT_FORMAT = "p2pmarket-history/1"


def _chain_heads(session: Session) -> dict[str, dict]:
    return {
        h.name: {"last_id": h.last_id, "last_hash": h.last_hash}
        for h in session.exec(select(ChainHead).order_by(col(ChainHead.name)))
    }


def export_history(session: Session, user: User) -> dict:
    """A user's whole history with every row's hash and the chain heads (an outside anchor)."""
    order_rows = session.exec(
        select(Order)
        .where((Order.buyer_id == user.id) | (Order.seller_id == user.id))
        .order_by(col(Order.id))
    ).all()
    handles = dict(session.exec(select(User.id, User.handle)).all())
    orders = []
    for o in order_rows:
        events = session.exec(
            select(OrderEvent).where(OrderEvent.order_id == o.id).order_by(col(OrderEvent.id))
        ).all()
        orders.append(
            {
                "id": o.id,
                "title": o.title,
                "buyer": handles[o.buyer_id],
                "seller": handles[o.seller_id],
                "amount": o.amount,
                "status": str(o.status),
                "events": [
                    {
                        "id": e.id,
                        "at": e.at,
                        "from": e.from_status,
                        "to": e.to_status,
                        "amount": e.amount,
                        "note": e.note,
                        "hash": e.hash,
                    }
                    for e in events
                ],
            }
        )
    wallet = session.exec(select(Account.id).where(Account.user_id == user.id)).first()
    payments = (
        [
            {
                "id": e.id,
                "at": e.created_at,
                "kind": t.kind,
                "amount": e.amount,
                "order_id": t.order_id,
                "hash": e.hash,
            }
            for e, t in session.exec(
                select(Entry, Transfer)
                .join(Transfer, col(Transfer.id) == col(Entry.transfer_id))
                .where(Entry.account_id == wallet)
                .order_by(col(Entry.id))
            )
        ]
        if wallet
        else []
    )
    credit_events = [
        {
            "id": c.id,
            "at": c.at,
            "dimension": str(c.dimension),
            "delta": c.delta,
            "score_after": c.score_after,
            "reason": c.reason,
            "hash": c.hash,
        }
        for c in session.exec(
            select(CreditEvent).where(CreditEvent.user_id == user.id).order_by(col(CreditEvent.id))
        )
    ]
    reviews = [
        {
            "id": r.id,
            "at": r.at,
            "order_id": r.order_id,
            "author": handles[r.author_id],
            "subject": handles[r.subject_id],
            "stars": r.stars,
            "text": r.text,
            "hash": r.hash,
        }
        for r in session.exec(
            select(Review)
            .where((Review.author_id == user.id) | (Review.subject_id == user.id))
            .order_by(col(Review.id))
        )
    ]
    body = {
        "format": EXPORT_FORMAT,
        "handle": user.handle,
        "orders": orders,
        "payments": payments,
        "credit_events": credit_events,
        "reviews": reviews,
        "chain_heads": _chain_heads(session),
    }
    return {**body, "history_hash": _body_hash(body)}


def export_json(data: dict) -> str:
    """An export as the JSON `verify_export` reads back."""
    return json.dumps(data, ensure_ascii=False, indent=2) + "\n"


def export_csv(data: dict) -> str:
    """An export as CSV: one row per record, then the chain heads and the history hash."""
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["record", "id", "at", "what", "amount", "order", "score_after", "hash"])
    for o in data["orders"]:
        for e in o["events"]:
            writer.writerow(
                [
                    "order_event",
                    e["id"],
                    e["at"],
                    f"{e['from']}->{e['to']}",
                    e["amount"],
                    o["id"],
                    "",
                    e["hash"],
                ]
            )
    for p in data["payments"]:
        writer.writerow(
            [
                "payment",
                p["id"],
                p["at"],
                p["kind"],
                p["amount"],
                p["order_id"] or "",
                "",
                p["hash"],
            ]
        )
    for e in data["credit_events"]:
        writer.writerow(
            [
                "credit_event",
                e["id"],
                e["at"],
                f"{e['dimension']}: {e['reason']}",
                e["delta"],
                "",
                e["score_after"],
                e["hash"],
            ]
        )
    for r in data["reviews"]:
        writer.writerow(
            [
                "review",
                r["id"],
                r["at"],
                f"{r['stars']} stars by {r['author']}",
                "",
                r["order_id"],
                "",
                r["hash"],
            ]
        )
    for name, head in data["chain_heads"].items():
        writer.writerow(["chain_head", head["last_id"], "", name, "", "", "", head["last_hash"]])
    writer.writerow(["history_hash", "", "", "", "", "", "", data["history_hash"]])
    return buffer.getvalue()


def _body_hash(body: dict) -> str:
    data = json.dumps(body, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(data.encode()).hexdigest()


# (chain, export list, table) for checking an export row by row against the store.
_EXPORTED = (
    ("ledger", "payments", Entry),
    ("credit_events", "credit_events", CreditEvent),
    ("reviews", "reviews", Review),
)


def read_export(path: Path) -> object:
    """An export file as JSON (its shape is checked by `verify_export`)."""
    return files.read_json(
        path, cap=EXPORT_MAX_BYTES, what=f"{EXPORT_FORMAT} export (p2pmarket export --format json)"
    )


def verify_export(session: Session, data: dict) -> VerifyReport:
    """Prove an exported history still matches this store (and the store's chains hold)."""
    if not isinstance(data, dict) or data.get("format") != EXPORT_FORMAT:
        raise Invalid("export_format", f"Not a {EXPORT_FORMAT} export.")
    body = {k: v for k, v in data.items() if k != "history_hash"}
    problems = []
    if _body_hash(body) != data.get("history_hash"):
        problems.append(
            Problem(
                "export", "file", None, "the file was changed after export (history_hash mismatch)"
            )
        )
    rows = [(name, model, item) for name, key, model in _EXPORTED for item in data.get(key, [])]
    rows += [
        ("order_events", OrderEvent, e) for o in data.get("orders", []) for e in o.get("events", [])
    ]
    for name, model, item in rows:
        stored = session.get(model, item.get("id"))
        if stored is None or stored.hash != item.get("hash"):
            problems.append(
                Problem(
                    name,
                    model.__tablename__,
                    item.get("id"),
                    "the store's row differs from the exported one",
                )
            )
    for name, head in data.get("chain_heads", {}).items():
        model = next((m for m, n in chain.CHAINS.items() if n == name), None)
        stored = session.get(model, head.get("last_id")) if model and head.get("last_id") else None
        if head.get("last_id") and (stored is None or stored.hash != head.get("last_hash")):
            problems.append(
                Problem(
                    name,
                    model.__tablename__ if model else name,
                    head.get("last_id"),
                    "the chain no longer reaches the exported head (rewritten)",
                )
            )
    store_report = verify(session)
    return VerifyReport(
        rows_checked={**store_report.rows_checked, "exported": len(rows)},
        problems=problems + store_report.problems,
    )


def history(session: Session, user: User, *, limit: int = 200) -> list[dict]:
    """The transaction-credit history, newest first, each line with the score after it."""
    rows = session.exec(
        select(CreditEvent)
        .where(CreditEvent.user_id == user.id, CreditEvent.dimension == CreditDimension.transaction)
        .order_by(col(CreditEvent.id).desc())
        .limit(limit)
    ).all()
    return [
        {"id": r.id, "at": r.at, "delta": r.delta, "score_after": r.score_after, "reason": r.reason}
        for r in rows
    ]
