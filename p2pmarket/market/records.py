"""People and records: users and the operator's acts, verify, backups, export, history."""

from __future__ import annotations

from p2pmarket.market.base import ActorBase


class RecordCases(ActorBase):
    """The records use cases of `market.Actor`."""
