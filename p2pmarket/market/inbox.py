"""The inbox, saved searches and watched listings.

Each method is one transaction; the rules and the views are in services/trust/inbox.py.
Looking at the inbox gathers it first (a write only when something is new, and none on a
store that fails verify, which stays read-only).
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from typing import TYPE_CHECKING

from p2pmarket.market.base import ActorBase
from p2pmarket.market.shop import centre
from p2pmarket.services.market import search
from p2pmarket.services.trust import inbox

if TYPE_CHECKING:
    from sqlmodel import Session

    from p2pmarket.models import User


@dataclass(frozen=True)
class News:
    """The unread items newer than the last one a face saw, how many are unread, and the
    newest item's id (what the face has seen from now on)."""

    new: tuple[inbox.ItemView, ...]
    unread: int
    newest: int


class InboxCases(ActorBase):
    """The inbox use cases of `market.Actor`."""

    def _gather(self) -> None:
        """Gather my inbox, if something is new (a store that fails verify, or is not verified
        yet, stays as it is)."""
        if not self.market.checked or self.market.damage is not None:
            return
        with self._read() as (session, me):
            if not inbox.anything_new(session, me):
                return
        self._write(lambda session, me: inbox.gather(session, self.market.clock, me))

    def inbox(self, *, unread_only: bool = False) -> inbox.InboxView:
        """My inbox, newest first, gathered up to now."""
        self._gather()
        with self._read() as (session, me):
            return inbox.inbox(session, me, unread_only=unread_only)

    def inbox_news(self, seen: int | None = None) -> News:
        """Gather my inbox; the unread items newer than item `seen` (None: none yet, the
        first look), what a face notifies about wherever they were gathered."""
        self._gather()
        with self._read() as (session, me):
            new = inbox.since(session, me, seen) if seen is not None else ()
            newest = inbox.newest_id(session, me.id)
            return News(tuple(new), inbox.unread(session, me.id), newest)

    def read_item(self, item_id: int) -> inbox.ItemView:
        """Open an item of my inbox: read from now on."""
        return self._write(lambda session, me: inbox.read(session, me, item_id))

    def read_all_items(self) -> int:
        """Mark my whole inbox read; how many items were unread."""
        return self._write(lambda session, me: inbox.read_all(session, me))

    # -- saved searches --------------------------------------------------------------------

    def save_search(
        self,
        name: str,
        query: search.Query,
        *,
        near: str | None = None,
        area: str | None = None,
    ) -> inbox.SavedView:
        """Save a search (centred on my home, or `near` / `area`): listings added from now
        on that it finds come to my inbox."""
        clock = self.market.clock

        def work(session: Session, me: User):
            lat, lon, _ = centre(me, near, area)
            placed = replace(query, lat=lat, lon=lon)
            return inbox.save_search(session, clock, me, name, placed)

        return self._write(work)

    def saved_searches(self) -> list[inbox.SavedView]:
        """My saved searches, each with its hits I have not seen (gathered up to now)."""
        self._gather()
        with self._read() as (session, me):
            return inbox.saved_searches(session, me)

    def open_saved_search(self, name: str) -> inbox.OpenedSearch:
        """A saved search to run again, with the listings it found since my last look
        (their inbox items read from now on)."""
        self._gather()
        return self._write(lambda session, me: inbox.open_saved(session, me, name))

    def unsave_search(self, name: str) -> inbox.SavedView:
        return self._write(lambda session, me: inbox.unsave(session, me, name))

    # -- watched listings ------------------------------------------------------------------

    def watch_listing(self, listing_id: int) -> inbox.WatchView:
        """Watch a listing: its price drops and its selling out come to my inbox."""
        clock = self.market.clock
        return self._write(lambda session, me: inbox.watch(session, clock, me, listing_id))

    def unwatch_listing(self, listing_id: int) -> None:
        self._write(lambda session, me: inbox.unwatch(session, me, listing_id))

    def watched(self) -> list[inbox.WatchView]:
        with self._read() as (session, me):
            return inbox.watches(session, me)
