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

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from p2pmarket.clock import Clock
from p2pmarket.config import Config, Settings
from p2pmarket.errors import MarketError, Refused
from p2pmarket.market.bookings import BookingCases
from p2pmarket.market.inbox import InboxCases
from p2pmarket.market.money import MoneyCases
from p2pmarket.market.offers import OfferCases
from p2pmarket.market.plans import PlanCases
from p2pmarket.market.records import RecordCases
from p2pmarket.market.shop import ShopCases
from p2pmarket.market.trust import TrustCases
from p2pmarket.services.market import conditions
from p2pmarket.services.money import orders

# Not `records`: that name is the submodule market.records (RecordCases and the functions
# the faces call), which a `from p2pmarket.services import records` here would shadow.
from p2pmarket.services.records import audit, chain, seen, signing
from p2pmarket.services.records.backups import daily_backup
from p2pmarket.services.trust import accounts, chat, credit, offers
from p2pmarket.store.engine import Store

if TYPE_CHECKING:
    from sqlmodel import Session


class Market:
    """One open market store and the clock it runs on."""

    def __init__(self, store: Store, clock: Clock, *, check: bool = True) -> None:
        self.store, self.clock = store, clock
        self._damage: str | None = None
        self._checked = False
        self._checking = threading.Lock()
        # The market's signing key lives in its home, never in the store (services/records/
        # signing.py says why); every write it makes is signed with it unless a person acts.
        self.key = signing.market_key(store.config.home)
        store.write_info["signers"] = signing.Signers(market=self.key)
        with store.read() as session:
            known = signing.market_key_known(session, self.key)
        if not known:
            store.transact(lambda session: signing.publish_market_key(session, clock, self.key))
        with store.read() as session:
            self.identity = seen.market_identity(session)
        if check:
            self.check_damage()

    def check_damage(self) -> str | None:
        """Verify what came after the last clean verify (fast): a store that fails it, with
        problems its operator has not accepted, is read-only; `damage` says why, in one
        sentence every face shows (None: it passes)."""
        with self._checking:
            with self.store.read() as session:
                self._damage = audit.damage(session, signing.public_hex(self.key))
            self._checked = True
        return self._damage

    @property
    def damage(self) -> str | None:
        """Why this store is read-only (None: it passes verify); checked now if the market
        was opened without checking and nothing has checked it since."""
        with self._checking:
            checked = self._checked
        return self._damage if checked else self.check_damage()

    @property
    def checked(self) -> bool:
        """Has verify run since the store opened? (Market.open(check=False) leaves it to
        its opener: the TUI checks after the home screen shows.)"""
        return self._checked

    @classmethod
    def open(cls, config: Config, clock: Clock, *, check: bool = True) -> Market:
        """Open (creating or migrating) the store; a failure is a StoreFailure sentence.
        `check`: verify it now (Market.check_damage); without, the first write verifies it
        (a person's; the timers and the inbox's gathering wait for a check: `checked`).

        A store upgraded from before v7 then moves its single ESCROW into the orders'
        own escrow (a chained transfer, so the services make it, not the migration). The
        market is made first: its key is then published and signs that transfer.
        """
        store = Store.open(config)
        try:
            market = cls(store, clock, check=check)
            with store.read() as session:
                split = orders.old_escrow_to_split(session)
            if split:
                store.transact(lambda session: orders.split_old_escrow(session, clock))
        except BaseException:
            store.close()
            raise
        return market

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
        Expire the offers whose 48 h ran out. Tell people, in their inbox, of deadlines
        ending within a day and of booked slots 24 h and 1 h ahead. Checkpoint the chain
        heads when the last checkpoint is `checkpoint_every` old, after writing the
        account-age credit time has earned for everyone (credit.age_sweep: no score moves
        when someone reads it). Once a day, learn the condition factors of suggested prices
        from the completed sales (conditions.learn: derived data).

        A cheap read first, so a face that ticks on every command or every 30 s writes
        only when a deadline or a checkpoint is due.
        """
        if not self.checked or self.damage is not None:
            # A store that fails verify moves no money, not even by its timers; nor one not
            # verified yet (its opener verifies it next, and the timers run again).
            return []
        every = self.settings.checkpoint_every
        with self.store.read() as session:
            due = orders.anything_due(session, self.clock)
            offers_due = offers.anything_due(session, self.clock)
            notices = orders.notices(session, self.clock, self.settings)
            stale = chain.checkpoint_due(session, self.clock, every)
            learn = conditions.due(session, self.clock)
        if not (due or offers_due or notices or stale or learn):
            return []

        def work(session: Session) -> list[int]:
            if stale:
                credit.age_sweep(session, self.clock, self.settings)
                chain.checkpoint(session, self.clock)
            if offers_due:
                offers.expire(session, self.clock)
            settled = orders.tick(session, self.clock, self.settings) if due else []
            if notices:
                orders.notify(session, self.clock, self.settings)
            if learn:
                conditions.learn(session, self.clock)
            return settled

        return self.store.transact(work)

    def daily_backup(self) -> str | None:
        """Once a day, on first use, keep a copy of a SQLite store (PostgreSQL: pg_dump).

        It never stops the work that set it off: a failure comes back as the warning to show
        (and the next use tries again)."""
        if not self.store.ports.backups:
            return None
        try:
            daily_backup(self.store, self.clock)
        except MarketError as exc:
            return f"Today's automatic backup was not made: {exc.message}"
        return None

    def watcher(self) -> chat.Watcher:
        """Says whether anyone committed since the last look: what live screens poll."""
        return chat.Watcher(self.store.engine)

    # -- who acts --------------------------------------------------------------------------

    def signers(self, person: tuple[int, Ed25519PrivateKey] | None) -> signing.Signers:
        return signing.Signers(market=self.key, person=person)

    def actor(self, handle: str, passphrase: str) -> Actor:
        """The person `handle`, once `passphrase` opens their account (Refused if not), with
        their signing key unsealed (made with their first write since signatures, so a
        refused first command leaves no key behind).

        A store behind what they last saw (rolled back) is a refusal, once: the heads they
        see now are remembered, so the next login goes on.
        """
        last_seen = seen.last_seen(self.config, self.identity, handle.strip().lower())
        with self.store.read() as session, ThreadPoolExecutor(1) as unsealing:
            user = accounts.user_row(session, handle)
            # Both derive a key from the passphrase (argon2, about 0.3 s each, outside the
            # GIL): at once. A passphrase that opens no account is refused for that, not for
            # the key it could not unseal.
            key = (
                unsealing.submit(signing.unseal, user.sealed_key, passphrase, user.id)
                if user.sealed_key
                else None
            )
            view = accounts.unlock(user, passphrase)
            key = key.result() if key is not None else None
            rollback = seen.rolled_back(session, last_seen, view.handle)
        actor = Actor(self, view, key, None if key else passphrase)
        actor.remember_heads()
        if rollback is not None:
            raise Refused("rolled_back", rollback)
        return actor

    def trusted_actor(self, handle: str) -> Actor:
        """`handle` already authenticated by the caller (tests, `demo --open`, the TUI's
        startup with no passphrase): no passphrase check, so no key. It may do what
        appends no signed record (listings, chat, contacts, search); a record of someone
        who has a key (payments, order steps, reviews, operator acts) is refused, and for
        someone without one yet the market vouches."""
        with self.store.read() as session:
            view = accounts.get_user(session, handle)
        return Actor(self, view)


class Actor(
    MoneyCases,
    OfferCases,
    BookingCases,
    PlanCases,
    ShopCases,
    TrustCases,
    RecordCases,
    InboxCases,
):
    """A person acting in the market: every use case, each one transaction (see the bases)."""
