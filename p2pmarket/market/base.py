"""What every group of use cases shares: the person acting and their transactions."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING

from sqlmodel import Session

from p2pmarket.models import User
from p2pmarket.services.trust import accounts

if TYPE_CHECKING:
    from p2pmarket.market import Market


class ActorBase:
    """A person acting in the market: who, and a transaction with their row in it."""

    def __init__(self, market: Market, user: accounts.UserView) -> None:
        self.market, self.user = market, user

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
        """A write transaction and this person's row, read under the write lock."""
        with self.market.store.write() as session:
            yield session, session.get(User, self.user.id)
