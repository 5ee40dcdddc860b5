"""Records that can't be quietly rewritten: `verify` walks every chain and the ledger's invariants.

Each chained row stores `prev_hash` (the hash of the row before it in its owner's chain,
hashchain.py) and `hash` = sha256(prev_hash + canonical content, id included); rows are
only ever added through chain.append. Editing, deleting, inserting or reordering any row
breaks its chain at that row; `chain_head` holds each chain's last row, and the
checkpoints every head they saw, so deleting a chain's last rows shows too.

A full verify walks everything. An incremental one (`since` a checkpoint verified
before) walks only the rows appended after it, linked to the last row before it, plus
every newer checkpoint and every head any checkpoint recorded (one join per kind).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import asdict, dataclass
from itertools import groupby
from pathlib import Path

from sqlalchemy import case, func
from sqlmodel import Session, col, select

from p2pmarket.clock import Clock
from p2pmarket.hashchain import GENESIS, KINDS, ChainKind
from p2pmarket.models import (
    Account,
    ChainHead,
    Checkpoint,
    CheckpointHead,
    Entry,
    Meta,
    Order,
)
from p2pmarket.services.market import photos
from p2pmarket.services.money import ledger
from p2pmarket.services.money.orders import HELD
from p2pmarket.services.records import chain, signing
from p2pmarket.services.trust import operators
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
    # The checkpoint the walk started after (None: a full verify from the first row).
    since: int | None = None
    # Rows whose signature checked, and rows from before anyone (or the market) had a key.
    signed: int = 0
    unsigned_legacy: int = 0
    # Listing photos whose files were hashed (not chained rows: files named by their hash).
    photos_checked: int = 0

    @property
    def ok(self) -> bool:
        return not self.problems

    def to_json(self) -> dict:
        return {
            "ok": self.ok,
            "full": self.since is None,
            "since_checkpoint": self.since,
            "rows_checked": self.rows_checked,
            "signed": self.signed,
            "unsigned_legacy": self.unsigned_legacy,
            "photos_checked": self.photos_checked,
            "problems": [p.to_json() for p in self.problems],
        }


def _owned_rows(session: Session, kind: ChainKind, after: int) -> Iterator[tuple[int, list]]:
    """The rows of `kind` with id > `after`, by owner then id, grouped by owner."""
    model = kind.model
    owner = kind.owner_column()
    order = [owner, col(model.id)] if owner is not None else [col(model.id)]
    rows = session.exec(
        select(model)
        .where(col(model.id) > after)
        .order_by(*order)
        .execution_options(yield_per=2000)
    )
    yield from ((owner, list(group)) for owner, group in groupby(rows, kind.owner_of))


def _tip_before(session: Session, kind: ChainKind, owner: int, after: int) -> str:
    """The hash of the owner's last row with id <= `after` (an incremental walk's start)."""
    model = kind.model
    query = select(model.hash).where(col(model.id) <= after)
    if kind.owner:
        query = query.where(kind.owner_column() == owner)
    last = session.exec(query.order_by(col(model.id).desc()).limit(1)).first()
    return last if last is not None else GENESIS


def _walk_one(
    kind: ChainKind, owner: int, prev: str, rows: list, head: ChainHead | None
) -> Problem | None:
    """Check one chain row by row against its head; the first broken row is reported."""
    label, table = kind.label(owner), kind.model.__tablename__
    for row in rows:
        if row.prev_hash != prev:
            return Problem(
                label,
                table,
                row.id,
                "its link to the previous row is broken "
                "(a row before it was deleted, inserted or moved)",
            )
        if chain.digest(row.prev_hash, row) != row.hash:
            return Problem(
                label, table, row.id, "its content no longer matches its hash (edited or moved)"
            )
        prev = row.hash
    last_id = rows[-1].id
    if head is None:
        return Problem(label, table, last_id, "the chain has rows but no recorded head")
    if head.last_id > last_id:
        return Problem(
            label, table, last_id, f"rows after it up to #{head.last_id} are missing (deleted)"
        )
    if head.last_id < last_id or head.last_hash != prev:
        return Problem(
            label,
            table,
            head.last_id if head.last_id < last_id else last_id,
            "rows were added or changed outside the chain (head mismatch)",
        )
    return None


def _walk(session: Session, kind: ChainKind, after: int) -> tuple[int, list[Problem]]:
    """Walk every chain of one kind (only rows with id > `after`); rows counted, problems."""
    heads = {
        h.owner_id: h for h in session.exec(select(ChainHead).where(ChainHead.kind == kind.name))
    }
    count, problems, seen = 0, [], set()
    for owner, rows in _owned_rows(session, kind, after):
        count += len(rows)
        seen.add(owner)
        prev = _tip_before(session, kind, owner, after) if after else GENESIS
        problem = _walk_one(kind, owner, prev, rows, heads.get(owner))
        if problem:
            problems.append(problem)
    for owner, head in heads.items():
        if owner not in seen and head.last_id > after:
            problems.append(
                Problem(
                    kind.label(owner),
                    kind.model.__tablename__,
                    head.last_id,
                    "the chain's rows up to its head are missing (deleted)",
                )
            )
    return count, problems


def _checkpoint_problems(session: Session, after: int) -> list[Problem]:
    """Newer checkpoints still bind their heads, and every head any checkpoint recorded
    is still in its chain (so deleting a chain's last rows and moving its head back shows)."""
    problems = []
    recorded = session.exec(
        select(CheckpointHead)
        .where(col(CheckpointHead.checkpoint_id) > after)
        .order_by(col(CheckpointHead.checkpoint_id))
    )
    by_checkpoint = {
        cid: list(group) for cid, group in groupby(recorded, lambda h: h.checkpoint_id)
    }
    for cp in session.exec(select(Checkpoint).where(col(Checkpoint.id) > after)):
        heads = by_checkpoint.get(cp.id, [])
        bound = chain.heads_digest((h.kind, h.owner_id, h.last_id, h.last_hash) for h in heads)
        if len(heads) != cp.heads or bound != cp.digest:
            problems.append(
                Problem("checkpoints", "checkpoint", cp.id, "the heads it recorded were changed")
            )
    for kind in chain.RECORDED:
        model = kind.model
        owner = kind.owner_column() if kind.owner else 0
        gone = session.exec(
            select(CheckpointHead.checkpoint_id, CheckpointHead.owner_id, CheckpointHead.last_id)
            .outerjoin(model, col(model.id) == col(CheckpointHead.last_id))
            .where(
                CheckpointHead.kind == kind.name,
                (col(model.id).is_(None))
                | (col(model.hash) != col(CheckpointHead.last_hash))
                | (owner != col(CheckpointHead.owner_id)),
            )
            .order_by(col(CheckpointHead.checkpoint_id))
        ).all()
        reported = set()
        for checkpoint_id, owner_id, last_id in gone:
            if owner_id in reported:
                continue
            reported.add(owner_id)
            problems.append(
                Problem(
                    kind.label(owner_id),
                    model.__tablename__,
                    last_id,
                    f"checkpoint #{checkpoint_id} recorded this row as the chain's head; it is "
                    "gone or changed (rows at the end deleted, or edited)",
                )
            )
    return problems


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
    # A rental that came back holds only its deposit (its rent went to the owner).
    in_escrow = case((col(Order.returned_at).is_(None), Order.amount), else_=Order.deposit)
    held = session.exec(
        select(func.coalesce(func.sum(in_escrow), 0)).where(col(Order.status).in_(HELD))
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


def verify(
    session: Session,
    since: Checkpoint | None = None,
    market_key: str | None = None,
    *,
    pages: bool = True,
    photo_dir: Path | None = None,
) -> VerifyReport:
    """SQLite's integrity_check first (a damaged file is reported, and its chains are not
    walked: rows read from broken pages prove nothing), then every chain (or only what came
    after the checkpoint `since`, verified before), the checkpoints, the signatures (of
    the same rows; `market_key` is the market key file's public half, for the market's),
    the columns the signed records decide (always all of them), and the ledger. `pages`:
    False skips the integrity_check (it reads the whole file: 1.4 s at 100k listings).
    `photo_dir`: also hash every listing photo's file there against its row."""
    damage = integrity_problems(session) if pages else []
    if damage:
        more = f" (and {len(damage) - 1} more)" if len(damage) > 1 else ""
        what = f"SQLite's integrity_check fails: {damage[0]}{more}"
        return VerifyReport(rows_checked={}, problems=[Problem("store", "file", None, what)])
    marks = json.loads(since.marks) if since else {}
    checked, problems = {}, []
    for kind in KINDS:
        count, found = _walk(session, kind, marks.get(kind.name, 0))
        checked[kind.name] = count
        problems.extend(found)
    problems.extend(_checkpoint_problems(session, since.id if since else 0))
    signed = signing.check(session.connection(), market_key, marks if since else None)
    problems.extend(Problem("signatures", *found) for found in signed.problems)
    problems.extend(_ledger_problems(session))
    pictured = photos.all_photos(session) if photo_dir is not None else []
    found = photos.problems(pictured, photo_dir) if photo_dir is not None else []
    problems.extend(Problem("photos", "listing_photo", row, what) for row, what in found)
    return VerifyReport(
        rows_checked=checked,
        problems=problems,
        since=since.id if since else None,
        signed=signed.signed,
        unsigned_legacy=signed.legacy,
        photos_checked=len(pictured),
    )


# Where an incremental verify starts: "id:hash" of the last checkpoint a verify found clean.
VERIFIED_KEY = "verified_checkpoint"


def latest_checkpoint(session: Session, clock: Clock) -> Checkpoint | None:
    """A checkpoint over the heads as they are now (the latest one if no head moved)."""
    made = chain.checkpoint(session, clock)
    if made is not None:
        return made
    return session.exec(select(Checkpoint).order_by(col(Checkpoint.id).desc()).limit(1)).first()


def last_verified(session: Session) -> Checkpoint | None:
    """The checkpoint the last clean verify reached, if it is still the one it saw."""
    meta = session.get(Meta, VERIFIED_KEY)
    if meta is None:
        return None
    checkpoint_id, _, checkpoint_hash = meta.value.partition(":")
    found = session.get(Checkpoint, int(checkpoint_id))
    return found if found is not None and found.hash == checkpoint_hash else None


def mark_verified(session: Session, checkpoint: Checkpoint) -> None:
    """Remember `checkpoint` as verified: the next incremental verify starts after it."""
    meta = session.get(Meta, VERIFIED_KEY) or Meta(key=VERIFIED_KEY, value="")
    meta.value = f"{checkpoint.id}:{checkpoint.hash}"
    session.add(meta)


def problems_digest(report: VerifyReport) -> str:
    """What an operator's acceptance names: exactly these problems, no others."""
    lines = sorted(f"{p.chain}|{p.table}|{p.row_id}|{p.what}" for p in report.problems)
    return hashlib.sha256("\n".join(lines).encode()).hexdigest()


def damage(session: Session, market_key: str) -> str | None:
    """The sentence to say when the store fails an incremental verify that its operator has
    not accepted (None: it passes, or these very problems were accepted). A read."""
    # Not the page check: the whole file read at every open would cost seconds at scale
    # (a damaged page fails the store's open, or `verify`, instead).
    report = verify(session, last_verified(session), market_key, pages=False)
    if report.ok or operators.accepted(session) == problems_digest(report):
        return None
    first = report.problems[0]
    more = f", and {len(report.problems) - 1} more" if len(report.problems) > 1 else ""
    where = f"{first.table} #{first.row_id}" if first.row_id is not None else first.table
    return (
        f"This store fails verify ({where}: {first.what}{more}): nothing can be written "
        "until the operator restores a backup (`p2pmarket restore`) or accepts this store "
        "(`p2pmarket verify --accept --as OPERATOR`)."
    )


# --------------------------------------------------------------------------- backups
