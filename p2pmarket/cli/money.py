"""`p2pmarket wallet …` and `p2pmarket order …`: money that moves only by the rules."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import typer

from p2pmarket import money
from p2pmarket.cli.context import AsOption, Ctx, JsonOption, Later, ctx_of, emit, say, table
from p2pmarket.clock import countdown, iso
from p2pmarket.errors import Invalid, MarketError
from p2pmarket.text import counted

if TYPE_CHECKING:
    from p2pmarket.market import Actor
    from p2pmarket.services.money.ledger import Moved
    from p2pmarket.services.money.orders import OrderView
    from p2pmarket.services.money.orders.disputes import CaseView

bookings = Later("p2pmarket.market.bookings")
orders = Later("p2pmarket.services.money.orders")

wallet_app = typer.Typer(help="Your wallet: top up, withdraw, show.", no_args_is_help=True)
order_app = typer.Typer(help="Orders and escrow.", no_args_is_help=True)

ConfirmOption = typer.Option(False, "--confirm", help="The second confirmation: do it now.")
KeyOption = typer.Option(
    None, "--key", help="Idempotency key: retrying with the same key never pays twice."
)


def _moved(moved: Moved, minor: int, as_json: bool) -> None:
    done = moved.transfer
    replayed = " (replayed: that key was used already, nothing moved)" if done.replayed else ""
    emit(
        moved.to_json(),
        as_json,
        lambda: say(
            f"{done.kind} {money.fmt(minor)}{replayed} — balance {money.fmt(moved.balance)}."
        ),
    )


@wallet_app.command("topup")
def topup(
    ctx: typer.Context,
    amount: str,
    as_: str = AsOption,
    key: str | None = KeyOption,
    as_json: bool = JsonOption,
) -> None:
    """Add money from outside the market (a demo bank)."""
    minor = money.parse(amount)
    _moved(ctx_of(ctx).actor(as_).topup(minor, key or f"cli:{uuid.uuid4()}"), minor, as_json)


@wallet_app.command("withdraw")
def withdraw(
    ctx: typer.Context,
    amount: str,
    as_: str = AsOption,
    confirm: bool = typer.Option(False, "--confirm", help="The second confirmation: withdraw now."),
    key: str | None = KeyOption,
    as_json: bool = JsonOption,
) -> None:
    """Take money out of the market. Without --confirm, shows what would happen and moves
    nothing."""
    minor = money.parse(amount)
    actor = ctx_of(ctx).actor(as_)
    if confirm:
        _moved(actor.withdraw(minor, key or f"cli:{uuid.uuid4()}"), minor, as_json)
        return
    preview = actor.preview_withdrawal(minor)
    emit(
        {"preview": preview.to_json(), "confirmed": False},
        as_json,
        lambda: (
            say(
                f"Withdraw {money.fmt(minor)} out of the market. Your balance: "
                f"{money.fmt(preview.balance_before)} → {money.fmt(preview.balance_after)}."
            ),
            say(
                f"Nothing moved. To withdraw: p2pmarket wallet withdraw {amount} "
                f"--as {actor.handle} --confirm"
            ),
        ),
    )


@wallet_app.command("show")
def show_wallet(ctx: typer.Context, as_: str = AsOption, as_json: bool = JsonOption) -> None:
    """Your balance and latest entries."""
    w = ctx_of(ctx).actor(as_).wallet()
    emit(
        w.to_json(),
        as_json,
        lambda: (
            say(f"{w.handle}: {money.fmt(w.balance)}"),
            table(
                ["when", "what", "amount", "order"],
                [
                    [iso(e["at"]), e["kind"], money.fmt(e["amount"]), e["order_id"] or "-"]
                    for e in w.entries
                ],
            ),
        ),
    )


def _print_order(c: Ctx, o: OrderView) -> None:
    now = c.clock.now()
    table(
        ["order", "what", "buyer", "seller", "amount", "status", "timers"],
        [
            [
                f"#{o.id}",
                o.title,
                o.buyer,
                o.seller,
                money.fmt(o.amount),
                o.status,
                ", ".join(f"{k} {v}" for k, v in o.countdowns(now).items()) or "-",
            ]
        ],
    )
    if o.deposit is not None:
        say(
            f"Rented from {bookings.local(c.market, o.slot_start)[:10]}, back on "
            f"{bookings.local(c.market, o.slot_end)[:10]}: {counted(o.quantity, 'day')} × "
            f"{money.fmt(o.unit_price)}; deposit {money.fmt(o.deposit)}: "
            f"{orders.deposit_state(o)}."
        )
        if o.claim_amount is not None:
            say(f"Claim: {money.fmt(o.claim_amount)} — {o.claim_reason}")
    elif o.slot_start is not None:
        say(
            f"Slot: {bookings.local(c.market, o.slot_start)} to "
            f"{bookings.local(c.market, o.slot_end)}."
        )
    if o.handover is not None:
        h = o.handover
        state = "agreed" if h.agreed else f"proposed by {h.proposed_by}, not agreed yet"
        say(f"Handover: {h.describe(c.market.settings.zone)} ({state}).")
    if o.timeline:
        table(
            ["when", "who", "from", "to", "amount", "note"],
            [
                [
                    iso(e.at),
                    e.actor or "market",
                    e.from_status or "-",
                    e.to_status,
                    money.fmt(e.amount) if e.amount else "",
                    e.note,
                ]
                for e in o.timeline
            ],
        )
    if o.timer_failed_at is not None:
        say(
            f"A timer of order #{o.id} failed at {iso(o.timer_failed_at)} and stopped; "
            "the timeline says why."
        )


@order_app.command("create")
def create(
    ctx: typer.Context,
    listing_id: int,
    as_: str = AsOption,
    qty: int = typer.Option(1, "--qty", "--quantity"),
    at: str | None = typer.Option(
        None, "--at", help="Book the slot starting then (2026-12-05T10:00, the market's clock)."
    ),
    hours: int = typer.Option(1, "--hours", help="With --at: how many slots in a row."),
    first: str | None = typer.Option(
        None, "--from", metavar="DAY", help="Rent goods by the day from this day (2026-12-05)."
    ),
    back: str | None = typer.Option(
        None, "--to", metavar="DAY", help="With --from: the day it comes back (2026-12-07)."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Ask to buy, book or rent a listing (the seller accepts, then you pay into escrow).

    --at books a slot of a listing that takes bookings (see `p2pmarket listing slots ID`);
    --from and --to rent goods by the day (see `p2pmarket listing calendar ID`).
    """
    if at is None and hours != 1:
        raise Invalid("hours_without_at", "--hours books slots in a row: give --at too.")
    if at is not None and qty != 1:
        raise Invalid("qty_with_at", "A slot is booked by --hours, not --qty.")
    if (first is None) != (back is None) or (first is not None and (at or qty != 1)):
        raise Invalid(
            "period_options", "A rental takes --from and --to together (no --at, no --qty)."
        )
    c = ctx_of(ctx)
    actor = c.actor(as_)
    if first is not None:
        o = actor.rent(listing_id, first, back)
    elif at is not None:
        o = actor.book(listing_id, at, hours)
    else:
        o = actor.create_order(listing_id, qty)
    slot = f" on {bookings.local(c.market, o.slot_start)}" if o.slot_start is not None else ""
    if o.deposit is not None:
        slot = f" from {first} until {back} (deposit {money.fmt(o.deposit)} included)"
    emit(
        o.to_json(),
        as_json,
        lambda: say(
            f"Order #{o.id} requested: {o.title}{slot} for {money.fmt(o.amount)}; "
            f"waiting for {o.seller}."
        ),
    )


def _acted(c: Ctx, o: OrderView, as_json: bool) -> None:
    """What every order step prints: the new status, then the order."""
    emit(
        o.to_json(),
        as_json,
        lambda: (
            say(
                f"Order #{o.id} is {o.status}."
                + (
                    " (Replayed: this payment was already made with that key.)"
                    if o.replayed
                    else ""
                )
            ),
            _print_order(c, o),
        ),
    )


def _simple(action: str, help_text: str) -> None:
    @order_app.command(action, help=help_text)
    def command(
        ctx: typer.Context, order_id: int, as_: str = AsOption, as_json: bool = JsonOption
    ) -> None:
        c = ctx_of(ctx)
        _acted(c, c.actor(as_).act(order_id, action), as_json)


def _confirmed(
    ctx: typer.Context,
    as_: str,
    as_json: bool,
    command: str,
    *decision: str,
    claim: orders.Claim | None = None,
):
    """A step that moves money, run only with --confirm: without it, what it would do.
    `decision`: the order and the words that follow it, as typed (`claim`: a claim's)."""
    c = ctx_of(ctx)
    actor = c.actor(as_)
    order_id, action = int(decision[0]), command.split()[0]
    if claim is None:
        sentence = actor.preview_step(order_id, action, *decision[1:])
    else:
        sentence = actor.preview_step(order_id, action, claim=claim)
    emit(
        {"preview": sentence, "confirmed": False},
        as_json,
        lambda: (
            say(sentence),
            say(
                f"Nothing moved. To go on: p2pmarket order {command} {' '.join(decision)} "
                f"--as {actor.handle} --confirm"
            ),
        ),
    )


def _money_step(action: str, help_text: str) -> None:
    @order_app.command(action, help=help_text + " Without --confirm, shows what would happen.")
    def command(
        ctx: typer.Context,
        order_id: int,
        as_: str = AsOption,
        confirm: bool = ConfirmOption,
        as_json: bool = JsonOption,
    ) -> None:
        if not confirm:
            _confirmed(ctx, as_, as_json, action, str(order_id))
            return
        c = ctx_of(ctx)
        _acted(c, c.actor(as_).act(order_id, action), as_json)


_simple("accept", "Seller: accept a requested order.")
_simple("deliver", "Seller: mark a paid order delivered (starts the confirm window).")
_money_step("confirm", "Buyer: confirm delivery; escrow is released to the seller.")
_simple(
    "cancel",
    "Either side: cancel before payment. The seller of a booked slot may cancel after "
    "payment too: the buyer gets everything back.",
)
_money_step("revoke", "Buyer: take a payment back within the revoke window, before delivery.")
_simple("extend", "Buyer: extend the confirm window once.")
_simple("handover", "Owner: hand a paid rental over to the renter; the rental starts.")
_money_step("return", "Owner: confirm the rented thing came back; the rent is released to you.")
_money_step("accept-claim", "Renter: accept the owner's claim on the deposit.")


@order_app.command("dispute")
def dispute(
    ctx: typer.Context,
    order_id: int,
    reason: str | None = typer.Option(
        None, "--reason", metavar="TEXT", help="What went wrong, in one line (needed)."
    ),
    attach: list[int] | None = typer.Option(
        None,
        "--attach",
        metavar="MSG_ID",
        help="A line of your chat with the other side for the mediator (repeat it; "
        "`chat show HANDLE --json` gives the ids).",
    ),
    as_: str = AsOption,
    as_json: bool = JsonOption,
) -> None:
    """Either side: ask a mediator, with a reason; pauses every timer (a renter: of a
    claim). Both sides may then add one statement within 48 h (order statement)."""
    c = ctx_of(ctx)
    actor = c.actor(as_)
    if reason is None:
        # The old form: the rules refuse it and say what to add.
        _acted(c, actor.act(order_id, "dispute"), as_json)
        return
    _acted(c, actor.open_dispute(order_id, reason, tuple(attach or ())), as_json)


@order_app.command("statement")
def statement(
    ctx: typer.Context,
    order_id: int,
    body: str = typer.Argument(..., metavar="TEXT", help="What you want the mediator to know."),
    as_: str = AsOption,
    as_json: bool = JsonOption,
) -> None:
    """Either side of a dispute: your one statement, within 48 h of its opening."""
    c = ctx_of(ctx)
    case = c.actor(as_).add_statement(order_id, body)
    emit(case.to_json(), as_json, lambda: (say("Statement added."), _print_case(c, case)))


def _print_case(c: Ctx, case: CaseView) -> None:
    """A dispute as the mediator reads it: reason, attached lines, statements, credit."""
    now = c.clock.now()
    opener = f"@{case.opened_by}" if case.opened_by else "a party"
    say(f"Dispute on order #{case.order.id}, opened by {opener} at {iso(case.opened_at)}.")
    say(f"Reason: {case.reason if case.reason is not None else '(none given)'}")
    if case.attached:
        table(
            ["attached", "who", "when", "line"],
            [[f"#{m.id}", f"@{m.sender}", iso(m.at), m.body] for m in case.attached],
        )
    for note in case.statements:
        say(f"Statement by @{note.author} at {iso(note.at)}: {note.text}")
    if not case.statements:
        say("No statements yet.")
    say(f"In escrow: {money.fmt(case.held)}; {case.window(now)}.")
    say(
        "Credit: "
        + "; ".join(
            f"@{who} transaction {s.transaction}, social {s.social}"
            for who, s in case.credit.items()
        )
    )


@order_app.command("claim")
def claim(
    ctx: typer.Context,
    order_id: int,
    amount: str | None = typer.Argument(
        None,
        metavar="AMOUNT",
        help="Yuan from the deposit; after a late return, default: the late days' rent.",
    ),
    reason: str | None = typer.Option(None, "--reason", metavar="TEXT", help="Why you claim."),
    as_: str = AsOption,
    confirm: bool = ConfirmOption,
    as_json: bool = JsonOption,
) -> None:
    """Owner: claim part or all of a returned rental's deposit (once, within 48 h).

    Without --confirm, shows what would happen and moves nothing.
    """
    decision = orders.Claim(money.parse(amount) if amount is not None else None, reason)
    if not confirm:
        typed = [str(order_id), *([amount] if amount else [])]
        typed += [f"--reason {reason!r}"] if reason else []
        _confirmed(ctx, as_, as_json, "claim", *typed, claim=decision)
        return
    c = ctx_of(ctx)
    _acted(c, c.actor(as_).act(order_id, "claim", decision), as_json)


@order_app.command("meet")
def meet(
    ctx: typer.Context,
    order_id: int,
    as_: str = AsOption,
    at: str = typer.Option(
        ..., "--at", metavar="TIME", help="When (2026-12-05T15:00, the market's clock)."
    ),
    place: str = typer.Option(
        ..., "--place", metavar="LANDMARK", help="A landmark's key (`p2pmarket areas` lists them)."
    ),
    area: str | None = typer.Option(
        None, "--area", metavar="AREA", help="The landmark's area (default: the seller's)."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Either side of a goods order: propose meeting at a public landmark at a time; the
    other side agrees (`order agree`). A new proposal replaces the last."""
    c = ctx_of(ctx)
    _handover(c, c.actor(as_).propose_meet(order_id, at, place, area), as_json)


@order_app.command("ship")
def ship(
    ctx: typer.Context,
    order_id: int,
    as_: str = AsOption,
    tracking: str = typer.Option(
        ..., "--tracking", metavar="NOTE", help="Carrier and tracking number, for the buyer."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Seller of a goods order: ship it, with a tracking note; the buyer agrees."""
    c = ctx_of(ctx)
    _handover(c, c.actor(as_).propose_ship(order_id, tracking), as_json)


@order_app.command("agree")
def agree(
    ctx: typer.Context, order_id: int, as_: str = AsOption, as_json: bool = JsonOption
) -> None:
    """Agree to the other side's proposal of how the order changes hands."""
    c = ctx_of(ctx)
    _handover(c, c.actor(as_).agree_handover(order_id), as_json)


def _handover(c: Ctx, o: OrderView, as_json: bool) -> None:
    h = o.handover
    other = o.seller if h.proposed_by == o.buyer else o.buyer
    done = "Agreed" if h.agreed else f"Proposed (waiting for {other} to agree)"
    emit(
        o.to_json(),
        as_json,
        lambda: say(f"{done}: order #{o.id}, {h.describe(c.market.settings.zone)}."),
    )


@order_app.command("pay")
def pay(
    ctx: typer.Context,
    order_ids: list[int] = typer.Argument(..., help="One order, or several paid together."),
    as_: str = AsOption,
    confirm: bool = typer.Option(False, "--confirm", help="The second confirmation: pay now."),
    key: str | None = KeyOption,
    as_json: bool = JsonOption,
) -> None:
    """Pay into escrow. Without --confirm, shows what would happen and moves nothing.

    Several orders are paid in one transaction (one durable commit); each one stands or
    is refused on its own. Retrying is safe: each order's payment has its own key.
    """
    if key is not None and len(order_ids) > 1:
        raise Invalid(
            "key_with_many",
            "--key goes with a single order; several orders paid together each use "
            "the market's own key for that order, so a retry never pays twice.",
        )
    c = ctx_of(ctx)
    actor = c.actor(as_)
    if confirm and len(order_ids) == 1:
        _acted(c, actor.pay(order_ids[0], key), as_json)
        return
    if confirm:
        _pay_many(actor, order_ids, as_json)
        return
    previews = actor.preview_payments(order_ids)
    total = sum(p.amount for p in previews)
    before = previews[0].balance_before

    def render() -> None:
        for p in previews:
            say(f"Pay {money.fmt(p.amount)} to {p.to} for {p.title!r} (order #{p.order_id}).")
            if p.warning:
                say(f"Warning: {p.warning}")
        say(
            f"The money waits in escrow; you may revoke within "
            f"{countdown(previews[0].revoke_window)} if it is not delivered yet."
        )
        say(f"Your balance: {money.fmt(before)} → {money.fmt(before - total)}.")
        ids = " ".join(str(i) for i in order_ids)
        say(f"Nothing moved. To pay: p2pmarket order pay {ids} --as {actor.handle} --confirm")

    emit(
        {"preview": [p.to_json() for p in previews], "total": total, "confirmed": False},
        as_json,
        render,
    )


def _pay_many(actor: Actor, order_ids: list[int], as_json: bool) -> None:
    results = actor.pay_many(order_ids)
    rows = [
        {"order_id": i, "paid": False, "error": r.code, "message": r.message}
        if isinstance(r, MarketError)
        else {"order_id": i, "paid": True, "order": r.to_json()}
        for i, r in zip(order_ids, results, strict=True)
    ]
    emit(
        {"results": rows},
        as_json,
        lambda: [
            say(
                f"Order #{r['order_id']}: paid."
                if r["paid"]
                else f"Order #{r['order_id']}: not paid — {r['message']}"
            )
            for r in rows
        ],
    )
    if not all(r["paid"] for r in rows):
        raise typer.Exit(1)


@order_app.command("resolve")
def resolve(
    ctx: typer.Context,
    order_id: int,
    resolution: str = typer.Argument(..., help="release, refund or split"),
    amount: str | None = typer.Argument(None, help="With split: the seller's share."),
    as_: str = AsOption,
    confirm: bool = ConfirmOption,
    as_json: bool = JsonOption,
) -> None:
    """Mediator: settle a dispute by release, refund or split AMOUNT (to the seller).
    Without --confirm, shows who gets what."""
    if not confirm:
        decision = [str(order_id), resolution, *([amount] if amount is not None else [])]
        _confirmed(ctx, as_, as_json, "resolve", *decision)
        return
    c = ctx_of(ctx)
    _acted(c, c.actor(as_).resolve(order_id, resolution, amount), as_json)


@order_app.command("list")
def list_(
    ctx: typer.Context,
    as_: str = AsOption,
    side: str = typer.Option("all", "--side", help="all, buying, selling or mediating."),
    open_only: bool = typer.Option(False, "--open", help="Only orders still in progress."),
    as_json: bool = JsonOption,
) -> None:
    """Your orders, newest first."""
    if side not in ("all", "buying", "selling", "mediating"):
        raise Invalid("side", "--side is all, buying, selling or mediating.")
    c = ctx_of(ctx)
    found = c.actor(as_).list_orders(side, open_only)
    now = c.clock.now()
    emit(
        {"orders": [o.to_json() for o in found]},
        as_json,
        lambda: table(
            ["order", "what", "buyer", "seller", "amount", "status", "timers"],
            [
                [
                    f"#{o.id}",
                    o.title,
                    o.buyer,
                    o.seller,
                    money.fmt(o.amount),
                    o.status,
                    ", ".join(f"{k} {v}" for k, v in o.countdowns(now).items()) or "-",
                ]
                for o in found
            ],
        ),
    )


@order_app.command("show")
def show(
    ctx: typer.Context, order_id: int, as_: str = AsOption, as_json: bool = JsonOption
) -> None:
    """One order with its timeline and countdowns."""
    c = ctx_of(ctx)
    actor = c.actor(as_)
    o = actor.order(order_id)
    case = actor.dispute_case(order_id) if o.was_disputed else None
    data = o.to_json() | ({"dispute": case.to_json()} if case is not None else {})

    def shown() -> None:
        _print_order(c, o)
        if case is not None:
            _print_case(c, case)

    emit(data, as_json, shown)


def register(app: typer.Typer) -> None:
    app.add_typer(wallet_app, name="wallet")
    app.add_typer(order_app, name="order")
