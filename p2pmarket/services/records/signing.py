"""Signatures: every chained row is signed by whoever caused it, so a hash recomputed by
someone with the store file but no passphrase no longer passes `verify`.

Each person has an Ed25519 key: the public half on their user row and in the `keys`
chain, the private half sealed (ChaCha20-Poly1305) under a key derived from their
passphrase with argon2id. `Market.actor(handle, passphrase)` unseals it once, or makes it
at a person's first login since the store got signatures; their rows written before that
are legacy (`legacy_upto` in their key's first event), counted by verify, not failed.

The market signs its own steps (timers, rows no person caused) with a key kept in a file
in the market home (`market.key`, mode 0600), never in the store: a store travels
(backups, exports, a PostgreSQL server other people administer), the home stays with
the process that runs the market, so write access to the store alone forges nothing.
A person's row written without their key (`Market.trusted_actor`, no passphrase) is
refused once they have a key; before that, the market vouches for it.

What a signature covers: "table|id|hash|facts", where the hash is the row's chain hash
(its full canonical content and its place in the chain) and `facts` digests the other
rows it relies on (an entry's transfer and account, an order event's order), so moving
an account to another owner, a transfer to another kind or an order to another seller
breaks the signature of every row signed over it.
"""

from __future__ import annotations

import base64
import hashlib
import json
import os
import tempfile
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from argon2.low_level import Type, hash_secret_raw
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey
from cryptography.hazmat.primitives.ciphers.aead import ChaCha20Poly1305
from sqlalchemy import Connection, String, bindparam, cast, func, select
from sqlmodel import Session, SQLModel

from p2pmarket.clock import Clock
from p2pmarket.errors import Refused, StoreFailure
from p2pmarket.hashchain import KINDS
from p2pmarket.models import (
    Entry,
    KeyEvent,
    Message,
    Meta,
    OperatorEvent,
    Order,
    OrderEvent,
    Signature,
    User,
)
from p2pmarket.services.records import chain
from p2pmarket.services.trust import accounts
from p2pmarket.store.migrations import OPERATOR_KEY

KEY_FILE = "market.key"
# The author of a row any signer may vouch for (a credit event follows from someone's act).
ANY = "any"
# Rows the market may sign for someone who has a key but acts without it (trusted_actor:
# the TUI started without the passphrase): chat, chained since chains per owner, stays
# what it was before, something a person at their terminal writes without the passphrase.
# The store file alone still forges none: the market's key is in the home.
VOUCHED = frozenset({Message.__tablename__})
# Rows whose signature also covers other rows, and the columns of those rows it covers.
_COVERS: dict[str, tuple[tuple[str, str], ...]] = {
    Entry.__tablename__: (("transfer", "transfer_id"), ("account", "account_id")),
    OrderEvent.__tablename__: (("orders", "order_id"),),
}
_COVERED_COLUMNS: dict[str, tuple[str, ...]] = {
    "transfer": ("idem_key", "fingerprint", "kind", "order_id", "actor_id", "created_at"),
    "account": ("kind", "user_id"),
    "orders": (
        "listing_id",
        "buyer_id",
        "seller_id",
        "kind",
        "quantity",
        "unit_price",
        "amount",
        "created_at",
    ),
}
# Covered only on the rows where they are set: a booked order's slot. Rows signed before
# the column existed (every order without a slot) digest exactly as they did then.
_COVERED_WHEN_SET: dict[str, tuple[str, ...]] = {"orders": ("slot_start", "slot_end")}
# The covered columns of every row (verify), and of some rows by id (signing: statements
# built once, the ids bound as an expanding IN, for every chained row written).
_FACTS_ALL = {
    name: select(
        SQLModel.metadata.tables[name].c.id,
        *(SQLModel.metadata.tables[name].c[c] for c in always + _COVERED_WHEN_SET.get(name, ())),
    )
    for name, always in _COVERED_COLUMNS.items()
}
_FACTS_BY_ID = {
    name: query.where(query.selected_columns.id.in_(bindparam("ids", expanding=True)))
    for name, query in _FACTS_ALL.items()
}


# ------------------------------------------------------------------------------ keys


def public_hex(key: Ed25519PrivateKey) -> str:
    return key.public_key().public_bytes_raw().hex()


def _kek(passphrase: str, salt: bytes, t: int, m: int, p: int) -> bytes:
    return hash_secret_raw(passphrase.encode(), salt, t, m, p, 32, Type.ID)


def seal(key: Ed25519PrivateKey, passphrase: str, user_id: int, profile: str) -> str:
    """The private key encrypted under argon2id(passphrase), bound to its user id."""
    params = accounts.hasher(profile)
    t, m, p = params.time_cost, params.memory_cost, params.parallelism
    salt, nonce = os.urandom(16), os.urandom(12)
    box = ChaCha20Poly1305(_kek(passphrase, salt, t, m, p))
    sealed = box.encrypt(nonce, key.private_bytes_raw(), str(user_id).encode())
    parts = {"t": t, "m": m, "p": p}
    parts.update({k: base64.b64encode(v).decode() for k, v in (("salt", salt), ("nonce", nonce))})
    parts["key"] = base64.b64encode(sealed).decode()
    return json.dumps(parts, sort_keys=True)


def unseal(sealed: str, passphrase: str, user_id: int) -> Ed25519PrivateKey:
    parts = json.loads(sealed)
    salt, nonce, box = (base64.b64decode(parts[k]) for k in ("salt", "nonce", "key"))
    kek = _kek(passphrase, salt, parts["t"], parts["m"], parts["p"])
    try:
        raw = ChaCha20Poly1305(kek).decrypt(nonce, box, str(user_id).encode())
    except InvalidTag:
        raise Refused(
            "key_unreadable",
            "Your signing key does not open with this passphrase (the store was changed "
            "after it was sealed); run `p2pmarket verify` and restore a backup.",
        ) from None
    return Ed25519PrivateKey.from_private_bytes(raw)


def passphrase_digest(passphrase_hash: str) -> str:
    return hashlib.sha256(passphrase_hash.encode()).hexdigest()


def _legacy_upto(connection: Connection) -> str:
    """The last id of every chained table now: rows up to there predate a new key."""
    last = {}
    for kind in KINDS:
        table = kind.model.__table__
        last[table.name] = connection.execute(
            select(func.coalesce(func.max(table.c.id), 0))
        ).scalar()
    return json.dumps(last, sort_keys=True)


def _append_key_event(
    session: Session, event: KeyEvent, signer: int | None, key: Ed25519PrivateKey
) -> None:
    """Append a key record signed by `key` (the new key when made, the old one when rotated)."""
    saved = session.info.get("signers")
    session.info["signers"] = (
        Signers(market=key) if signer is None else Signers(market=None, person=(signer, key))
    )
    try:
        chain.append(session, event)
    finally:
        session.info["signers"] = saved


def make_key(
    session: Session, clock: Clock, user: User, passphrase: str, profile: str
) -> Ed25519PrivateKey:
    """`user`'s first signing key, at their first login with a passphrase."""
    key = Ed25519PrivateKey.generate()
    event = KeyEvent(
        user_id=user.id,
        action="created",
        public_key=public_hex(key),
        passphrase_digest=passphrase_digest(user.passphrase_hash),
        legacy_upto=_legacy_upto(session.connection()),
        at=clock.now(),
    )
    _append_key_event(session, event, user.id, key)
    user.public_key, user.sealed_key = event.public_key, seal(key, passphrase, user.id, profile)
    session.add(user)
    return key


def rotate_key(
    session: Session,
    clock: Clock,
    user: User,
    old: Ed25519PrivateKey,
    passphrase: str,
    profile: str,
) -> Ed25519PrivateKey:
    """A new key for `user`, announced by a record the old key signs."""
    accounts.unlock(user, passphrase)
    key = Ed25519PrivateKey.generate()
    event = KeyEvent(
        user_id=user.id,
        action="rotated",
        public_key=public_hex(key),
        passphrase_digest=passphrase_digest(user.passphrase_hash),
        at=clock.now(),
    )
    _append_key_event(session, event, user.id, old)
    user.public_key, user.sealed_key = event.public_key, seal(key, passphrase, user.id, profile)
    session.add(user)
    return key


def change_passphrase(
    session: Session,
    clock: Clock,
    user: User,
    key: Ed25519PrivateKey,
    old: str,
    new: str,
    profile: str,
) -> None:
    """A new passphrase: its hash, the key re-sealed under it, and a signed record of both."""
    accounts.unlock(user, old)
    accounts.check_passphrase(new)
    user.passphrase_hash = accounts.hasher(profile).hash(new)
    user.sealed_key = seal(key, new, user.id, profile)
    event = KeyEvent(
        user_id=user.id,
        action="passphrase",
        public_key=public_hex(key),
        passphrase_digest=passphrase_digest(user.passphrase_hash),
        at=clock.now(),
    )
    _append_key_event(session, event, user.id, key)
    session.add(user)


# -------------------------------------------------------------------- the market's key


def market_key(home: Path) -> Ed25519PrivateKey:
    """The market's private key from its key file, made (mode 0600) on first use.

    The key is written whole to a private temporary file and then linked into place,
    so a process opening the market at the same moment sees no file or the whole key,
    never a half-written one; when two make one at once, the first link wins.
    """
    path = home / KEY_FILE
    if not path.exists():
        pem = Ed25519PrivateKey.generate().private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
        try:
            home.mkdir(parents=True, exist_ok=True)
            fd, draft = tempfile.mkstemp(dir=home, prefix=".market-key-")  # mode 0600
            with os.fdopen(fd, "wb") as out:
                out.write(pem)
            try:
                os.link(draft, path)
            except FileExistsError:
                pass  # another process made it meanwhile: use theirs
            finally:
                os.unlink(draft)
        except OSError as exc:
            raise StoreFailure(
                "market_key_unwritable",
                f"Cannot make the market's key {path}: {exc.strerror}. "
                "Make the folder writable or pass --home DIR.",
            ) from exc
    key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    if not isinstance(key, Ed25519PrivateKey):
        raise Refused("market_key_bad", f"{path} holds no Ed25519 key; move it away and retry.")
    return key


def market_key_known(session: Session, key: Ed25519PrivateKey) -> bool:
    latest = session.exec(
        select(KeyEvent.public_key)
        .where(KeyEvent.user_id.is_(None))
        .order_by(KeyEvent.id.desc())
        .limit(1)
    ).first()
    return latest is not None and latest[0] == public_hex(key)


def publish_market_key(session: Session, clock: Clock, key: Ed25519PrivateKey) -> None:
    """Record the market key file's public half in the store (a new store, or a new home).

    The first one also records who holds power then (roles, verified flags, granted in
    older stores without a chained act): verify replays the operator's acts from there.
    """
    upto = json.loads(_legacy_upto(session.connection()))
    users = User.__table__
    upto["powers"] = {
        str(uid): [getattr(role, "value", role), bool(verified)]
        for uid, role, verified in session.connection().execute(
            select(users.c.id, users.c.role, users.c.verified).where(
                (users.c.role != "member") | users.c.verified
            )
        )
    }
    event = KeyEvent(
        user_id=None,
        action="created",
        public_key=public_hex(key),
        legacy_upto=json.dumps(upto, sort_keys=True),
        at=clock.now(),
    )
    _append_key_event(session, event, None, key)


# --------------------------------------------------------------------------- signing


class _Facts:
    """Digests of the rows a signature covers besides its own: by id (when signing) or
    all of them (when verifying)."""

    def __init__(self, connection: Connection, ids: Mapping[str, set[int]] | None = None):
        self.rows: dict[tuple[str, int], dict] = {}
        self._digests: dict[tuple[str, int], str] = {}
        for name in _COVERED_COLUMNS:
            optional = _COVERED_WHEN_SET.get(name, ())
            if ids is None:
                result = connection.execute(_FACTS_ALL[name])
            elif ids.get(name):
                result = connection.execute(_FACTS_BY_ID[name], {"ids": sorted(ids[name])})
            else:
                continue
            for row in result.mappings():
                self.rows[name, row["id"]] = {
                    k: v.value if hasattr(v, "value") else v
                    for k, v in row.items()
                    if not (v is None and k in optional)
                }

    @classmethod
    def of_rows(cls, connection: Connection, table: str, rows: list[dict]) -> _Facts:
        ids: dict[str, set[int]] = {}
        for covered, column in _COVERS.get(table, ()):
            ids.setdefault(covered, set()).update(row[column] for row in rows)
        return cls(connection, ids)

    def _digest(self, table: str, row_id: int) -> str:
        key = (table, row_id)
        if key not in self._digests:
            row = self.rows.get(key)
            text = json.dumps(row, sort_keys=True, default=str) if row is not None else "missing"
            self._digests[key] = hashlib.sha256(text.encode()).hexdigest()[:32]
        return self._digests[key]

    def of(self, table: str, row: Mapping) -> str:
        return ",".join(
            f"{covered}#{row[column]}:{self._digest(covered, row[column])}"
            for covered, column in _COVERS.get(table, ())
        )

    def author(self, table: str, row: Mapping) -> int | str | None:
        """Whose act the row records: a user id, None for the market, or ANY."""
        if table == Entry.__tablename__:
            return (self.rows.get(("transfer", row["transfer_id"])) or {}).get("actor_id")
        if table == KeyEvent.__tablename__:
            return row["user_id"]
        for column in ("actor_id", "author_id", "sender_id"):
            if column in row:
                return row[column]
        return ANY


def _message(table: str, row: Mapping, facts: str) -> bytes:
    return f"{table}|{row['id']}|{row['hash']}|{facts}".encode()


@dataclass
class Signers:
    """The keys a write transaction signs with: the market's, and the acting person's."""

    market: Ed25519PrivateKey | None
    person: tuple[int, Ed25519PrivateKey] | None = None

    def sign(self, connection: Connection, rows: list[SQLModel]) -> list[dict]:
        """The signatures of freshly appended `rows` (of one table), as `signature` rows:
        chain.append_all writes those of all its tables with one statement."""
        table = type(rows[0]).__tablename__
        values = [{f: getattr(row, f) for f in type(row).model_fields} for row in rows]
        facts = _Facts.of_rows(connection, table, values)
        person_id, person_key = self.person or (None, None)
        authors = [facts.author(table, v) for v in values]
        others = (
            set() if table in VOUCHED else {a for a in authors if a not in (None, ANY, person_id)}
        )
        keyed = {}
        if others:
            keyed = dict(
                connection.execute(
                    select(User.handle, User.public_key).where(
                        User.id.in_(others), User.public_key.is_not(None)
                    )
                ).all()
            )
        if keyed:
            handle = next(iter(keyed))
            raise Refused(
                "signature_needed",
                f"{handle}'s records are signed with {handle}'s key: act as {handle} with "
                "their passphrase; nothing was changed.",
            )
        signed = []
        for value, author in zip(values, authors, strict=True):
            signer, key = None, self.market
            if person_key is not None and author in (person_id, ANY):
                signer, key = person_id, person_key
            if key is None:
                continue
            covered = facts.of(table, value)
            signed.append(
                {
                    "table_name": table,
                    "row_id": value["id"],
                    "signer_id": signer,
                    "facts": covered,
                    "sig": key.sign(_message(table, value, covered)).hex(),
                }
            )
        return signed


# -------------------------------------------------------------------------- checking


@dataclass
class Checked:
    """What the signature and column checks found: (table, row id, what) per problem."""

    problems: list[tuple[str, int | None, str]] = field(default_factory=list)
    signed: int = 0
    legacy: int = 0


@dataclass
class _Keys:
    """Every published key by owner (None: the market), and the rows that predate each owner's
    first key."""

    public: dict[int | None, list[Ed25519PublicKey]] = field(default_factory=dict)
    hexes: dict[int | None, list[str]] = field(default_factory=dict)
    # Per owner: table -> last id before their first key (the market's also: "powers").
    legacy_upto: dict[int | None, dict] = field(default_factory=dict)
    digests: dict[int, str] = field(default_factory=dict)

    @classmethod
    def load(cls, connection: Connection) -> _Keys:
        keys = cls()
        events = KeyEvent.__table__
        for row in connection.execute(select(events).order_by(events.c.id)).mappings():
            owner = row["user_id"]
            keys.hexes.setdefault(owner, []).append(row["public_key"])
            keys.public.setdefault(owner, []).append(
                Ed25519PublicKey.from_public_bytes(bytes.fromhex(row["public_key"]))
            )
            if owner not in keys.legacy_upto:
                keys.legacy_upto[owner] = json.loads(row["legacy_upto"] or "{}")
            if owner is not None:
                keys.digests[owner] = row["passphrase_digest"]
        return keys

    def keyed_at(self, owner: int | None, table: str, row_id: int) -> bool:
        """Did `owner` have a key when this row was written?"""
        upto = self.legacy_upto.get(owner)
        return upto is not None and row_id > upto.get(table, 0)

    def valid(self, signer: int | None, message: bytes, sig: str) -> bool:
        for key in self.public.get(signer, ()):
            try:
                key.verify(bytes.fromhex(sig), message)
            except (InvalidSignature, ValueError):
                continue
            return True
        return False


def _who(owner: int | str | None) -> str:
    return "the market" if owner is None else f"user {owner}"


def check(
    connection: Connection, market_public: str | None, marks: Mapping[str, int] | None = None
) -> Checked:
    """Every chained row's signature against its signer's published keys (with `marks`, an
    incremental verify's kind -> last id checked before: only the rows after them), and
    the columns no chain holds against the signed records they must agree with (always
    all of them: they are current state, not history)."""
    keys = _Keys.load(connection)
    out = Checked()
    signatures = Signature.__table__
    every = None if marks else _Facts(connection)
    for kind in KINDS:
        table = kind.model.__table__
        after = (marks or {}).get(kind.name, 0)
        rows = (
            connection.execute(select(table).where(table.c.id > after).order_by(table.c.id))
            .mappings()
            .all()
        )
        if not rows:
            continue
        facts = every or _Facts.of_rows(connection, table.name, rows)
        sigs = {
            r.row_id: r
            for r in connection.execute(
                select(signatures).where(
                    signatures.c.table_name == table.name, signatures.c.row_id > after
                )
            )
        }
        for row in rows:
            _check_row(out, keys, facts, sigs.get(row["id"]), table.name, row)
    out.problems.extend(_market_key_problems(keys, market_public))
    out.problems.extend(_column_problems(connection, keys))
    return out


def _check_row(out: Checked, keys: _Keys, facts: _Facts, sig, table: str, row: Mapping) -> None:
    author = facts.author(table, row)
    # Whose signature the row needs: its author's once they had a key, else the market's
    # once the market had one, else none (legacy).
    personal = author not in (None, ANY) and keys.keyed_at(author, table, row["id"])
    needed = personal or keys.keyed_at(None, table, row["id"])
    if sig is None:
        if needed:
            out.problems.append(
                (table, row["id"], f"it is not signed (recorded as {_who(author)}'s)")
            )
        else:
            out.legacy += 1
        return
    covered = facts.of(table, row)
    if sig.facts != covered:
        changed = set(covered.split(",")) - set(sig.facts.split(","))
        names = ", ".join(part.split(":")[0] for part in sorted(changed)) or "its facts"
        out.problems.append(
            (table, row["id"], f"{names} changed after this row was signed over it")
        )
        return
    if author == ANY:
        allowed = None
    elif table in VOUCHED:
        allowed = {author, None}
    elif personal or author is None:
        allowed = {author}
    else:
        allowed = {author, None}  # the market vouched for someone without a key yet
    if allowed is not None and sig.signer_id not in allowed:
        out.problems.append(
            (
                table,
                row["id"],
                f"signed by {_who(sig.signer_id)} but recorded as {_who(author)}'s (re-attributed)",
            )
        )
        return
    if not keys.valid(sig.signer_id, _message(table, row, sig.facts), sig.sig):
        out.problems.append(
            (
                table,
                row["id"],
                f"its signature by {_who(sig.signer_id)} does not match it "
                "(edited after signing, hash recomputed)",
            )
        )
        return
    out.signed += 1


def _market_key_problems(keys: _Keys, market_public: str | None) -> Iterable[tuple]:
    """Once this home's key file is in the store, no other market key may follow it: a key
    minted by someone with the store file would vouch for their forgeries."""
    hexes = keys.hexes.get(None, [])
    if market_public is None or market_public not in hexes:
        return []
    after = hexes[hexes.index(market_public) + 1 :]
    return [
        ("key_event", None, f"a market key this home never made ({h[:12]}…) was published")
        for h in after
        if h != market_public
    ]


def _column_problems(connection: Connection, keys: _Keys) -> list[tuple]:
    """Columns no chain holds, against the signed records that decide them."""
    problems = []
    users = User.__table__
    people = connection.execute(
        select(
            users.c.id, users.c.role, users.c.verified, users.c.public_key, users.c.passphrase_hash
        )
    ).all()
    for uid, _role, _verified, public_key, passphrase_hash in people:
        published = keys.hexes.get(uid)
        if published is None:
            if public_key is not None:
                problems.append(("user", uid, "its public key was published by no key record"))
            continue
        if public_key != published[-1]:
            problems.append(("user", uid, "its public key is not the one its key records name"))
        if passphrase_digest(passphrase_hash) != keys.digests.get(uid):
            problems.append(
                ("user", uid, "its passphrase hash was changed without a signed record")
            )
    problems.extend(_order_status_problems(connection))
    if None in keys.public:
        problems.extend(_power_problems(connection, people, keys))
    return problems


def _order_status_problems(connection: Connection) -> list[tuple]:
    orders, events = Order.__table__, OrderEvent.__table__
    last = (
        select(events.c.order_id, func.max(events.c.id).label("last_id"))
        .group_by(events.c.order_id)
        .subquery()
    )
    rows = connection.execute(
        select(orders.c.id, orders.c.status, events.c.to_status)
        .join(last, last.c.order_id == orders.c.id)
        .join(events, events.c.id == last.c.last_id)
        # The status is an enum type on PostgreSQL (its labels are the names), text on SQLite.
        .where(cast(orders.c.status, String) != events.c.to_status)
    ).all()
    return [
        ("orders", oid, f"its status {status} is not what its last signed event says ({to})")
        for oid, status, to in rows
    ]


def _power_problems(connection: Connection, people: list, keys: _Keys) -> list[tuple]:
    """Roles, verified flags and the operator, replayed from who held power when the market
    first signed (its first key's record) through the operator's chained acts since."""
    baseline = keys.legacy_upto[None]
    powers = {int(uid): held for uid, held in baseline.get("powers", {}).items()}
    roles = {uid: role for uid, (role, _) in powers.items()}
    verified = {uid for uid, (_, flag) in powers.items() if flag}
    events = OperatorEvent.__table__
    operator = None
    for event_id, action, subject, detail in connection.execute(
        select(events.c.id, events.c.action, events.c.subject_id, events.c.detail).order_by(
            events.c.id
        )
    ):
        if action == "operator":
            operator = subject
        elif event_id <= baseline.get(events.name, 0):
            continue
        elif action == "verify":
            verified.add(subject)
        elif action == "role":
            roles[subject] = detail
    problems = []
    for uid, role, is_verified, _public, _hash in people:
        role = getattr(role, "value", role)
        if role != roles.get(uid, "member"):
            problems.append(("user", uid, f"its role {role} was granted by no operator act"))
        if bool(is_verified) != (uid in verified):
            problems.append(("user", uid, "its verified flag disagrees with the operator's acts"))
    named = connection.execute(select(Meta.value).where(Meta.key == OPERATOR_KEY)).scalar()
    if named is not None and operator is not None and int(named) != operator:
        problems.append(("meta", None, "the operator it names is not the one the acts installed"))
    return problems
