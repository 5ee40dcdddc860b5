"""What every group of use cases shares: the person acting and their transactions."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlmodel import Session

from p2pmarket.models import User
from p2pmarket.services.records import seen
from p2pmarket.services.trust import accounts

if TYPE_CHECKING:
    from p2pmarket.market import Market


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
            seen.remember(self.market.config, self.user.handle, seen.heads(session))

    @property
    def handle(self) -> str:
        return self.user.handle

    @contextmanager
    def _read(self) -> Iterator[tuple[Session, User]]:
        """A read transaction and this person's row, as it is now."""
        with self.market.store.read() as session:
            yield session, session.get(User, self.user.id)

    @contextmanager
    def _write(self) -> Iterator[tuple[Session, User]]:
        """A write transaction and this person's row, read under the write lock; what it
        appends is signed with their key, and what they saw afterwards remembered."""
        with self.market.store.write() as session:
            session.info["signers"] = self.market.signers(self.person)
            yield session, session.get(User, self.user.id)
        if self.key is not None:
            self.remember_heads()
