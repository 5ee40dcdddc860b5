"""What every group of use cases shares: the person acting and their transactions."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlmodel import Session

from p2pmarket.errors import Refused
from p2pmarket.models import User
from p2pmarket.services.records import chain, seen, signing
from p2pmarket.services.trust import accounts

if TYPE_CHECKING:
    from p2pmarket.market import Market

T = TypeVar("T")


class ActorBase:
    """A person acting in the market: who, their signing key (None when acting without
    their passphrase), and a transaction with their row in it.

    Someone with a passphrase but no key yet (their first login since signatures) gets
    one with their first write, in its transaction: `passphrase` seals it then.
    """

    def __init__(
        self,
        market: Market,
        user: accounts.UserView,
        key: Ed25519PrivateKey | None = None,
        passphrase: str | None = None,
    ) -> None:
        self.market, self.user, self.key = market, user, key
        self._first_key_passphrase = passphrase
        self._signing = key  # the key the current transaction signs with

    @property
    def person(self) -> tuple[int, Ed25519PrivateKey] | None:
        """Who signs this person's records: them, when their key is unlocked."""
        return (self.user.id, self.key) if self.key is not None else None

    def sign_in(self, session: Session, *, damaged_ok: bool = False) -> User:
        """My row in this write transaction, my key signing what it appends (made now, at
        my first write with a passphrase; another process may have made it meanwhile). The
        key is mine (`self.key`) once `_write` commits: a refused first command made none.
        A store that fails verify is read-only (Market.check_damage), but for accepting it."""
        if self.market.damage is not None and not damaged_ok:
            raise Refused("store_damaged", self.market.damage)
        # FOR NO KEY UPDATE: one person's writes queue on PostgreSQL (their limits and
        # counts hold), while others may still insert rows that refer to them.
        me = session.get(User, self.user.id, with_for_update={"key_share": True})
        passphrase, key = self._first_key_passphrase, self.key
        if passphrase is not None:
            if me.sealed_key:
                key = signing.unseal(me.sealed_key, passphrase, me.id)
            else:
                profile = self.market.settings.hash_profile
                key = signing.make_key(session, self.market.clock, me, passphrase, profile)
        self._signing = key
        session.info["signers"] = self.market.signers((me.id, key) if key else None)
        return me

    def remember_heads(self) -> None:
        """Keep the chain heads this person sees now on their side (services/records/seen.py)."""
        with self.market.store.read() as session:
            heads = seen.heads(session, self.user.id)
        seen.remember(self.market.config, self.market.identity, self.user.handle, heads)

    def _remember_moved(self, moved: seen.Heads) -> None:
        """Add the heads a write of this person moved to what they remember: no read of the
        store after each write (all their heads would grow with their orders)."""
        if moved:
            seen.remember_moved(self.market.config, self.market.identity, self.user.handle, moved)

    @property
    def handle(self) -> str:
        return self.user.handle

    @contextmanager
    def _read(self) -> Iterator[tuple[Session, User]]:
        """A read transaction and this person's row, as it is now."""
        with self.market.store.read() as session:
            yield session, session.get(User, self.user.id)

    def _write(self, work: Callable[[Session, User], T]) -> T:
        """`work` in one write transaction, given this person's row as read inside it; what
        it appends is signed with their key, and what they saw afterwards remembered.

        The whole of `work` is the unit a busy PostgreSQL may run again (Store.transact):
        it reads, checks and writes, and acts on nothing outside the store. The signers are
        set inside the unit, so a retried one signs with the same keys.
        """

        moved: seen.Heads = {}

        def unit(session: Session) -> T:
            done = work(session, self.sign_in(session))
            # The unit that commits is the last to run: a retried one starts afresh.
            moved.clear()
            moved.update(chain.moved_heads(session))
            return done

        result = self.market.store.transact(unit)
        if self._first_key_passphrase is not None:
            self.key, self._first_key_passphrase = self._signing, None
        if self.key is not None:
            self._remember_moved(moved)
        return result
