"""Trust among strangers: chat, contacts and tiers, privacy, profiles, credit, reviews, reports."""

from __future__ import annotations

from p2pmarket.market.base import ActorBase


class TrustCases(ActorBase):
    """The trust use cases of `market.Actor`."""
