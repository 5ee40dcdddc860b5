"""Show an order with the actions allowed now, and run one (the orders, mediation and chat
screens share it)."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from p2pmarket import money
from p2pmarket.services.money.orders import Claim
from p2pmarket.tui.plain import said
from p2pmarket.tui.widgets.order_panel import OrderPanel

if TYPE_CHECKING:
    from p2pmarket.services.money.orders import OrderView
    from p2pmarket.tui.screens.base import MarketScreen


class OrderActions:
    """Shared by the orders and mediation screens: show an order in the OrderPanel with the
    actions allowed now, and run one of them as the logged-in user."""

    current: OrderView | None
    # What the logged-in user may do to `current` now: the footer offers only these.
    allowed: tuple[str, ...] = ()

    def _show(self: MarketScreen, order_id: int | None) -> None:
        panel = self.query_one(OrderPanel)
        if order_id is None:
            self.current, self.allowed = None, ()
            panel.show(None, [], 0)
        else:
            now = self.actor.order_now(order_id)
            self.current, self.allowed = now.order, tuple(now.actions)
            panel.show(now.order, now.actions, self.market.clock.now(), now.case)
        self.refresh_bindings()

    def run_order_action(self: MarketScreen, order_id: int, action: str) -> None:
        if action == "pay":
            self._pay(order_id)
        elif action == "resolve":
            self._resolve(order_id)
        elif action == "dispute":
            self._dispute(order_id)
        elif action == "statement":
            self._statement(order_id)
        elif action == "claim":
            self._claim(order_id)
        elif action == "meet":
            self._meet(order_id)
        elif action == "ship":
            self._ship(order_id)
        elif action == "agree":
            self._handover(lambda: self.actor.agree_handover(order_id))
        elif action == "review":
            self._review(order_id)
        else:
            self._confirmed(order_id, action, lambda: self.actor.act(order_id, action))

    def _confirmed(
        self: MarketScreen,
        order_id: int,
        action: str,
        step: Callable[[], OrderView],
        *decision: str,
        claim: Claim | None = None,
    ) -> None:
        """Run `step`; one that moves money first says what it will do and asks once."""
        from p2pmarket.tui.widgets.confirm import ConfirmModal

        # A 1-tuple, so a refused preview (None) differs from a step that moves no money.
        preview = self.attempt(
            lambda: (self.actor.preview_step(order_id, action, *decision, claim=claim),)
        )
        if preview is None:
            return
        (sentence,) = preview
        if sentence is None:
            self._done(step)
            return
        self.app.push_screen(
            ConfirmModal(sentence, yes=action.replace("-", " ").capitalize(), no="Back"),
            lambda yes: yes and self._done(step),
        )

    def _done(self: MarketScreen, step: Callable[[], OrderView]) -> None:
        """Run one order step; say where it left the order (or why it was refused)."""
        done = self.attempt(step)
        if done is not None:
            self.market.tell(f"Order #{done.id} is {said(done.status)}.")
            self.reload()

    def _pay(self: MarketScreen, order_id: int) -> None:
        from p2pmarket.tui.widgets.payment import PaymentModal

        previews = self.attempt(lambda: self.actor.preview_payments([order_id]))
        if previews is None:
            return

        def confirmed(ok: bool | None) -> None:
            if ok:
                self._done(lambda: self.actor.pay(order_id))

        self.app.push_screen(PaymentModal(previews[0], self.actor.handle), confirmed)

    def _review(self: MarketScreen, order_id: int) -> None:
        from p2pmarket.tui.widgets.ask import AskModal

        def answered(value: str | None) -> None:
            # "5 on time, friendly": the stars, then a few words (the service judges both).
            if not value or not value.strip():
                return
            stars, _, words = value.strip().partition(" ")
            count = int(stars) if stars.isascii() and stars.isdigit() else 0
            done = self.attempt(lambda: self.actor.review(order_id, count, words))
            if done is not None:
                self.market.tell(f"Reviewed @{done.subject}: {'★' * done.stars}.")
                self.reload()

        self.app.push_screen(
            AskModal(
                f"Review order #{order_id}: stars 1–5, then a few words",
                placeholder="5 on time, as described",
            ),
            answered,
        )

    def _resolve(self: MarketScreen, order_id: int) -> None:
        """The decision form: it shows who gets what as the mediator picks, and is the one
        confirmation before the money moves."""
        from p2pmarket.tui.widgets.decision import DecisionForm

        case = self.attempt(lambda: self.actor.dispute_case(order_id))
        if case is None:
            return

        def decided(choice: tuple[str, str | None] | None) -> None:
            if choice is not None:
                self._done(lambda: self.actor.resolve(order_id, *choice))

        self.app.push_screen(
            DecisionForm(
                order_id,
                case.held,
                lambda resolution, amount: self.actor.decision(order_id, resolution, amount),
            ),
            decided,
        )

    def _dispute(self: MarketScreen, order_id: int) -> None:
        from p2pmarket.tui.widgets.dispute import DisputeModal

        lines = self.attempt(lambda: self.actor.dispute_lines(order_id))
        if lines is None or self.current is None:
            return
        me = self.actor.handle
        other = self.current.seller if self.current.buyer == me else self.current.buyer

        def opened(opening) -> None:
            if opening is not None:
                self._done(
                    lambda: self.actor.open_dispute(order_id, opening.reason, opening.attach)
                )

        self.app.push_screen(DisputeModal(order_id, other, lines), opened)

    def _statement(self: MarketScreen, order_id: int) -> None:
        from p2pmarket.tui.widgets.ask import AskModal

        def answered(body: str | None) -> None:
            if body is None:
                return
            case = self.attempt(lambda: self.actor.add_statement(order_id, body))
            if case is not None:
                self.market.tell(f"Your statement is on the dispute of order #{order_id}.")
                self.reload()

        self.app.push_screen(
            AskModal(
                f"Your statement for the mediator of order #{order_id} (one per side, "
                "within 48 h of the dispute opening)",
                placeholder="What happened, as you saw it",
            ),
            answered,
        )

    def _claim(self: MarketScreen, order_id: int) -> None:
        from p2pmarket.tui.widgets.ask import AskModal

        def answered(value: str | None) -> None:
            # "120 scratched lens": the amount in yuan, then why; empty after a late
            # return claims the late days (the services judge both).
            if value is None:
                return
            amount, _, reason = value.strip().partition(" ")
            claim = self.attempt(
                lambda: Claim(money.parse(amount) if amount else None, reason or None)
            )
            if claim is not None:
                self._confirmed(
                    order_id,
                    "claim",
                    lambda: self.actor.act(order_id, "claim", claim),
                    claim=claim,
                )

        self.app.push_screen(
            AskModal(
                f"Claim on the deposit of order #{order_id}: AMOUNT (yuan) and why — or "
                "nothing after a late return, for the late days",
                placeholder="120 scratched lens",
            ),
            answered,
        )

    # -- how goods change hands ------------------------------------------------------------

    def _handover(self: MarketScreen, step: Callable[[], OrderView]) -> None:
        """Propose or agree how the order changes hands; say where that left it."""
        done = self.attempt(step)
        if done is not None:
            h = done.handover
            state = "agreed" if h.agreed else "proposed, waiting for the other side"
            self.market.tell(
                f"Order #{done.id}: {h.describe(self.market.market.settings.zone)} ({state})."
            )
            self.reload()

    def _meet(self: MarketScreen, order_id: int) -> None:
        from p2pmarket.tui.widgets.meetup import MeetUpForm

        places = self.attempt(lambda: self.actor.meeting_places(order_id))
        if places is None:
            return

        def chosen(meet) -> None:
            if meet is not None:
                self._handover(
                    lambda: self.actor.propose_meet(order_id, meet.at, meet.place, meet.area)
                )

        self.app.push_screen(MeetUpForm(order_id, places.area, at=places.suggested_at), chosen)

    def _ship(self: MarketScreen, order_id: int) -> None:
        from p2pmarket.tui.widgets.ask import AskModal

        def answered(tracking: str | None) -> None:
            if tracking is not None:
                self._handover(lambda: self.actor.propose_ship(order_id, tracking))

        self.app.push_screen(
            AskModal(
                f"Ship order #{order_id}: the carrier and tracking number, for the buyer",
                placeholder="SF Express SF1234567890",
            ),
            answered,
        )
