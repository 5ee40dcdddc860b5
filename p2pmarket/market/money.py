"""Money: wallets, orders and escrow, payments, mediation."""

from __future__ import annotations

from p2pmarket.market.base import ActorBase


class MoneyCases(ActorBase):
    """The money use cases of `market.Actor`."""
