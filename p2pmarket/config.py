"""Where data lives and the market's settings. All user paths are decided here.

Home: --home DIR > P2PMARKET_HOME > the platform's user data dir. The store:
--db URL > P2PMARKET_DB > a SQLite file in home. Deleting the program never
touches home, so a reinstall finds the same market again.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from p2pmarket.clock import DAY, HOUR, FixedClock, SystemClock, parse_instant

APP_NAME = "p2pmarket"
DB_FILE = "market.db"


@dataclass(frozen=True)
class Settings:
    """Rules with numbers in them. Shown to users as countdowns and limits."""

    revoke_window: int = 1 * DAY
    delivery_deadline: int = 7 * DAY
    confirm_window_goods: int = 10 * DAY
    confirm_window_service: int = 3 * DAY
    confirm_extension: int = 3 * DAY
    backups_kept: int = 7
    # The tick checkpoints every chain head at most this often (and only if one moved).
    checkpoint_every: int = 10 * 60
    # argon2 profile: "default" for people, "cheapest" for test suites and seeding.
    hash_profile: str = "default"
    # The money lock (services/trust/gate.py). What a payer may have open with one payee,
    # by how the payer classifies the payee (minor units).
    limit_stranger: int = 200_00
    limit_acquaintance: int = 2_000_00
    limit_trusted: int = 20_000_00
    limit_warn_percent: int = 80
    credit_threshold: int = 550
    # New accounts: (min age in days, min distinct trade partners, cap or None = no cap).
    # An account is at the last stage whose both conditions it meets.
    account_stages: tuple[tuple[int, int, int | None], ...] = (
        (0, 0, 300_00),
        (7, 1, 1_000_00),
        (30, 3, 5_000_00),
        (90, 10, None),
    )
    # Offers (services/trust/offers.py): how long one stays open, and how many a buyer may
    # have open on one listing at once.
    offer_window: int = 2 * DAY
    offers_open_per_listing: int = 3
    # Spam: the same text sent to this many strangers within the window is flagged.
    spam_recipients: int = 5
    spam_window: int = 1 * HOUR
    # How long a SQLite writer waits for another writer's lock before saying "busy": writers
    # take turns fairly (db.begin_immediate), so a longer wait means something is stuck.
    busy_timeout_s: float = 10.0
    # Bookings: weekly hours are in the market's time zone; a booked slot's delivery
    # deadline is its end plus the grace; the buyer cancels free until `free_cancel_before`
    # the slot starts, later `late_cancel_percent` of the price goes to the seller.
    zone: str = "Asia/Shanghai"
    booking_grace: int = 2 * HOUR
    free_cancel_before: int = 1 * DAY
    late_cancel_percent: int = 50
    # Rentals: the owner may claim part of the deposit within `claim_window` of the return
    # (else it goes back), the renter answers a claim within `claim_answer_window` (silence
    # accepts); a return later than `late_return_grace` after the period costs late days.
    claim_window: int = 2 * DAY
    claim_answer_window: int = 2 * DAY
    late_return_grace: int = 1 * DAY
    # Disputes: each party may add one statement within this long of the dispute opening
    # (as Bisq's mediators ask).
    statement_window: int = 2 * DAY


@dataclass(frozen=True)
class Config:
    home: Path
    db_url: str
    settings: Settings = field(default_factory=Settings)
    # The person's own side, outside the store: the chain heads each of them last saw
    # (services/records/seen.py). P2PMARKET_CONFIG_DIR > the platform's user config dir.
    config_dir: Path | None = None

    @property
    def seen_dir(self) -> Path:
        return (self.config_dir or default_config_dir()) / "seen"

    @property
    def backup_dir(self) -> Path:
        return self.home / "backups"

    @property
    def photo_dir(self) -> Path:
        """Listing photos, each file named by the sha256 of its bytes (in home whatever the
        store: a PostgreSQL market keeps them beside its key)."""
        return self.home / "photos"

    @property
    def shown_db_url(self) -> str:
        """The store URL as printed: a password in it is masked."""
        if "@" not in self.db_url:  # no credentials (a SQLite file): nothing to mask
            return self.db_url
        from sqlalchemy.engine import make_url

        return make_url(self.db_url).render_as_string(hide_password=True)

    def where(self) -> dict[str, str]:
        """Where the market's data lives; the store is not opened (nor created) for it."""
        return {
            "home": str(self.home),
            "db_url": self.shown_db_url,
            "backup_dir": str(self.backup_dir),
        }

    @property
    def is_sqlite(self) -> bool:
        return self.db_url.startswith("sqlite")

    @property
    def sqlite_path(self) -> Path | None:
        if not self.is_sqlite:
            return None
        return Path(self.db_url.split(":///", 1)[1])


def default_home() -> Path:
    from platformdirs import user_data_dir

    return Path(user_data_dir(APP_NAME, appauthor=False))


def default_config_dir() -> Path:
    from platformdirs import user_config_dir

    return Path(user_config_dir(APP_NAME, appauthor=False))


def resolve(
    home: str | Path | None = None,
    db: str | None = None,
    env: Mapping[str, str] | None = None,
) -> Config:
    env = os.environ if env is None else env
    if home is not None:
        home_path = Path(home)
    elif env.get("P2PMARKET_HOME"):
        home_path = Path(env["P2PMARKET_HOME"])
    else:
        home_path = default_home()
    home_path = home_path.expanduser().absolute()
    db_url = db or env.get("P2PMARKET_DB") or f"sqlite:///{home_path / DB_FILE}"
    settings = Settings(
        hash_profile=env.get("P2PMARKET_HASH_PROFILE", "default"),
        busy_timeout_s=_seconds(env.get("P2PMARKET_BUSY_TIMEOUT"), Settings.busy_timeout_s),
    )
    config_dir = Path(env["P2PMARKET_CONFIG_DIR"]) if env.get("P2PMARKET_CONFIG_DIR") else None
    return Config(home=home_path, db_url=db_url, settings=settings, config_dir=config_dir)


def _seconds(raw: str | None, default: float) -> float:
    """A positive number of seconds from the environment; anything else keeps the default."""
    try:
        value = float(raw) if raw else default
    except ValueError:
        return default
    return value if 0 < value < 86_400 else default


def clock_from_env(env: Mapping[str, str] | None = None) -> SystemClock | FixedClock:
    """P2PMARKET_NOW pins the time for scripted demos and subprocess tests."""
    env = os.environ if env is None else env
    if env.get("P2PMARKET_NOW"):
        return FixedClock(parse_instant(env["P2PMARKET_NOW"]))
    return SystemClock()
