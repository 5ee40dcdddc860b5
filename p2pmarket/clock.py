"""The one place that reads the wall clock.

Services take a `Clock` and ask it for the time in whole UTC seconds, so tests
(and scripted demos, via P2PMARKET_NOW) move time instead of waiting for it.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Protocol
from zoneinfo import ZoneInfo

MINUTE = 60
HOUR = 60 * MINUTE
DAY = 24 * HOUR


class Clock(Protocol):
    def now(self) -> int: ...


class SystemClock:
    def now(self) -> int:
        return int(time.time())


class FixedClock:
    """A clock that only moves when told to."""

    def __init__(self, now: int) -> None:
        self._now = now

    def now(self) -> int:
        return self._now

    def advance(self, seconds: int) -> None:
        self._now += seconds

    def set(self, now: int) -> None:
        self._now = now


def parse_instant(text: str) -> int:
    """Unix seconds or an ISO-8601 instant (naive means UTC)."""
    text = text.strip()
    if text.lstrip("-").isdigit():
        return int(text)
    moment = datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return int(moment.timestamp())


def wall(ts: int, zone: str) -> str:
    """An instant on the market's wall clock ('2026-11-29 21:08' in Asia/Shanghai): the
    times every screen shows, as its slots are."""
    return datetime.fromtimestamp(ts, ZoneInfo(zone)).strftime("%Y-%m-%d %H:%M")


def iso(ts: int) -> str:
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M UTC")


def countdown(seconds: int) -> str:
    """A short human countdown: '2d 3h', '5h 10m', '42m', 'overdue'."""
    if seconds <= 0:
        return "overdue"
    days, rest = divmod(seconds, DAY)
    hours, rest = divmod(rest, HOUR)
    minutes = rest // MINUTE
    if days:
        return f"{days}d {hours}h"
    if hours:
        return f"{hours}h {minutes}m"
    return f"{max(minutes, 1)}m"
