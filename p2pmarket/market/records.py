"""People and records: users and the operator's acts, market setup, verify, backups, export,
history.

What a logged-in person does is a method of `RecordCases`. What needs nobody logged in
(joining, the directory, setting a market up, verify, backups) is a function of the
market; one that may be done by somebody or by nobody (the operator's acts, `load`)
takes `by`, the acting person or None, and the rules say who may.

Input is checked by the face before the market opens or anyone is asked for a passphrase
(`home_of`, `check_passphrase`, `check_area`, `parse_role`, `read_market_file`,
`read_export`): a bad argument or file leaves no store behind.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import TYPE_CHECKING

from p2pmarket.clock import Clock
from p2pmarket.config import Config
from p2pmarket.errors import Invalid, Refused
from p2pmarket.market.base import ActorBase
from p2pmarket.models import Role, User
from p2pmarket.services.market import catalog, demo
from p2pmarket.services.market.demo import read_market_file
from p2pmarket.services.money import ledger
from p2pmarket.services.records import audit, backups, export, market_copy, seen, signing
from p2pmarket.services.records.audit import VerifyReport
from p2pmarket.services.records.backups import BackupView
from p2pmarket.services.records.export import read_export
from p2pmarket.services.records.signing import public_hex
from p2pmarket.services.trust import accounts, credit, operators, privacy
from p2pmarket.services.trust.accounts import check_passphrase
from p2pmarket.services.trust.operators import parse_role
from p2pmarket.store.engine import Store

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
    from sqlmodel import Session

    from p2pmarket.market import Market

# The input checks the faces call before the market opens (see above): re-exported, so a
# face needs nothing below the market.
__all__ = ["check_passphrase", "parse_role", "read_export", "read_market_file"]


# ------------------------------------------------------------------------------- people


@dataclass(frozen=True)
class Home:
    """Where a new user lives: an area's centre, or coordinates (which win when given)."""

    area: str | None
    lat: float
    lon: float


def home_of(area: str | None, lat: float | None, lon: float | None) -> Home:
    """Resolve `--area` / `--lat --lon` before anyone is asked for a passphrase."""
    slug = None
    if area is not None:
        place = catalog.area(area)
        slug = place.slug
        lat = place.lat if lat is None else lat
        lon = place.lon if lon is None else lon
    if lat is None or lon is None:
        raise Invalid("location_missing", "Give --lat and --lon, or --area NAME.")
    return Home(slug, lat, lon)


def _row(session: Session, by: ActorBase | None) -> User | None:
    """`by`'s row, and their key signing what this transaction appends for them."""
    return None if by is None else by.sign_in(session)


def add_user(
    market: Market,
    *,
    handle: str,
    real_name: str,
    passphrase: str,
    home: Home,
    bio: str = "",
    mediator: bool = False,
    by: ActorBase | None = None,
) -> accounts.UserView:
    """Anyone may join; making the newcomer a mediator is the operator's act (`by`)."""
    accounts.check_passphrase(passphrase)

    def work(session: Session):
        actor = _row(session, by)
        if mediator:
            # Before the user exists: a refused grant adds nobody.
            operators.require(session, actor, f"make {handle} a mediator")
        view = accounts.create_user(
            session,
            market.clock,
            handle=handle,
            real_name=real_name,
            passphrase=passphrase,
            lat=home.lat,
            lon=home.lon,
            area=home.area,
            bio=bio,
            hash_profile=market.settings.hash_profile,
        )
        if mediator:
            user = session.get(User, view.id)
            operators.set_role(session, market.clock, actor, user, Role.mediator)
            view = accounts.UserView.of(user)
        return view

    return market.store.transact(work)


def list_users(
    market: Market, *, limit: int = 100, offset: int = 0
) -> list[privacy.DirectoryEntry]:
    """Everyone as a stranger sees them: handles, roles, only the facts each publishes."""
    with market.store.read() as session:
        return privacy.directory(session, None, limit=limit, offset=offset)


def show_user(market: Market, handle: str, by: ActorBase | None = None) -> dict:
    """One user as `by` may see them: everything when they look at themselves (JSON-ready)."""
    with market.store.read() as session:
        user = accounts.user_row(session, handle)
        if by is not None and user.id == by.user.id:
            data = accounts.UserView.of(user).to_json()
            data["operator"] = operators.operator_id(session) == user.id
            return data
        viewer = by.user.id if by is not None else None
        return privacy.directory_entry(session, viewer, user.id).to_json()


@dataclass(frozen=True)
class OperatorAct:
    """An act of the operator on `handle`; `changed` is False when it was so already."""

    handle: str
    changed: bool


def verify_user(market: Market, handle: str, by: ActorBase | None) -> OperatorAct:
    """The operator marks `handle`'s real name as checked (the rules refuse anyone else)."""

    def work(session: Session):
        user = accounts.user_row(session, handle)
        changed = operators.verify_user(session, market.clock, _row(session, by), user)
        return OperatorAct(user.handle, changed)

    return market.store.transact(work)


def set_role(market: Market, handle: str, role: Role, by: ActorBase | None) -> OperatorAct:
    """The operator makes `handle` a mediator or a member again."""

    def work(session: Session):
        user = accounts.user_row(session, handle)
        changed = operators.set_role(session, market.clock, _row(session, by), user, role)
        return OperatorAct(user.handle, changed)

    return market.store.transact(work)


# ------------------------------------------------------------------------- market setup


@dataclass(frozen=True)
class Setup:
    home: str
    db_url: str
    schema_version: int | None
    # Named by `init --operator` (None: not asked).
    operator: operators.OperatorView | None

    def to_json(self) -> dict:
        data = {"home": self.home, "db_url": self.db_url, "schema_version": self.schema_version}
        if self.operator is not None:
            data.update(self.operator.to_json())
        return data


def init(market: Market, operator: str | None = None) -> Setup:
    """The market store, opened (so created when new); `operator` names its operator."""
    named = None
    if operator is not None:
        named = market.store.transact(
            lambda session: operators.name_operator(session, market.clock, operator)
        )
    config = market.config
    return Setup(str(config.home), config.shown_db_url, market.store.schema_version(), named)


def check_area(area: str | None) -> None:
    """An unknown area is refused before any work starts (`seed`'s progress bar)."""
    if area is not None:
        catalog.area(area)


def seed(
    market: Market,
    *,
    users: int,
    listings: int,
    seed: int,
    area: str | None = None,
    progress: demo.Progress | None = None,
) -> dict:
    """A deterministic synthetic crowd: the same seed on the same store gives the same rows."""
    return demo.seed_market(
        market.store,
        market.clock,
        users=users,
        listings=listings,
        seed=seed,
        area=area,
        progress=progress,
    )


def load(market: Market, data: dict, by: ActorBase | None = None) -> dict:
    """Users and listings of a market file, all or nothing; its grants are the operator's
    acts (`by`, or in a new market the operator the file brings)."""

    def work(session: Session):
        return demo.load_market(
            session,
            market.clock,
            data,
            hash_profile=market.settings.hash_profile,
            actor=_row(session, by),
        )

    return market.store.transact(work)


def reset(config: Config, clock: Clock) -> Path | None:
    """Back the SQLite store up and delete it (no store open); the backup, if there was one."""
    return Store.wipe(config, clock)


@dataclass(frozen=True)
class DemoView:
    # False: the demo was there already (counts then empty).
    loaded: bool
    counts: dict[str, int]
    user: str
    passphrase: str

    def to_json(self) -> dict:
        return {
            "loaded": self.loaded,
            **self.counts,
            "user": self.user,
            "passphrase": self.passphrase,
        }


def load_demo(market: Market) -> DemoView:
    """The hand-written demo market, once (safe to run again)."""
    counts = demo.load_demo(market.store, market.clock)
    passphrase = demo.demo_data()["passphrase"]
    return DemoView(counts is not None, counts or {}, demo.DEMO_USER, passphrase)


@dataclass(frozen=True)
class DemoLogin:
    """Who to log in as in a demo market (the login screen's hint)."""

    handles: tuple[str, ...]
    passphrase: str


def demo_login(market: Market, shown: int = 8) -> DemoLogin | None:
    """The first `shown` demo users and their passphrase; None unless the demo is loaded."""
    with market.store.read() as session:
        if not demo.demo_loaded(session):
            return None
        users = accounts.list_users(session, limit=shown)
    return DemoLogin(tuple(u.handle for u in users), demo.demo_data()["passphrase"])


def migrate(config: Config, source: str, target: str) -> market_copy.CopyReport:
    """Copy a market into a new, empty store (ids, hashes, chain heads), rebuild search, verify."""
    if source == target:
        raise Refused("migrate_same_store", "--from and --to name the same store.")
    from_path = replace(config, db_url=source).sqlite_path
    if from_path is not None and not from_path.is_file():
        raise Refused("migrate_no_source", f"There is no market at {from_path} to copy.")
    src = Store.open(replace(config, db_url=source))
    try:
        dst = Store.open(replace(config, db_url=target))
        try:
            return market_copy.copy_market(src, dst)
        finally:
            dst.close()
    finally:
        src.close()


# ------------------------------------------------------------------- verify and backups


def verify(market: Market, *, full: bool = False) -> VerifyReport:
    """Checkpoint the chain heads, then walk the chains (all of them with `full`, else what
    came after the last clean verify), check their signatures and the ledger; a clean
    verify is remembered."""
    checkpoint = market.store.transact(
        lambda session: audit.latest_checkpoint(session, market.clock)
    )
    with market.store.read() as session:
        since = None if full else audit.last_verified(session)
        report = audit.verify(
            session, since, public_hex(market.key), photo_dir=market.config.photo_dir
        )
    if report.ok and checkpoint is not None:
        market.store.transact(lambda session: audit.mark_verified(session, checkpoint))
    return report


def accept_store(market: Market, by: ActorBase) -> VerifyReport:
    """The operator accepts the store as it is: the problems verify finds now (and only
    those) stop making it read-only. Refused when it passes verify."""
    with market.store.read() as session:
        report = audit.verify(
            session, audit.last_verified(session), public_hex(market.key), pages=False
        )
    if report.ok:
        raise Refused("store_passes", "This store passes verify; there is nothing to accept.")
    digest = audit.problems_digest(report)
    market.store.transact(
        lambda session: operators.accept_store(
            session, market.clock, by.sign_in(session, damaged_ok=True), digest
        )
    )
    market.check_damage()
    return report


def verify_export(market: Market, data: object) -> VerifyReport:
    """Prove an exported history (read with `read_export`) still matches the store."""
    with market.store.read() as session:
        return export.verify_export(session, data)


def backup(market: Market, dest: Path | None = None, reason: str = "manual") -> BackupView:
    """Copy the store safely while others write (SQLite's online backup API), and log it."""
    return backups.backup(market.store, market.clock, dest, reason)


def list_backups(market: Market) -> list[BackupView]:
    with market.store.read() as session:
        return backups.list_backups(session)


def store_to_replace(config: Config) -> Path:
    """The SQLite file a restore replaces (asked before anyone confirms it)."""
    if config.sqlite_path is None:
        raise Invalid("restore_unsupported", "Restore is for SQLite stores.")
    return config.sqlite_path


def restore(config: Config, clock: Clock, path: Path) -> Path | None:
    """Verify a backup, keep the current store aside, put the backup in its place (the
    store must not be open). Where the previous store was kept, if there was one."""
    store_to_replace(config)
    kept = backups.restore(config, clock, path)
    seen.set_aside(config, kept.stem if kept else f"restored-{clock.now()}")
    return kept


# --------------------------------------------------------------------- one's own records


@dataclass(frozen=True)
class HistoryExport:
    handle: str
    text: str
    history_hash: str


@dataclass(frozen=True)
class CreditRecords:
    """The credit screen: both scores (recomputed now), every change, the latest payments."""

    scores: credit.Scores
    history: list[credit.CreditEventView]
    statement: list[dict]


class RecordCases(ActorBase):
    """The records use cases of `market.Actor`."""

    def change_passphrase(self, old: str, new: str) -> None:
        """A new passphrase: my signing key re-sealed under it, and a record I sign."""
        key = self._key("change your passphrase")
        profile = self.market.settings.hash_profile
        self._write(
            lambda session, me: signing.change_passphrase(
                session, self.market.clock, me, key, old, new, profile
            )
        )

    def rotate_key(self, passphrase: str) -> str:
        """A new signing key, announced by a record my old key signs; its public half."""
        key = self._key("rotate your key")
        profile = self.market.settings.hash_profile
        self.key = self._write(
            lambda session, me: signing.rotate_key(
                session, self.market.clock, me, key, passphrase, profile
            )
        )
        return public_hex(self.key)

    def _key(self, doing: str) -> Ed25519PrivateKey:
        """My key unsealed, made first if I have none yet (a write), to change it."""
        if self.key is None and self._first_key_passphrase is not None:
            self._write(lambda session, me: None)
        if self.key is None:
            raise Refused(
                "passphrase_needed", f"To {doing}, act as {self.handle} with your passphrase."
            )
        return self.key

    def history(self, limit: int = 200) -> list[dict]:
        """My transaction-credit history, newest first, with the score after each change."""
        with self._read() as (session, me):
            return export.history(session, me, limit=limit)

    def export_history(self, handle: str, fmt: str = "json") -> HistoryExport:
        """My whole history with its hashes and the chain heads, as JSON (verifiable) or CSV."""
        if self.handle != handle.strip().lower():
            raise Refused("export_other", "You can export only your own history.")
        with self._read() as (session, me):
            data = export.export_history(session, me, self.market.config.photo_dir)
        text = export.export_csv(data) if fmt == "csv" else export.export_json(data)
        return HistoryExport(self.handle, text, data["history_hash"])

    def credit_records(self) -> CreditRecords:
        """My scores as recorded, their history and my latest 200 money records."""
        with self._read() as (session, me):
            return CreditRecords(
                credit.scores(session, me.id),
                credit.history(session, me.id, limit=10_000),
                ledger.statement(session, me.id, limit=200),
            )
