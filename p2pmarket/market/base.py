"""What every group of use cases shares: the person acting and their transactions."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TYPE_CHECKING, TypeVar

from sqlmodel import Session

from p2pmarket.models import User
from p2pmarket.services.trust import accounts

if TYPE_CHECKING:
    from p2pmarket.market import Market

T = TypeVar("T")


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

    def _write(self, work: Callable[[Session, User], T]) -> T:
        """`work` in one write transaction, given this person's row as read inside it.

        The whole of `work` is the unit a busy PostgreSQL may run again (Store.transact):
        it reads, checks and writes, and acts on nothing outside the store.
        """
        return self.market.store.transact(
            lambda session: work(session, session.get(User, self.user.id))
        )
