"""What an attacker with the store file does after an edit: recompute every hash, head and
checkpoint, so that only what is not in the store (signatures' keys, seen heads) can tell."""

from __future__ import annotations

from sqlalchemy import Connection, bindparam, select, update

from p2pmarket.hashchain import KINDS
from p2pmarket.models import ChainHead, Checkpoint, CheckpointHead
from p2pmarket.services.records import chain
from p2pmarket.store.migrations import _rechain


def rehash_everything(connection: Connection) -> None:
    heads = ChainHead.__table__
    recorded = CheckpointHead.__table__
    checkpoints = Checkpoint.__table__

    def rechain(kind) -> None:
        for head in _rechain(connection, kind):
            connection.execute(
                update(heads)
                .where(heads.c.kind == head["kind"], heads.c.owner_id == head["owner_id"])
                .values(last_id=head["last_id"], last_hash=head["last_hash"])
            )

    for kind in KINDS:
        if kind.model is not Checkpoint:
            rechain(kind)
    # The checkpoints recorded the old hashes: record the new ones and re-digest.
    for kind in KINDS:
        if kind.model is Checkpoint:
            continue
        table = kind.model.__table__
        for row_id, new in connection.execute(select(table.c.id, table.c.hash)).all():
            connection.execute(
                update(recorded)
                .where(recorded.c.kind == kind.name, recorded.c.last_id == row_id)
                .values(last_hash=new)
            )
    for (cid,) in connection.execute(select(checkpoints.c.id)).all():
        rows = connection.execute(
            select(
                recorded.c.kind, recorded.c.owner_id, recorded.c.last_id, recorded.c.last_hash
            ).where(recorded.c.checkpoint_id == cid)
        ).all()
        connection.execute(
            update(checkpoints)
            .where(checkpoints.c.id == bindparam("cid"))
            .values(digest=bindparam("d")),
            {"cid": cid, "d": chain.heads_digest(tuple(r) for r in rows)},
        )
    rechain(next(k for k in KINDS if k.model is Checkpoint))
