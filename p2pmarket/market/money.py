"""Money: wallets, orders and escrow, payments, mediation.

Each method is one transaction; the rules, and the views returned, are the services'.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from p2pmarket.errors import MarketError
from p2pmarket.market.base import ActorBase
from p2pmarket.services.market import availability
from p2pmarket.services.money import attention, ledger, orders, previews
from p2pmarket.services.trust import feedback

if TYPE_CHECKING:
    from sqlmodel import Session

    from p2pmarket.models import User


@dataclass(frozen=True)
class OrderNow:
    """An order as the person acting sees it, with the actions they may take on it now."""

    order: orders.OrderView
    actions: list[str]
    # Once disputed: the reason, attached chat lines and statements (None: never disputed).
    case: orders.disputes.CaseView | None = None


@dataclass(frozen=True)
class MediationQueue:
    """What waits for a mediator: disputed orders of other people, and open reports."""

    disputes: list[orders.OrderView]
    reports: list[feedback.ReportView]


class MoneyCases(ActorBase):
    """The money use cases of `market.Actor`."""

    # -- wallet ----------------------------------------------------------------------------

    def topup(self, amount: int, key: str) -> ledger.Moved:
        """Add `amount` (minor units) from outside the market; `key` makes a retry safe."""

        def work(session: Session, me: User):
            done = ledger.topup(session, self.market.clock, me.id, amount, key)
            return ledger.Moved(done, ledger.balance(session, me.id))

        return self._write(work)

    def withdraw(self, amount: int, key: str) -> ledger.Moved:
        """Take `amount` (minor units) out of the market; `key` makes a retry safe."""

        def work(session: Session, me: User):
            done = ledger.withdraw(session, self.market.clock, me.id, amount, key)
            return ledger.Moved(done, ledger.balance(session, me.id))

        return self._write(work)

    def preview_withdrawal(self, amount: int) -> previews.WithdrawalPreview:
        """What withdrawing `amount` would leave, shown before the second confirmation."""
        with self._read() as (session, me):
            return previews.withdrawal(session, me.id, amount)

    def wallet(self, limit: int = 20) -> ledger.WalletView:
        """My balance and my latest `limit` entries, newest first."""
        with self._read() as (session, me):
            return ledger.WalletView(
                me.handle, ledger.balance(session, me.id), ledger.statement(session, me.id, limit)
            )

    # -- orders ----------------------------------------------------------------------------

    def create_order(self, listing_id: int, quantity: int = 1) -> orders.OrderView:
        """Ask to buy `quantity` of a listing; the seller accepts, then I pay."""

        def work(session: Session, me: User):
            return orders.create_order(session, self.market.clock, me, listing_id, quantity)

        return self._write(work)

    def list_orders(self, side: str = "all", open_only: bool = False) -> list[orders.OrderView]:
        """My orders, newest first: all, buying, selling, or (a mediator) mediating."""
        with self._read() as (session, me):
            return orders.list_orders(session, me.id, side=side, open_only=open_only)

    def order(self, order_id: int) -> orders.OrderView:
        """One order of mine (or one in mediation, for a mediator), with its timeline."""
        with self._read() as (session, me):
            return orders.get_order(session, me, order_id)

    def order_now(self, order_id: int) -> OrderNow:
        """One order with its timeline and the actions I may take on it now (its steps,
        then how it changes hands: meet, ship, agree; once completed, my review), and its
        dispute's case if it has been disputed."""
        with self._read() as (session, me):
            order = orders.get_order(session, me, order_id)
            steps = orders.allowed_actions(order, me.handle, str(me.role))
            market = self.market
            if orders.disputes.can_state(session, market.clock, market.settings, me, order_id):
                steps.append("statement")
            steps += orders.handover.actions(order, me.handle)
            if feedback.reviewable(session, me.id, order_id):
                steps.append("review")
            case = (
                orders.disputes.case(session, market.settings, me, order_id)
                if order.was_disputed
                else None
            )
            return OrderNow(order, steps, case)

    # -- how goods change hands ------------------------------------------------------------

    def meeting_places(
        self, order_id: int, area: str | None = None
    ) -> orders.handover.MeetingPlaces:
        """The area a meet-up for this order of mine is at (the seller's, unless named), its
        landmarks to pick from, and a time to start from."""
        with self._read() as (session, me):
            orders.get_order(session, me, order_id)  # mine, or refused
            return orders.handover.meeting_places(
                session, self.market.clock, self.market.settings.zone, order_id, area
            )

    def propose_meet(
        self, order_id: int, at: str, place: str, area: str | None = None
    ) -> orders.OrderView:
        """Propose meeting at a landmark (its key) at `at` (2026-12-05T15:00, the market's
        clock); the other side agrees."""
        zone = self.market.settings.zone
        when = availability.parse_local(at, zone)

        def work(session: Session, me: User):
            orders.handover.propose_meet(
                session, self.market.clock, zone, me, order_id, at=when, place=place, area=area
            )
            return orders.get_order(session, me, order_id)

        return self._write(work)

    def propose_ship(self, order_id: int, tracking: str) -> orders.OrderView:
        """As the seller: ship it, with a tracking note; the buyer agrees."""

        def work(session: Session, me: User):
            orders.handover.propose_ship(
                session,
                self.market.clock,
                self.market.settings.zone,
                me,
                order_id,
                tracking=tracking,
            )
            return orders.get_order(session, me, order_id)

        return self._write(work)

    def agree_handover(self, order_id: int) -> orders.OrderView:
        """Agree to the other side's proposal of how the order changes hands."""

        def work(session: Session, me: User):
            orders.handover.agree(
                session, self.market.clock, self.market.settings.zone, me, order_id
            )
            return orders.get_order(session, me, order_id)

        return self._write(work)

    def act(
        self,
        order_id: int,
        action: str,
        claim: orders.Claim | None = None,
        opening: orders.disputes.Opening | None = None,
    ) -> orders.OrderView:
        """One step of an order that needs nothing more than its name: accept, deliver,
        confirm, cancel, revoke, extend, and a rental's handover, return and accept-claim;
        or an owner's `claim` on a rental's deposit, or a dispute's `opening` (paying and
        resolving have their own)."""

        def work(session: Session, me: User):
            return orders.act(
                session,
                self.market.clock,
                self.market.settings,
                me,
                order_id,
                action,
                claim=claim,
                opening=opening,
            )

        return self._write(work)

    def preview_step(
        self,
        order_id: int,
        action: str,
        resolution: str | None = None,
        amount: str | None = None,
        *,
        claim: orders.Claim | None = None,
    ) -> str | None:
        """The sentence to confirm before a step that moves money (None: it moves none).

        The step is tried and rolled back, so a preview refuses exactly what the step would
        refuse (a closed revoke window, a split out of range, a claim above the deposit)
        and moves nothing.
        """
        decision = {"claim": claim}
        if resolution is not None:
            resolution, split = orders.parse_resolution(resolution, amount)
            decision = {"resolution": resolution, "split": split}

        def work(session: Session, me: User) -> tuple[orders.OrderView, orders.OrderView]:
            order = orders.get_order(session, me, order_id)
            trial = session.begin_nested()
            try:
                after = orders.act(
                    session,
                    self.market.clock,
                    self.market.settings,
                    me,
                    order_id,
                    action,
                    **decision,
                )
            finally:
                trial.rollback()
            return order, after

        order, after = self._write(work)
        to_seller = None
        if resolution is not None:
            held = order.deposit if order.returned_at is not None else order.amount
            to_seller = orders.disputes.shares(held, resolution, decision["split"]).to_seller
        elif action == "claim":
            to_seller = after.claim_amount
        elif action == "revoke" and order.slot_start is not None:
            settings = self.market.settings
            now = self.market.clock.now()
            to_seller = orders.late_fee(order.slot_start, orders.rent(order), now, settings)
        return previews.step(order, action, to_seller)

    # -- payments --------------------------------------------------------------------------

    def preview_payments(self, order_ids: list[int]) -> list[orders.PaymentPreview]:
        """What paying these orders would do, shown before the second confirmation."""
        with self._read() as (session, me):
            return [
                orders.preview_payment(
                    session, self.market.clock, self.market.settings, me, order_id
                )
                for order_id in order_ids
            ]

    def pay(self, order_id: int, key: str | None = None) -> orders.OrderView:
        """Pay one order into escrow, under the same checks as its preview."""

        def work(session: Session, me: User):
            return orders.pay(session, self.market.clock, self.market.settings, me, order_id, key)

        return self._write(work)

    def pay_many(self, order_ids: list[int]) -> list[orders.OrderView | MarketError]:
        """Pay several orders in one transaction; each is paid or refused on its own."""

        def work(session: Session, me: User):
            return orders.pay_many(session, self.market.clock, self.market.settings, me, order_ids)

        return self._write(work)

    # -- disputes --------------------------------------------------------------------------

    def open_dispute(
        self, order_id: int, reason: str, attach: tuple[int, ...] = ()
    ) -> orders.OrderView:
        """Ask a mediator, with a one-line reason and lines of our chat (message ids)
        attached; every timer pauses."""
        return self.act(order_id, "dispute", opening=orders.disputes.Opening(reason, attach))

    def dispute_lines(self, order_id: int) -> list[orders.disputes.ChatLine]:
        """The recent lines of my chat with the other side of an order, to attach."""
        with self._read() as (session, me):
            return orders.disputes.recent_lines(session, me, order_id)

    def add_statement(self, order_id: int, body: str) -> orders.disputes.CaseView:
        """My one statement on a dispute of mine, within the statement window."""

        def work(session: Session, me: User):
            return orders.disputes.add_statement(
                session, self.market.clock, self.market.settings, me, order_id, body
            )

        return self._write(work)

    def dispute_case(self, order_id: int) -> orders.disputes.CaseView:
        """A dispute's reason, attached lines, statements, timeline and both parties' credit."""
        with self._read() as (session, me):
            return orders.disputes.case(session, self.market.settings, me, order_id)

    def decision(
        self, order_id: int, resolution: str, amount: str | None = None
    ) -> orders.disputes.Shares:
        """Who would get what by deciding a dispute so (the mediator's form, as typed)."""
        resolution, split = orders.parse_resolution(resolution, amount)
        with self._read() as (session, me):
            return orders.disputes.decision(session, me, order_id, resolution, split)

    # -- mediation -------------------------------------------------------------------------

    def resolve(
        self, order_id: int, resolution: str, amount: str | None = None
    ) -> orders.OrderView:
        """A mediator settles a dispute: release, refund, or split `amount` to the seller."""
        resolution, split = orders.parse_resolution(resolution, amount)

        def work(session: Session, me: User):
            return orders.act(
                session,
                self.market.clock,
                self.market.settings,
                me,
                order_id,
                "resolve",
                resolution=resolution,
                split=split,
            )

        return self._write(work)

    def mediation_queue(self) -> MediationQueue:
        """The disputes I may resolve and the open reports (mediators only)."""
        with self._read() as (session, me):
            return MediationQueue(
                attention.mediation_queue(session, me), feedback.open_reports(session)
            )

    def resolve_report(self, report_id: int, upheld: bool) -> feedback.ReportView:
        """A mediator upholds or dismisses a report."""

        def work(session: Session, me: User):
            return feedback.resolve_report(session, self.market.clock, me, report_id, upheld)

        return self._write(work)
