"""Trust among strangers: chat, contacts and tiers, privacy, profiles, credit, reviews, reports.

The other person is named by handle, as both faces read it; each use case looks them up
inside its own transaction, so a refusal (unknown user, blocked, …) and the change it
guards see the same rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from p2pmarket.market.base import ActorBase
from p2pmarket.models import ChatMode, Tier
from p2pmarket.services.money import orders
from p2pmarket.services.trust import accounts, chat, contacts, credit, feedback, gate, privacy

if TYPE_CHECKING:
    from sqlmodel import Session

    from p2pmarket.market import Market
    from p2pmarket.models import User


@dataclass(frozen=True)
class Sent:
    """A message sent, and to whom (their handle as stored, whatever case was typed)."""

    to: str
    message: chat.MessageView

    def to_json(self) -> dict:
        return self.message.to_json()


@dataclass(frozen=True)
class OpenConversation:
    """A conversation as its reader sees it, and the order in it they may pay now (if any)."""

    view: chat.ConversationView
    payable: int | None


@dataclass(frozen=True)
class PrivacyPreview:
    """Which facts I publish, and what others then see of me."""

    settings: privacy.PrivacyView
    public: privacy.PublicProfile


class TrustCases(ActorBase):
    """The trust use cases of `market.Actor`."""

    # -- contacts --------------------------------------------------------------------------

    def contacts(self) -> list[contacts.ContactView]:
        with self._read() as (session, me):
            return contacts.list_contacts(session, me)

    def set_tier(self, handle: str, tier: Tier) -> contacts.ContactView:
        """Classify `handle`; blocking is `Tier.blocked` (no messages, no money)."""

        def work(session: Session, me: User):
            other = accounts.user_row(session, handle)
            return contacts.set_tier(session, self.market.clock, me, other, tier)

        return self._write(work)

    # -- chat ------------------------------------------------------------------------------

    def conversations(self) -> list[chat.ConversationSummary]:
        with self._read() as (session, me):
            return chat.list_conversations(session, me)

    def conversation(self, handle: str, *, limit: int = 50) -> OpenConversation:
        """The last `limit` lines with `handle`, marked read (hence a write)."""

        def work(session: Session, me: User):
            other = accounts.user_row(session, handle)
            view = chat.show(
                session, self.market.clock, me, other, settings=self.market.settings, limit=limit
            )
            return OpenConversation(view, _payable(session, me, view.order_id))

        return self._write(work)

    def send_message(
        self,
        handle: str,
        text: str,
        *,
        listing_id: int | None = None,
        order_id: int | None = None,
    ) -> Sent:
        def work(session: Session, me: User):
            other = accounts.user_row(session, handle)
            message = chat.send(
                session,
                self.market.clock,
                me,
                other,
                text,
                listing_id=listing_id,
                order_id=order_id,
                settings=self.market.settings,
            )
            return Sent(other.handle, message)

        return self._write(work)

    def set_chat_mode(self, handle: str, mode: ChatMode) -> chat.MessageView:
        """Switch the conversation with `handle`; the switch is a line both sides see."""

        def work(session: Session, me: User):
            other = accounts.user_row(session, handle)
            return chat.set_mode(session, self.market.clock, me, other, mode)

        return self._write(work)

    def request_payment(
        self, handle: str, amount: int, *, listing_id: int | None = None, note: str = ""
    ) -> chat.PaymentRequest:
        """In trade mode, ask `handle` to pay `amount`: an accepted order they pay."""

        def work(session: Session, me: User):
            buyer = accounts.user_row(session, handle)
            return chat.request_payment(
                session,
                self.market.clock,
                me,
                buyer,
                amount,
                listing_id=listing_id,
                note=note,
                settings=self.market.settings,
            )

        return self._write(work)

    # -- what people say about each other --------------------------------------------------

    def review(self, order_id: int, stars: int, text: str) -> feedback.ReviewView:
        """Review the other side of a completed paid order."""

        def work(session: Session, me: User):
            return feedback.review(session, self.market.clock, me, order_id, stars, text)

        return self._write(work)

    def report(self, handle: str, reason: str) -> feedback.ReportView:
        """Report `handle` to the mediators."""

        def work(session: Session, me: User):
            target = accounts.user_row(session, handle)
            return feedback.report(session, self.market.clock, me, target, reason)

        return self._write(work)

    # -- privacy, profiles, credit ---------------------------------------------------------

    def privacy(self) -> PrivacyPreview:
        with self._read() as (session, me):
            return self._privacy(session, me)

    def set_fact(self, fact: str, on: bool) -> PrivacyPreview:
        """Publish or hide one fact (a name from `privacy.FACTS`)."""

        def work(session: Session, me: User):
            privacy.set_fact(session, me, fact, on)
            return self._privacy(session, me)

        return self._write(work)

    def _privacy(self, session: Session, me: User) -> PrivacyPreview:
        # As an anonymous viewer sees me: no distance, only what I publish.
        public = privacy.public_profile(session, None, me.id, self.market.clock)
        return PrivacyPreview(privacy.privacy_view(me), public)

    def profile(self, handle: str) -> privacy.PublicProfile:
        """What I may see of `handle`: their published facts, a rounded distance."""
        with self._read() as (session, me):
            other = accounts.user_row(session, handle)
            return privacy.public_profile(session, me.id, other.id, self.market.clock)

    def credit_report(self, handle: str, *, limit: int = 20) -> credit.CreditReport:
        """`handle`'s credit and its last `limit` events; my own even when unpublished."""
        return _credit_report(self.market, handle, limit, viewer_id=self.user.id)


# -- use cases that need nobody logged in -------------------------------------------------


def credit_report(market: Market, handle: str, *, limit: int = 20) -> credit.CreditReport:
    """`handle`'s credit and its last `limit` events, if they publish it."""
    return _credit_report(market, handle, limit, viewer_id=None)


def tier_limits(market: Market) -> dict[str, int]:
    """What a payer may have open with one person, by the tier they give them."""
    return {
        str(tier): gate.tier_limit(market.settings, tier)
        for tier in (Tier.stranger, Tier.acquaintance, Tier.trusted)
    }


def _credit_report(
    market: Market, handle: str, limit: int, *, viewer_id: int | None
) -> credit.CreditReport:
    with market.store.read() as session:
        user = accounts.user_row(session, handle)
        return credit.report(
            session, market.clock, market.settings, user, own=user.id == viewer_id, limit=limit
        )


def _payable(session: Session, me: User, order_id: int | None) -> int | None:
    """`order_id` when paying it is an action `me` may take now (the chat's Pay button)."""
    if order_id is None:
        return None
    order = orders.get_order(session, me, order_id)
    return order_id if "pay" in orders.allowed_actions(order, me.handle, str(me.role)) else None
