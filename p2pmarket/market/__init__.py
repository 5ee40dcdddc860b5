"""The seam between the two faces and the rules: what the CLI and the TUI call, and nothing else.

`Market.open(config, clock)` opens the store once (its dialect adapters chosen there) and
owns what every face needs around it: the timers (`tick`) and the daily backup. A person
acts through `market.actor(handle, passphrase)`: an `Actor` whose methods are the use
cases, each one transaction, returning the services' plain views, never rows or sessions.
A CLI command or a screen is "read input → one Market/Actor call → show the view".

The use cases live by domain, one module each (money, shop, trust, records), and `Actor`
is all of them; `base.ActorBase` gives each its transactions.
"""

from __future__ import annotations

from p2pmarket.clock import Clock
from p2pmarket.config import Config, Settings
from p2pmarket.market.money import MoneyCases
from p2pmarket.market.records import RecordCases
from p2pmarket.market.shop import ShopCases
from p2pmarket.market.trust import TrustCases
from p2pmarket.services.money import orders

# Not `records`: that name is the submodule market.records (RecordCases and the functions
# the faces call), which a `from p2pmarket.services import records` here would shadow.
from p2pmarket.services.records.backups import BackupView, daily_backup
from p2pmarket.services.trust import accounts, chat
from p2pmarket.store.engine import Store


class Market:
    """One open market store and the clock it runs on."""

    def __init__(self, store: Store, clock: Clock) -> None:
        self.store, self.clock = store, clock

    @classmethod
    def open(cls, config: Config, clock: Clock) -> Market:
        """Open (creating or migrating) the store; a failure is a StoreFailure sentence."""
        return cls(Store.open(config), clock)

    def close(self) -> None:
        self.store.close()

    @property
    def config(self) -> Config:
        return self.store.config

    @property
    def settings(self) -> Settings:
        return self.store.config.settings

    # -- what every face runs around its work ---------------------------------------------

    def tick(self) -> list[int]:
        """Settle the order deadlines that have passed; the orders settled (DESIGN §3).

        A cheap read first, so a face that ticks on every command or every 30 s writes
        only when a deadline is due.
        """
        with self.store.read() as session:
            if not orders.anything_due(session, self.clock):
                return []
        with self.store.write() as session:
            return orders.tick(session, self.clock, self.settings)

    def daily_backup(self) -> BackupView | None:
        """Once a day, on first use, keep a copy of a SQLite store (PostgreSQL: pg_dump)."""
        if not self.store.ports.backups:
            return None
        return daily_backup(self.store, self.clock)

    def watcher(self) -> chat.Watcher:
        """Says whether anyone committed since the last look: what live screens poll."""
        return chat.Watcher(self.store.engine)

    # -- who acts --------------------------------------------------------------------------

    def actor(self, handle: str, passphrase: str) -> Actor:
        """The person `handle`, once `passphrase` opens their account (Refused if not)."""
        with self.store.read() as session:
            view = accounts.authenticate(session, handle, passphrase)
        return Actor(self, view)

    def trusted_actor(self, handle: str) -> Actor:
        """`handle` already authenticated by the caller (tests, `demo --open`, the TUI's
        startup with no passphrase): no passphrase check."""
        with self.store.read() as session:
            view = accounts.get_user(session, handle)
        return Actor(self, view)


class Actor(MoneyCases, ShopCases, TrustCases, RecordCases):
    """A person acting in the market: every use case, each one transaction (see the bases)."""
