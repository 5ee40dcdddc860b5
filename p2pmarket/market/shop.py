"""The shop and the catalog: listings, search, suggested prices, the home view."""

from __future__ import annotations

from p2pmarket.market.base import ActorBase


class ShopCases(ActorBase):
    """The shop use cases of `market.Actor`."""
