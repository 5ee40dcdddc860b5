"""Keeping the search index: derived data, caught up from the listings' queue.

Triggers on `listing` queue changed ids; `catch_up` (called by the shop services,
seeding and before a search when something is queued) re-indexes exactly those rows;
`suspend`/`resume` bracket a bulk load; `rebuild` (`p2pmarket reindex`) recreates
everything from the listing table. How each store keeps it is its adapter's
(store/sqlite/search.py, store/postgres/search.py).
"""

from __future__ import annotations

from sqlmodel import Session

from p2pmarket.store import ports
from p2pmarket.store.ports import Progress


def pending(session: Session) -> int:
    """How many listings wait to be (re)indexed."""
    return ports.of(session).search.pending(session)


def catch_up(session: Session, progress: Progress | None = None) -> int:
    """Re-index every queued listing, in this write transaction. Returns how many."""
    return ports.of(session).search.catch_up(session, progress)


def suspend(session: Session) -> int:
    """Before a bulk load (same write transaction as `resume`): the last listing id."""
    return ports.of(session).search.suspend(session)


def resume(session: Session, after_id: int, progress: Progress | None = None) -> int:
    """After a bulk load: index the listings loaded since `suspend`."""
    return ports.of(session).search.resume(session, after_id, progress)


def rebuild(session: Session, progress: Progress | None = None) -> int:
    """Recreate the whole index from the listing table (derived data, never the truth)."""
    return ports.of(session).search.rebuild(session, progress)
