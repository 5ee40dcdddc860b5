"""Plan: a wish (its legs, day and window, budget, area) → up to five proposals → the
booked day as a timeline with where and when. Booking pays every leg at once, behind
the second confirmation (PaymentModal)."""

from __future__ import annotations

from datetime import timedelta
from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import DataTable, Header, Input, Static

from p2pmarket import money
from p2pmarket.errors import MarketError
from p2pmarket.market import bookings
from p2pmarket.tui.plain import data, line, said
from p2pmarket.tui.screens.base import MarketScreen
from p2pmarket.tui.widgets.footer import MarketFooter
from p2pmarket.tui.widgets.payment import PaymentModal
from p2pmarket.tui.widgets.table import MarketTable
from p2pmarket.tui.widgets.text_input import TextInput

if TYPE_CHECKING:
    from p2pmarket.services.money.plans import PlanView, Proposals

WISH = "babysitting, cooking-class, photography"
# The form's fields under the legs: id, label (in the border), placeholder (widths in
# app.tcss).
FIELDS = (
    ("plan-date", "day", "YYYY-MM-DD"),
    ("plan-from", "from", "13:00"),
    ("plan-to", "to", "19:00"),
    ("plan-budget", "budget ¥", "any"),
    ("plan-credit", "credit ≥", "any"),
    ("plan-area", "area", "near home"),
)


class PlanScreen(MarketScreen):
    NAME = "Plan"
    BINDINGS: ClassVar = [
        Binding("ctrl+s", "propose", "Propose"),
        Binding("b", "book", "Book and pay"),
        Binding("e", "replace", "Replace leg"),
    ]

    def __init__(self) -> None:
        super().__init__()
        self.plans: dict[int, PlanView] = {}
        self.unfilled: tuple[str, ...] = ()

    def compose(self) -> ComposeResult:
        yield Header()
        yield TextInput(
            value=WISH, placeholder="legs, e.g. babysitting ×2, cleaning", id="plan-legs"
        )
        with Horizontal(id="plan-form"):
            for field_id, label, placeholder in FIELDS:
                field = TextInput(placeholder=placeholder, id=field_id)
                field.border_title = label
                yield field
        yield MarketTable(id="plan-table")
        with VerticalScroll(id="plan-day"):
            yield Static("", id="plan-timeline")
        yield MarketFooter()

    def on_mount(self) -> None:
        super().on_mount()
        today = bookings.today(self.market.market)
        saturday = today + timedelta(days=(5 - today.weekday()) % 7 or 7)
        defaults = {"plan-date": saturday.isoformat(), "plan-from": "13:00", "plan-to": "19:00"}
        for field_id, value in defaults.items():
            self.query_one(f"#{field_id}", Input).value = value
        self.query_one("#plan-table", DataTable).add_columns(
            "", "total", "on the way", "credit", "legs"
        )

    def reload(self) -> None:
        found = self.attempt(self.actor.list_plans)
        if found is not None:
            self._fill(found)

    def _fill(self, found: list[PlanView]) -> None:
        self.plans = {p.id: p for p in found}
        self.query_one("#plan-table", MarketTable).refill(
            [
                (
                    p.id,
                    (
                        f"proposal {p.number}" if p.number else f"plan #{p.id} {said(p.status)}",
                        money.fmt(p.total),
                        f"{p.travel_minutes} min",
                        "-" if p.lowest_credit is None else str(p.lowest_credit),
                        line(", ".join(f"{leg.at} {leg.wish}" for leg in p.legs), 60),
                    ),
                )
                for p in found
            ]
        )
        self._show(self.query_one("#plan-table", MarketTable).selected_key())

    def _value(self, field_id: str) -> str | None:
        return self.query_one(f"#{field_id}", Input).value.strip() or None

    @on(Input.Submitted)
    def action_propose(self) -> None:
        try:
            wish = self.actor.wish(
                self._value("plan-legs") or "",
                self._value("plan-date") or "",
                self._value("plan-from") or "09:00",
                self._value("plan-to") or "21:00",
                area=self._value("plan-area"),
                budget=self._value("plan-budget"),
                min_credit=self._value("plan-credit"),
            )
        except MarketError as exc:
            self.market.refuse(exc)
            return
        self.query_one("#plan-timeline", Static).update(Text("Planning…", style="dim"))
        self._propose(wish)

    @work(thread=True, exclusive=True, group="plan")
    def _propose(self, wish) -> None:
        try:
            found = self.actor.propose_plans(wish)
        except MarketError as exc:
            self.market.call_from_thread(self.market.refuse, exc)
            return
        self.app.call_from_thread(self._proposed, found)

    def _proposed(self, found: Proposals) -> None:
        self.unfilled = found.unfilled
        self.reload()
        table = self.query_one("#plan-table", MarketTable)
        if found.plans:
            table.move_cursor(row=0, animate=False)
            table.focus()
            self._show(found.plans[0].id)
        else:
            self._show(None)

    @on(DataTable.RowHighlighted, "#plan-table")
    def _highlighted(self, event: DataTable.RowHighlighted) -> None:
        if event.row_key.value is not None:
            self._show(int(event.row_key.value))

    def _show(self, plan_id: int | None) -> None:
        """The plan under the cursor as its day: each leg's when, where, who and price."""
        out = Text()
        plan = self.plans.get(plan_id) if plan_id is not None else None
        if plan is None:
            for reason in self.unfilled:
                out.append_text(data(reason + "\n", style="yellow"))
            if not self.unfilled:
                out.append(
                    "Say what the day needs (legs, the day, from, to), then Enter or ctrl+s: "
                    "up to five plans, cheapest first.",
                    style="dim",
                )
            self.query_one("#plan-timeline", Static).update(out)
            return
        name = f"Proposal {plan.number}" if plan.number else f"Plan #{plan.id}, {said(plan.status)}"
        out.append(f"{name} · {plan.day} {plan.window}\n", style="bold")
        out.append_text(data(plan.why + "\n", style="dim"))
        for leg in plan.legs:
            out.append(f"{leg.at}  ", style="bold")
            out.append_text(line(f"{leg.wish}: {leg.title}"))
            status = f" · order #{leg.order_id} {said(leg.status)}" if leg.order_id else ""
            credit = f" ({leg.credit})" if leg.credit is not None else ""
            out.append_text(
                data(
                    f"\n             @{leg.seller}{credit} · {leg.where} · "
                    f"{leg.travel_minutes} min on the way · {money.fmt(leg.amount)}{status}\n"
                )
            )
        if plan.number:
            out.append("b books and pays every leg at once (all or none).", style="dim")
        for position, options in self._replacements(plan).items():
            out.append(f"Leg {position} was cancelled and refunded. Still fitting:\n")
            for i, o in enumerate(options, 1):
                out.append_text(data(f"  {i}. {o.at} {o.title} by @{o.seller}, {o.where}, "))
                out.append(f"{money.fmt(o.amount)}\n")
            out.append("e books and pays the first in its place.\n", style="dim")
        self.query_one("#plan-timeline", Static).update(out)

    def _replacements(self, plan: PlanView) -> dict:
        """A booked plan's cancelled legs and what still fits in their place."""
        if plan.number is not None or not plan.cancelled:
            return {}
        detail = self.attempt(lambda: self.actor.plan(plan.id))
        return detail.replacements if detail is not None else {}

    def _selected(self) -> PlanView | None:
        key = self.query_one("#plan-table", MarketTable).selected_key()
        return self.plans.get(key) if key is not None else None

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """b shows only on a proposal (a booked plan is booked already), e only on a
        booked plan with a cancelled leg."""
        plan = self._selected()
        if action == "book":
            return plan is not None and plan.number is not None
        if action == "replace":
            return plan is not None and plan.number is None and bool(plan.cancelled)
        return True

    def action_replace(self) -> None:
        plan = self._selected()
        found = self._replacements(plan) if plan is not None else {}
        if not found:
            self.market.tell("Nothing else fits a cancelled leg of this plan now.")
            return
        position = next(iter(found))
        payment = self.attempt(lambda: self.actor.preview_replacement(plan.id, position))
        if payment is None:
            return

        def answered(yes: bool | None) -> None:
            if yes and self.attempt(lambda: self.actor.replace_leg(plan.id, position)):
                self.market.tell(f"Leg {position} of plan #{plan.id} replaced and paid.")
                self.reload()

        self.app.push_screen(PaymentModal(payment, self.actor.handle, what="Plan"), answered)

    def action_book(self) -> None:
        plan = self._selected()
        if plan is None or plan.number is None:
            return
        preview = self.attempt(lambda: self.actor.preview_plan(plan.number))
        if preview is None:
            self.reload()
            return
        payment = preview.payment(self.market.clock.now())

        def answered(yes: bool | None) -> None:
            if yes:
                self._book(plan.number)

        self.app.push_screen(PaymentModal(payment, self.actor.handle, what="Plan"), answered)

    def _book(self, number: int) -> None:
        booked = self.attempt(lambda: self.actor.book_plan(number))
        if booked is None:
            self.market.tell("Nothing was booked: propose again (ctrl+s) for what is free now.")
            self.reload()
            return
        self.market.tell(f"Booked plan #{booked.id}: every leg is paid into its own escrow.")
        self.unfilled = ()
        self.reload()
        table = self.query_one("#plan-table", MarketTable)
        keys = [p.id for p in self.plans.values()]
        if booked.id in keys:
            table.move_cursor(row=keys.index(booked.id), animate=False)
        self._show(booked.id)
