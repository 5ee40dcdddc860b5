"""`p2pmarket plan …`: one wish, several neighbours, one prepayment."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from p2pmarket import money
from p2pmarket.cli.context import AsOption, JsonOption, ctx_of, emit, say, table

if TYPE_CHECKING:
    from p2pmarket.services.money.plans import PlanView

app = typer.Typer(
    help="Plans: one wish (several legs from several neighbours) booked and paid at once.",
    no_args_is_help=True,
)


def _legs_table(plan: PlanView) -> None:
    """The legs as a timeline, two lines each (fits 80 columns)."""
    for leg in plan.legs:
        credit = f", credit {leg.credit}" if leg.credit is not None else ""
        order = f" · order #{leg.order_id} {leg.status}" if leg.order_id else ""
        say(f"  {leg.at}  {leg.wish}: #{leg.listing_id} {leg.title}")
        say(
            f"      {leg.seller}{credit} · {leg.where} · {leg.travel_minutes} min on the way · "
            f"{money.fmt(leg.amount)}{order}"
        )


def _title(plan: PlanView) -> str:
    name = f"Proposal {plan.number} (plan #{plan.id})" if plan.number else f"Plan #{plan.id}"
    return f"{name}, {plan.status}: {plan.day} {plan.window}"


@app.command("propose")
def propose(
    ctx: typer.Context,
    as_: str = AsOption,
    legs: str = typer.Option(
        ...,
        "--legs",
        metavar="LEGS",
        help='Categories or words, comma-separated; "×2" for two slots in a row, e.g. '
        '"babysitting ×2,cooking-class,photography".',
    ),
    day: str = typer.Option(..., "--date", metavar="DAY", help="The day, e.g. 2026-12-05."),
    start: str = typer.Option("09:00", "--from", metavar="HH:MM", help="Free from (wall clock)."),
    end: str = typer.Option("21:00", "--to", metavar="HH:MM", help="Free until (wall clock)."),
    budget: str | None = typer.Option(
        None, "--budget", metavar="YUAN", help="At most this in all, e.g. 800."
    ),
    min_credit: int | None = typer.Option(
        None, "--min-credit", metavar="SCORE", help="Every seller's credit at least this."
    ),
    area: str | None = typer.Option(
        None, "--area", metavar="AREA", help="Start the day in an area (default: home)."
    ),
    party: int = typer.Option(1, "--party", metavar="N", help="How many of you."),
    fixed_order: bool = typer.Option(
        False, "--fixed-order", help="Keep the legs in the order given."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Up to five plans for a wish, cheapest first, each with a why; numbered 1..5 for
    `plan book N`. A leg nobody can fill is said in one sentence."""
    actor = ctx_of(ctx).actor(as_)
    wish = actor.wish(
        legs,
        day,
        start,
        end,
        area=area,
        party=party,
        budget=budget,
        min_credit=min_credit,
        fixed_order=fixed_order,
    )
    found = actor.propose_plans(wish)

    def render() -> None:
        for plan in found.plans:
            say(f"{_title(plan)}")
            say(f"  {plan.why}")
            _legs_table(plan)
        for reason in found.unfilled:
            say(reason)
        if found.plans:
            say(
                f"Book one with: p2pmarket plan book N --as {actor.handle} (N from 1 to "
                f"{len(found.plans)}; --confirm pays every leg at once)."
            )

    emit({"wish": wish.to_json(), **found.to_json()}, as_json, render)


@app.command("book")
def book(
    ctx: typer.Context,
    ref: int = typer.Argument(..., metavar="N", help="A proposal of your last, or a plan id."),
    as_: str = AsOption,
    confirm: bool = typer.Option(
        False, "--confirm", help="The second confirmation: book and pay every leg now."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Book and pay every leg of proposal N into escrow in one go: all legs or none.
    Without --confirm, shows who gets what and moves nothing."""
    actor = ctx_of(ctx).actor(as_)
    if confirm:
        booked = actor.book_plan(ref)

        def said() -> None:
            say(
                f"Booked plan #{booked.id}: {booked.day} {booked.window}. Every leg is paid "
                "into its own escrow."
            )
            _legs_table(booked)
            say("Each leg is an order of its own: p2pmarket order show ID for its steps.")

        emit(booked.to_json(), as_json, said)
        return
    preview = actor.preview_plan(ref)
    plan = preview.plan

    def render() -> None:
        say(_title(plan))
        for leg in plan.legs:
            say(f"Pay {money.fmt(leg.amount)} to {leg.seller} for {leg.title!r} ({leg.at}).")
        say(f"In all {money.fmt(plan.total)}, each leg in its own escrow. {preview.terms}")
        say(
            f"Your balance: {money.fmt(preview.balance_before)} → "
            f"{money.fmt(preview.balance_after)}."
        )
        say(f"Nothing moved. To book: p2pmarket plan book {ref} --as {actor.handle} --confirm")

    emit(preview.to_json(), as_json, render)


@app.command("show")
def show(
    ctx: typer.Context,
    ref: int = typer.Argument(..., metavar="ID", help="A plan id (or a proposal number)."),
    as_: str = AsOption,
    as_json: bool = JsonOption,
) -> None:
    """A plan's day as a timeline: where and when, each leg's order; for a leg a seller
    cancelled, the replacements that still fit."""
    actor = ctx_of(ctx).actor(as_)
    plan = actor.plan(ref)

    def render() -> None:
        say(_title(plan))
        say(f"  {plan.why}")
        _legs_table(plan)
        for position, options in plan.replacements.items():
            say(f"Leg {position} was cancelled and refunded. Still fitting in its place:")
            for i, o in enumerate(options, 1):
                say(
                    f"  {i}. {o.at} #{o.listing_id} {o.title} by {o.seller}, {o.where}, "
                    f"{money.fmt(o.amount)}"
                )
            say(
                f"Take one: p2pmarket plan replace {plan.id} {position} --as {actor.handle} "
                "[--pick N]"
            )
        for leg in plan.cancelled:
            if leg.position not in plan.replacements:
                say(f"Leg {leg.position} ({leg.wish}) was cancelled; its money came back.")

    emit(plan.to_json(), as_json, render)


@app.command("list")
def list_(ctx: typer.Context, as_: str = AsOption, as_json: bool = JsonOption) -> None:
    """Your waiting proposals (1 to 5), then your booked plans, newest first."""
    found = ctx_of(ctx).actor(as_).list_plans()

    def render() -> None:
        if not found:
            say("No plans yet: p2pmarket plan propose --legs … --date … to make some.")
            return
        table(
            ["plan", "proposal", "status", "day", "legs", "total"],
            [
                [
                    f"#{p.id}",
                    p.number or "-",
                    p.status,
                    f"{p.day} {p.window}",
                    ", ".join(leg.wish for leg in p.legs),
                    money.fmt(p.total),
                ]
                for p in found
            ],
        )

    emit({"plans": [p.to_json() for p in found]}, as_json, render)


@app.command("replace")
def replace(
    ctx: typer.Context,
    plan_id: int = typer.Argument(..., metavar="PLAN", help="The booked plan."),
    position: int = typer.Argument(..., metavar="LEG", help="The cancelled leg's number."),
    as_: str = AsOption,
    pick: int = typer.Option(
        1, "--pick", metavar="N", help="Which replacement `plan show` lists (default: 1)."
    ),
    confirm: bool = typer.Option(
        False, "--confirm", help="The second confirmation: book and pay it now."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Fill a leg a seller cancelled with a replacement that still fits, booked and paid
    (with --confirm); the other legs stand. Without --confirm, shows it and moves nothing."""
    actor = ctx_of(ctx).actor(as_)
    if not confirm:
        preview = actor.preview_replacement(plan_id, position, pick)

        def offered() -> None:
            say(f"Pay {money.fmt(preview.amount)} to {preview.to} for {preview.title}.")
            say(str(preview.warning))
            say(
                f"Your balance: {money.fmt(preview.balance_before)} → "
                f"{money.fmt(preview.balance_after)}."
            )
            say(
                f"Nothing moved. To book: p2pmarket plan replace {plan_id} {position} "
                f"--pick {pick} --as {actor.handle} --confirm"
            )

        emit({**preview.to_json(), "confirmed": False}, as_json, offered)
        return
    plan = actor.replace_leg(plan_id, position, pick)

    def render() -> None:
        say(f"Leg {position} replaced and paid. {_title(plan)}")
        _legs_table(plan)

    emit(plan.to_json(), as_json, render)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="plan")
