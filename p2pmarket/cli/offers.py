"""`p2pmarket offer …`: haggling over a listing in trade mode, and a seller's offer rules."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from p2pmarket import money
from p2pmarket.cli.context import AsOption, JsonOption, ctx_of, emit, say, table
from p2pmarket.clock import iso
from p2pmarket.errors import Invalid

if TYPE_CHECKING:
    from p2pmarket.services.trust.offers import OfferPolicy, OfferView

app = typer.Typer(
    help="Offers: a price and quantity for a listing; accept, decline or counter.",
    no_args_is_help=True,
)

QtyOption = typer.Option(None, "--qty", help="How many units (default: 1, or the offer's).")
NoteOption = typer.Option("", "--note", help="A short note with the offer.")


def _said(offer: OfferView, now: int) -> None:
    """An offer as a person reads it, with what happens next."""
    terms = f"{money.fmt(offer.unit_price)} × {offer.quantity} = {money.fmt(offer.amount)}"
    what = f"Offer #{offer.id} from {offer.by} to {offer.to} on listing #{offer.listing_id}"
    if offer.status == "open":
        say(f"{what}: {terms}, open until {iso(offer.expires_at)}.")
    elif offer.status == "accepted":
        say(
            f"{what}: {terms}, accepted: order #{offer.order_id}, ready to pay. "
            f"{offer.buyer} pays with `p2pmarket order pay {offer.order_id} --as {offer.buyer}`."
        )
    elif offer.automatic and offer.status == "declined":
        say(f"{what}: {terms}, declined automatically: the seller takes no offers this low.")
    else:
        say(f"{what}: {terms}, {offer.state(now)}.")
    if offer.warning:
        say(f"warning: {offer.warning}")


@app.command("make")
def make(
    ctx: typer.Context,
    listing_id: int,
    price: str,
    as_: str = AsOption,
    qty: int | None = QtyOption,
    note: str = NoteOption,
    as_json: bool = JsonOption,
) -> None:
    """Offer PRICE per unit for a listing (trade mode with its seller); open for 48 h."""
    c = ctx_of(ctx)
    minor = money.parse(price)
    made = c.actor(as_).make_offer(listing_id, minor, 1 if qty is None else qty, note)
    emit(made.to_json(), as_json, lambda: _said(made, c.clock.now()))


def _answer(ctx: typer.Context, offer_id: int, step: str, as_: str, as_json: bool, **kw) -> None:
    c = ctx_of(ctx)
    done = c.actor(as_).answer_offer(offer_id, step, **kw)
    emit(done.to_json(), as_json, lambda: _said(done, c.clock.now()))


@app.command("accept")
def accept(
    ctx: typer.Context, offer_id: int, as_: str = AsOption, as_json: bool = JsonOption
) -> None:
    """Accept an offer made to you: it becomes an order at its price, ready to pay."""
    _answer(ctx, offer_id, "accept", as_, as_json)


@app.command("decline")
def decline(
    ctx: typer.Context, offer_id: int, as_: str = AsOption, as_json: bool = JsonOption
) -> None:
    """Decline an offer made to you."""
    _answer(ctx, offer_id, "decline", as_, as_json)


@app.command("withdraw")
def withdraw(
    ctx: typer.Context, offer_id: int, as_: str = AsOption, as_json: bool = JsonOption
) -> None:
    """Take back an open offer you made."""
    _answer(ctx, offer_id, "withdraw", as_, as_json)


@app.command("counter")
def counter(
    ctx: typer.Context,
    offer_id: int,
    price: str,
    as_: str = AsOption,
    qty: int | None = QtyOption,
    note: str = NoteOption,
    as_json: bool = JsonOption,
) -> None:
    """Answer an offer made to you with another PRICE per unit (a new offer, open 48 h)."""
    minor = money.parse(price)
    _answer(ctx, offer_id, "counter", as_, as_json, unit_price=minor, quantity=qty, note=note)


@app.command("list")
def list_(
    ctx: typer.Context,
    as_: str = AsOption,
    open_only: bool = typer.Option(False, "--open", help="Only offers still open."),
    listing: int | None = typer.Option(None, "--listing", help="Only offers on this listing."),
    as_json: bool = JsonOption,
) -> None:
    """Offers you made or were made, newest first."""
    c = ctx_of(ctx)
    found = c.actor(as_).list_offers(open_only=open_only, listing_id=listing)
    now = c.clock.now()
    emit(
        {"offers": [o.to_json() for o in found]},
        as_json,
        lambda: table(
            ["offer", "listing", "by", "to", "price", "qty", "amount", "state"],
            [
                [
                    f"#{o.id}",
                    f"#{o.listing_id} {o.title}",
                    o.by,
                    o.to,
                    money.fmt(o.unit_price),
                    o.quantity,
                    money.fmt(o.amount),
                    o.state(now),
                ]
                for o in found
            ],
        ),
    )


@app.command("show")
def show(
    ctx: typer.Context, offer_id: int, as_: str = AsOption, as_json: bool = JsonOption
) -> None:
    """One offer made by you or to you."""
    c = ctx_of(ctx)
    found = c.actor(as_).offer(offer_id)
    emit(found.to_json(), as_json, lambda: _said(found, c.clock.now()))


def _policy_said(policy: OfferPolicy) -> None:
    if policy.firm:
        say(f"Listing #{policy.listing_id} is price firm: no offers, only orders at the price.")
        return
    if not policy.yours:
        say(f"Listing #{policy.listing_id} takes offers (`p2pmarket offer make`).")
        return
    floor = (
        f"offers below {money.fmt(policy.floor)} are declined automatically"
        if policy.floor is not None
        else "no floor"
    )
    say(f"Listing #{policy.listing_id} takes offers ({floor}).")


@app.command("policy")
def policy(
    ctx: typer.Context,
    listing_id: int,
    as_: str = AsOption,
    floor: str | None = typer.Option(
        None, "--floor", help="Decline offers below this price per unit automatically."
    ),
    no_floor: bool = typer.Option(False, "--no-floor", help="Remove the floor."),
    firm: bool | None = typer.Option(
        None, "--firm/--offers", help="Price firm (no offers), or take offers again."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Show, or (your listing) set, a listing's offer rules: a floor and price firm."""
    if floor is not None and no_floor:
        raise Invalid("floor_both", "Give --floor PRICE or --no-floor, not both.")
    actor = ctx_of(ctx).actor(as_)
    if floor is None and not no_floor and firm is None:
        found = actor.offer_policy(listing_id)
    else:
        found = actor.set_offer_policy(
            listing_id,
            floor=None if floor is None else money.parse(floor),
            clear_floor=no_floor,
            firm=firm,
        )
    emit(found.to_json(), as_json, lambda: _policy_said(found))


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="offer")
