"""What every group of use cases shares: the person acting and their transactions."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, TypeVar

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlmodel import Session

from p2pmarket.models import User
from p2pmarket.services.records import seen
from p2pmarket.services.trust import accounts

if TYPE_CHECKING:
    from p2pmarket.market import Market

T = TypeVar("T")


class ActorBase:
    """A person acting in the market: who, their signing key (None when acting without
    their passphrase), and a transaction with their row in it."""

    def __init__(
        self, market: Market, user: accounts.UserView, key: Ed25519PrivateKey | None = None
    ) -> None:
        self.market, self.user, self.key = market, user, key

    @property
    def person(self) -> tuple[int, Ed25519PrivateKey] | None:
        """Who signs this person's records: them, when their key is unlocked."""
        return (self.user.id, self.key) if self.key is not None else None

    def remember_heads(self) -> None:
        """Keep the chain heads this person sees now on their side (services/records/seen.py)."""
        with self.market.store.read() as session:
            seen.remember(self.market.config, self.user.handle, seen.heads(session, self.user.id))

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

        def unit(session: Session) -> T:
            session.info["signers"] = self.market.signers(self.person)
            return work(session, session.get(User, self.user.id))

        result = self.market.store.transact(unit)
        if self.key is not None:
            self.remember_heads()
        return result
