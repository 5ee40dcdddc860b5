"""Chat: conversations with unread counts, a live conversation, mode switch, money, report, block.

Live: the app polls PRAGMA data_version (chat.Watcher) a few times a second and this
screen re-reads when anyone committed, so lines typed in another terminal appear
without a key press.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar

from rich.text import Text
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, DataTable, Header, Input, RichLog, Static

from p2pmarket import money
from p2pmarket.models import ChatMode, Tier
from p2pmarket.tui.plain import cut, data, line
from p2pmarket.tui.remedies import for_app
from p2pmarket.tui.screens.base import MarketScreen
from p2pmarket.tui.widgets.footer import MarketFooter
from p2pmarket.tui.widgets.order_actions import OrderActions
from p2pmarket.tui.widgets.profile import badges
from p2pmarket.tui.widgets.steady import SteadyStatic
from p2pmarket.tui.widgets.table import MarketTable
from p2pmarket.tui.widgets.text_input import TextInput

if TYPE_CHECKING:
    from p2pmarket.services.trust import chat


CONVERSATION_COLUMNS = ("with", "new", "mode", "last")


class ChatScreen(OrderActions, MarketScreen):
    NAME = "Chat"
    LIVE = True
    BINDINGS: ClassVar = [
        Binding("ctrl+o", "toggle_mode", "Mode"),
        Binding("ctrl+r", "request", "Request ¥"),
        Binding("ctrl+y", "pay", "Pay"),
        Binding("ctrl+f", "answer_offer", "Offer"),
        Binding("ctrl+g", "report", "Report"),
        Binding("ctrl+b", "block", "Block"),
        Binding("ctrl+n", "new", "New chat"),
    ]

    def __init__(self, with_handle: str | None = None) -> None:
        super().__init__()
        self.other: str | None = with_handle
        self.view: chat.ConversationView | None = None
        self.payable: int | None = None
        self._shown: tuple[int | None, int] = (None, 0)  # (conversation, last message shown)
        self._offer_states: tuple = ()  # where the offers on screen stood when drawn
        self._wrapped_at = 0  # the screen's width the log and the list were fitted to

    def compose(self) -> ComposeResult:
        yield Header()
        with Horizontal(id="chat"):
            with Vertical(id="chat-list"):
                yield TextInput(placeholder="new chat: a handle, then enter", id="chat-to")
                yield MarketTable(id="conversations")
            with Vertical(id="chat-main"):
                yield SteadyStatic("Choose a conversation.", id="chat-header")
                # Wrapped at the pane's width (RichLog's default renders 78 columns, cut in a
                # narrower pane); a new width writes the lines again (on_resize).
                yield RichLog(id="chat-log", wrap=True, markup=False, highlight=False, min_width=1)
                yield SteadyStatic("", id="money-note")
                with Horizontal(id="chat-buttons"):
                    yield Button("Trade mode", id="mode", compact=True)
                    yield Button("Request ¥", id="request", compact=True)
                    yield Button("Pay", id="pay", variant="warning", compact=True)
                    yield Button("Report", id="report", compact=True)
                    yield Button("Block", id="block", variant="error", compact=True)
                yield TextInput(placeholder="message — enter sends", id="chat-input")
        yield MarketFooter()

    def on_mount(self) -> None:
        (self.query_one("#chat-input") if self.other else self.query_one("#chat-to")).focus()

    def on_resize(self, event: events.Resize) -> None:
        if event.size.width != self._wrapped_at:  # a taller or shorter screen wraps the same
            self._wrapped_at = event.size.width
            self.call_after_refresh(self._rewrap)
            self.call_after_refresh(self._fit_list)

    def _list_columns(self) -> tuple[str, ...]:
        # Under 100 columns the list pane is 28 wide: the last message would get one
        # character (and a scroll bar), so it goes; the conversation shows it.
        return CONVERSATION_COLUMNS[:3] if self.has_class("-narrow") else CONVERSATION_COLUMNS

    def _fit_list(self) -> None:
        columns = self.query_one("#conversations", DataTable).columns
        if columns and len(columns) != len(self._list_columns()):  # filled, for another width
            self.reload()

    def _rewrap(self) -> None:
        if self.view is not None:
            self._shown = (None, 0)
            self._draw()

    # -- reading ---------------------------------------------------------------------------

    def reload(self) -> None:
        convs = self.actor.conversations()
        table, columns = self.query_one("#conversations", MarketTable), self._list_columns()
        if len(table.columns) != len(columns):
            table.clear(columns=True)
            table.add_columns(*columns)
        table.refill(
            [
                (
                    c.id,
                    (line(f"@{c.other}"), str(c.unread or ""), c.mode, cut(c.last, 16))[
                        : len(columns)
                    ],
                )
                for c in convs
            ]
        )
        self._handles = {c.id: c.other for c in convs}
        if self.other is None and convs:
            self.other = convs[0].other
        if self.other is not None:
            self._load_conversation()

    def _load_conversation(self) -> None:
        first = self.view is None
        loaded = self.attempt(lambda: self.actor.conversation(self.other, limit=200))
        if loaded is None:
            # A handle that opens nothing leaves the conversation on screen as it was.
            self.other = self.view.other.handle if self.view else None
            return
        self.view, self.payable = loaded.view, loaded.payable
        self._draw()
        if first and not self.query_one("#chat-to", Input).value:
            # The conversation on screen is the one you answer: typing goes to it.
            self.query_one("#chat-input").focus()

    def _draw(self) -> None:
        view = self.view
        head = Text()
        head.append(f"@{view.other.handle}", style="bold")
        if view.other.distance:
            head.append(f" · {view.other.distance}")
        head.append(f" · {view.mode} mode · you see them as {view.money.tier}\n")
        head.append_text(badges(view.other))
        self.query_one("#chat-header", Static).update(head)
        log = self.query_one("#chat-log", RichLog)
        last = view.messages[-1].id if view.messages else 0
        shown_conv, shown_last = self._shown
        fresh = [m for m in view.messages if m.id > shown_last]
        now = self.market.clock.now()
        # An offer's line says where it stands now: when one moved, the log is redrawn.
        states = tuple((m.id, m.offer.state(now)) for m in view.messages if m.offer)
        if shown_conv != view.id or states != self._offer_states:
            log.clear()
            fresh = list(view.messages)
        for m in fresh:
            out = Text()
            out.append(self.market.wall(m.at)[5:] + " ", style="dim")
            if m.kind == "text":
                out.append(f"@{m.sender}: ", style="bold")
                out.append(data(m.body))
            else:
                out.append(f"({m.kind}) ", style="italic")
                out.append_text(data(for_app(m.body), style="italic"))
            if m.offer is not None:
                out.append(f" [{m.offer.state(now)}]", style="bold")
            log.write(out)
        self._shown, self._offer_states = (view.id, last), states
        self._gate()

    def _gate(self) -> None:
        """Money buttons follow the service's verdict; the reason is always shown."""
        view = self.view
        trade = view.mode == ChatMode.trade
        note = Text()
        note.append("Money: ", style="bold")
        note.append(for_app(view.money.why))
        if not trade:
            note.append(" Requests and payments happen in trade mode (ctrl+o).", style="dim")
        self.query_one("#money-note", Static).update(note)
        self.query_one("#mode", Button).label = "Chat mode" if trade else "Trade mode"
        self.query_one("#request", Button).disabled = not (trade and view.money.allowed)
        self.query_one("#pay", Button).disabled = self.payable is None

    # -- acting ----------------------------------------------------------------------------

    def _with_other(self, fn):
        """Run fn(other's handle), one use case; refusals become notifications."""
        if self.other is None:
            self.market.tell("Choose a conversation first.")
            return None
        result = self.attempt(lambda: fn(self.other))
        if result is not None:
            self._load_conversation()
        return result

    @on(Input.Submitted, "#chat-input")
    def _send_line(self, event: Input.Submitted) -> None:
        body = event.value
        if not body.strip():
            return
        sent = self._with_other(lambda other: self.actor.send_message(other, body))
        if sent is not None:
            event.input.value = ""

    @on(Input.Submitted, "#chat-to")
    def _open_handle(self, event: Input.Submitted) -> None:
        if event.value.strip():
            self.other = event.value.strip().lower()
            self._shown = (None, 0)
            self._load_conversation()
            event.input.value = ""
            self.query_one("#chat-input").focus()

    @on(DataTable.RowSelected, "#conversations")
    def _pick(self, event: DataTable.RowSelected) -> None:
        self.other = self._handles.get(int(event.row_key.value))
        self._load_conversation()
        self.query_one("#chat-input").focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        action = {"mode": "toggle_mode", "request": "request", "pay": "pay"}.get(
            event.button.id or "", event.button.id
        )
        if action:
            self.run_action(action)

    def action_new(self) -> None:
        self.query_one("#chat-to").focus()

    def action_toggle_mode(self) -> None:
        target = ChatMode.chat if self.view and self.view.mode == ChatMode.trade else ChatMode.trade
        self._with_other(lambda other: self.actor.set_chat_mode(other, target))

    def _money_refused(self) -> bool:
        """Say why money can't move here before asking anything (chat mode, the gate)."""
        if self.view is None:
            self.market.tell("Choose a conversation first (ctrl+n starts a new one).")
        elif self.view.mode != ChatMode.trade:
            self.market.tell("Payments and requests happen in trade mode: press ctrl+o first.")
        else:
            return False
        return True

    def action_request(self) -> None:
        from p2pmarket.tui.widgets.ask import AskModal

        if self._money_refused():
            return
        if not self.view.money.allowed:
            self.market.tell(self.view.money.why)
            return

        def answered(value: str | None) -> None:
            if value is None:
                return
            made = self._with_other(
                lambda other: self.actor.request_payment(other, money.parse(value))
            )
            if made is not None:
                warning = f" Warning: {made.warning}" if made.warning else ""
                self.market.tell(
                    f"Requested {money.fmt(made.amount)} (order #{made.order_id}).{warning}"
                )

        self.app.push_screen(
            AskModal(f"Request how much from @{self.other}? (yuan)", placeholder="50"), answered
        )

    def action_pay(self) -> None:
        if self._money_refused():
            return
        if self.payable is None:
            self.market.tell(f"Nothing to pay here: no accepted order waits. {self.view.money.why}")
            return
        self.run_order_action(self.payable, "pay")

    def _open_offer(self, mine: bool) -> chat.MessageView | None:
        """The newest line here announcing an offer still open: made by me, or to me."""
        now = self.market.clock.now()
        for m in reversed(self.view.messages if self.view else ()):
            offer, by_me = m.offer, m.sender == self.actor.handle
            if offer and by_me == mine and offer.state(now).startswith("open"):
                return m
        return None

    def action_answer_offer(self) -> None:
        """Accept (it becomes an order to pay), decline or counter the offer waiting on me;
        with none, withdraw my own open offer (after asking)."""
        from p2pmarket.tui.widgets.offer import AnswerOffer

        line = self._open_offer(mine=False)
        if line is None:
            self._withdraw_mine()
            return
        offer_id = line.offer.id

        def answered(answer) -> None:
            if answer is None:
                return
            done = self._with_other(
                lambda _other: self.actor.answer_offer(
                    offer_id,
                    answer.step,
                    unit_price=answer.price,
                )
            )
            if done is None:
                return
            if answer.step == "accept":
                self.market.tell(
                    f"Offer #{offer_id} accepted: order #{done.order_id} for "
                    f"{money.fmt(done.amount)}, ready for @{done.buyer} to pay."
                )
            elif answer.step == "counter":
                self.market.tell(f"Countered with offer #{done.id}: {money.fmt(done.unit_price)}.")
            else:
                self.market.tell(f"Offer #{offer_id} declined.")

        shown = data(for_app(line.body))
        shown.append(f"\n{line.offer.state(self.market.clock.now())}", style="bold")
        self.app.push_screen(AnswerOffer(shown), answered)

    def _withdraw_mine(self) -> None:
        from p2pmarket.tui.widgets.confirm import ConfirmModal

        line = self._open_offer(mine=True)
        if line is None:
            self.market.tell("No open offer waits for an answer in this conversation.")
            return
        offer_id = line.offer.id

        def answered(yes: bool | None) -> None:
            if yes:
                done = self._with_other(
                    lambda _other: self.actor.answer_offer(offer_id, "withdraw")
                )
                if done is not None:
                    self.market.tell(f"Offer #{offer_id} withdrawn.")

        question = f"Withdraw your offer #{offer_id}? It waits for @{self.other}'s answer."
        self.app.push_screen(ConfirmModal(question, yes="Withdraw", no="Keep it"), answered)

    def action_report(self) -> None:
        from p2pmarket.tui.widgets.ask import AskModal

        if self.other is None:
            return

        def answered(reason: str | None) -> None:
            if reason:
                made = self._with_other(lambda other: self.actor.report(other, reason))
                if made is not None:
                    self.market.tell(f"Reported @{made.target}; a mediator will look at it.")

        self.app.push_screen(AskModal(f"Why report @{self.other}?"), answered)

    def action_block(self) -> None:
        done = self._with_other(lambda other: self.actor.set_tier(other, Tier.blocked))
        if done is not None:
            self.market.tell(f"@{done.handle} is blocked: no messages, no money.")

    def palette_commands(self) -> list:
        return [
            (f"Chat: open conversation with @{h}", "", lambda h=h: self._switch(h))
            for h in list(getattr(self, "_handles", {}).values())[:20]
        ]

    def _switch(self, handle: str) -> None:
        self.other = handle
        self._load_conversation()
