"""Offers: haggling over a listing in trade mode, and a seller's rules for it.

Each method is one transaction; the rules, and the views returned, are in
services/trust/offers.py. Amounts are minor units, as the services take them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from p2pmarket.market.base import ActorBase
from p2pmarket.services.trust import offers

if TYPE_CHECKING:
    from sqlmodel import Session

    from p2pmarket.models import User


class OfferCases(ActorBase):
    """The offer use cases of `market.Actor`."""

    def make_offer(
        self, listing_id: int, unit_price: int, quantity: int = 1, note: str = ""
    ) -> offers.OfferView:
        """Offer `unit_price` per unit for `quantity` of a listing (trade mode)."""

        def work(session: Session, me: User):
            return offers.make_offer(
                session,
                self.market.clock,
                self.market.settings,
                me,
                listing_id,
                unit_price,
                quantity,
                note,
            )

        return self._write(work)

    def answer_offer(
        self,
        offer_id: int,
        step: str,
        *,
        unit_price: int | None = None,
        quantity: int | None = None,
        note: str = "",
    ) -> offers.OfferView:
        """accept (the order it becomes is named in the view), decline, counter, withdraw."""

        def work(session: Session, me: User):
            return offers.respond(
                session,
                self.market.clock,
                self.market.settings,
                me,
                offer_id,
                step,
                unit_price=unit_price,
                quantity=quantity,
                note=note,
            )

        return self._write(work)

    def list_offers(
        self, *, open_only: bool = False, listing_id: int | None = None
    ) -> list[offers.OfferView]:
        """Offers I made or was made, newest first."""
        with self._read() as (session, me):
            return offers.list_offers(session, me, open_only=open_only, listing_id=listing_id)

    def offer(self, offer_id: int) -> offers.OfferView:
        with self._read() as (session, me):
            return offers.get_offer(session, me, offer_id)

    def offer_policy(self, listing_id: int) -> offers.OfferPolicy:
        """A listing's offer rules (its floor only for its seller)."""
        with self._read() as (session, me):
            return offers.policy(session, me, listing_id)

    def set_offer_policy(
        self,
        listing_id: int,
        *,
        floor: int | None = None,
        clear_floor: bool = False,
        firm: bool | None = None,
    ) -> offers.OfferPolicy:
        """Set a floor (offers below are declined automatically), clear it, or mark the
        listing price firm (no offers) or open to offers again."""

        def work(session: Session, me: User):
            return offers.set_policy(
                session,
                self.market.clock,
                me,
                listing_id,
                floor=floor,
                clear_floor=clear_floor,
                firm=firm,
            )

        return self._write(work)
