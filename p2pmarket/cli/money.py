"""`p2pmarket wallet …` and `p2pmarket order …`: money that moves only by the rules."""

from __future__ import annotations

import uuid
from typing import TYPE_CHECKING

import typer

from p2pmarket import money
from p2pmarket.cli.context import AsOption, Ctx, JsonOption, ctx_of, emit, say, table
from p2pmarket.clock import countdown, iso
from p2pmarket.errors import Invalid, MarketError

if TYPE_CHECKING:
    from p2pmarket.market import Actor
    from p2pmarket.services.money.orders import OrderView

wallet_app = typer.Typer(help="Your wallet: top up, withdraw, show.", no_args_is_help=True)
order_app = typer.Typer(help="Orders and escrow.", no_args_is_help=True)

KeyOption = typer.Option(
    None, "--key", help="Idempotency key: retrying with the same key never pays twice."
)


def _move(
    ctx: typer.Context, as_: str, amount: str, key: str | None, as_json: bool, how: str
) -> None:
    c = ctx_of(ctx)
    minor = money.parse(amount)
    actor = c.actor(as_)
    moved = getattr(actor, how)(minor, key or f"cli:{uuid.uuid4()}")
    done = moved.transfer
    replayed = " (replayed: that key was used already, nothing moved)" if done.replayed else ""
    emit(
        moved.to_json(),
        as_json,
        lambda: say(
            f"{done.kind} {money.fmt(minor)}{replayed} — balance {money.fmt(moved.balance)}."
        ),
    )


def _money_command(name: str, help_text: str) -> None:
    @wallet_app.command(name, help=help_text)
    def command(
        ctx: typer.Context,
        amount: str,
        as_: str = AsOption,
        key: str | None = KeyOption,
        as_json: bool = JsonOption,
    ) -> None:
        _move(ctx, as_, amount, key, as_json, name)


_money_command("topup", "Add money from outside the market (a demo bank).")
_money_command("withdraw", "Take money out of the market.")


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


def _print_order(o: OrderView, now: int) -> None:
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
    as_json: bool = JsonOption,
) -> None:
    """Ask to buy a listing (the seller accepts, then you pay into escrow)."""
    o = ctx_of(ctx).actor(as_).create_order(listing_id, qty)
    emit(
        o.to_json(),
        as_json,
        lambda: say(
            f"Order #{o.id} requested: {o.title} for {money.fmt(o.amount)}; waiting for {o.seller}."
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
            _print_order(o, c.clock.now()),
        ),
    )


def _simple(action: str, help_text: str) -> None:
    @order_app.command(action, help=help_text)
    def command(
        ctx: typer.Context, order_id: int, as_: str = AsOption, as_json: bool = JsonOption
    ) -> None:
        c = ctx_of(ctx)
        _acted(c, c.actor(as_).act(order_id, action), as_json)


_simple("accept", "Seller: accept a requested order.")
_simple("deliver", "Seller: mark a paid order delivered (starts the confirm window).")
_simple("confirm", "Buyer: confirm delivery; escrow is released to the seller.")
_simple("cancel", "Either side: cancel before payment.")
_simple("revoke", "Buyer: take a payment back within the revoke window, before delivery.")
_simple("dispute", "Either side: ask a mediator; pauses every timer.")
_simple("extend", "Buyer: extend the confirm window once.")


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
    as_json: bool = JsonOption,
) -> None:
    """Mediator: settle a dispute by release, refund or split AMOUNT (to the seller)."""
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
    o = c.actor(as_).order(order_id)
    emit(o.to_json(), as_json, lambda: _print_order(o, c.clock.now()))
