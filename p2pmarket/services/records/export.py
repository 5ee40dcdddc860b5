"""A person's history as a file they keep: export (JSON/CSV with every hash and the chain
heads), `verify_export` against the store, and the history the faces show.
"""

from __future__ import annotations

import base64
import binascii
import csv
import hashlib
import io
import json
from pathlib import Path

from sqlalchemy import tuple_
from sqlmodel import Session, col, select

from p2pmarket import files
from p2pmarket.errors import Invalid
from p2pmarket.hashchain import BY_NAME
from p2pmarket.models import (
    Account,
    ChainHead,
    Checkpoint,
    CreditDimension,
    CreditEvent,
    DisputeNote,
    Entry,
    Listing,
    ListingPhoto,
    Order,
    OrderEvent,
    Review,
    Transfer,
    User,
)
from p2pmarket.services.market import photos
from p2pmarket.services.records.audit import Problem, VerifyReport, verify

# A sanity cap on files a person names: far above any real market, far below a disk.
EXPORT_MAX_BYTES = 64 * files.MIB

EXPORT_FORMAT = "p2pmarket-history/1"


def _chain_heads(session: Session, keys: set[tuple[str, int]]) -> dict[str, dict]:
    """The heads of the chains a history lies in, as "kind:owner" (e.g. "ledger:7")."""
    if not keys:
        return {}
    heads = session.exec(
        select(ChainHead)
        .where(tuple_(ChainHead.kind, ChainHead.owner_id).in_(sorted(keys)))
        .order_by(col(ChainHead.kind), col(ChainHead.owner_id))
    )
    return {
        f"{h.kind}:{h.owner_id}": {"last_id": h.last_id, "last_hash": h.last_hash} for h in heads
    }


def _checkpoint(session: Session) -> dict | None:
    """The latest checkpoint, which binds every chain head of the market at its time."""
    latest = session.exec(select(Checkpoint).order_by(col(Checkpoint.id).desc()).limit(1)).first()
    return {"id": latest.id, "hash": latest.hash} if latest else None


def _photos(session: Session, user: User, photo_dir: Path) -> list[dict]:
    """The photos of the user's listings, each with its JPEG bytes (base64): an export
    carries what the market home holds of them. A file missing from the home is left out
    (verify names it)."""
    rows = session.exec(
        select(ListingPhoto)
        .join(Listing, col(Listing.id) == col(ListingPhoto.listing_id))
        .where(Listing.seller_id == user.id)
        .order_by(col(ListingPhoto.id))
    ).all()
    carried = []
    for row in rows:
        path = photos.path_of(photo_dir, row.sha256)
        if photos.file_sha256(path) != row.sha256:
            continue
        carried.append(
            {
                "listing_id": row.listing_id,
                "sha256": row.sha256,
                "width": row.width,
                "height": row.height,
                "jpeg_base64": base64.b64encode(path.read_bytes()).decode("ascii"),
            }
        )
    return carried


def export_history(session: Session, user: User, photo_dir: Path | None = None) -> dict:
    """A user's whole history with every row's hash and the chain heads (an outside anchor),
    and (with `photo_dir`) the photos of their listings."""
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
    review_rows = session.exec(
        select(Review)
        .where((Review.author_id == user.id) | (Review.subject_id == user.id))
        .order_by(col(Review.id))
    ).all()
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
        for r in review_rows
    ]
    # The cases of their disputes: both parties' notes, as the mediator read them.
    note_rows = session.exec(
        select(DisputeNote)
        .where(col(DisputeNote.order_id).in_([o["id"] for o in orders]))
        .order_by(col(DisputeNote.id))
    ).all()
    dispute_notes = [
        {
            "id": n.id,
            "at": n.at,
            "order_id": n.order_id,
            "author": handles[n.author_id],
            "kind": n.kind,
            "text": n.text,
            "attached": json.loads(n.attached),
            "hash": n.hash,
        }
        for n in note_rows
    ]
    # The chains this history lies in: its orders', its wallet's, its credit's, its reviews',
    # its disputes'.
    chains = {("order_events", o["id"]) for o in orders}
    chains |= {("reviews", r.subject_id) for r in review_rows}
    chains |= {("disputes", n.order_id) for n in note_rows}
    if wallet:
        chains.add(("ledger", wallet))
    if credit_events:
        chains.add(("credit_events", user.id))
    body = {
        "format": EXPORT_FORMAT,
        "handle": user.handle,
        "orders": orders,
        "payments": payments,
        "credit_events": credit_events,
        "reviews": reviews,
        "dispute_notes": dispute_notes,
        "photos": _photos(session, user, photo_dir) if photo_dir is not None else [],
        "chain_heads": _chain_heads(session, chains),
        "checkpoint": _checkpoint(session),
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
    for n in data["dispute_notes"]:
        writer.writerow(
            [
                "dispute_note",
                n["id"],
                n["at"],
                f"{n['kind']} by {n['author']}",
                "",
                n["order_id"],
                "",
                n["hash"],
            ]
        )
    for name, head in data["chain_heads"].items():
        writer.writerow(["chain_head", head["last_id"], "", name, "", "", "", head["last_hash"]])
    if data["checkpoint"]:
        point = data["checkpoint"]
        writer.writerow(["checkpoint", point["id"], "", "", "", "", "", point["hash"]])
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
    ("disputes", "dispute_notes", DisputeNote),
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
    problems += [
        Problem("photos", "listing_photo", None, f"the exported photo {sha[:12]}… was altered")
        for sha in _altered_photos(data.get("photos", []))
    ]
    for name, head in data.get("chain_heads", {}).items():
        kind_name, _, owner = name.partition(":")
        kind = BY_NAME.get(kind_name)
        stored = session.get(kind.model, head.get("last_id")) if kind else None
        if (
            stored is None
            or stored.hash != head.get("last_hash")
            or str(kind.owner_of(stored)) != owner
        ):
            problems.append(
                Problem(
                    kind.label(int(owner)) if kind and owner.isdigit() else name,
                    kind.model.__tablename__ if kind else name,
                    head.get("last_id"),
                    "the chain no longer reaches the exported head (rewritten)",
                )
            )
    exported = data.get("checkpoint")
    if exported:
        stored = session.get(Checkpoint, exported.get("id"))
        if stored is None or stored.hash != exported.get("hash"):
            problems.append(
                Problem(
                    "checkpoints",
                    "checkpoint",
                    exported.get("id"),
                    "the checkpoint exported with this history was changed or deleted",
                )
            )
    store_report = verify(session)
    return VerifyReport(
        rows_checked={**store_report.rows_checked, "exported": len(rows)},
        problems=problems + store_report.problems,
    )


def _altered_photos(carried: list) -> list[str]:
    """The sha256 of each exported photo whose bytes no longer hash to it."""
    altered = []
    for item in carried:
        sha = str(item.get("sha256", "")) if isinstance(item, dict) else ""
        try:
            data = base64.b64decode(str(item.get("jpeg_base64", "")), validate=True)
        except (AttributeError, binascii.Error, ValueError):
            data = b""
        if hashlib.sha256(data).hexdigest() != sha:
            altered.append(sha)
    return altered


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
