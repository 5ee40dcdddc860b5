"""`p2pmarket inbox`, `inbox read`, `watch`, `unwatch`: what needs you, and the listings
you follow. Saved searches are `search … --save NAME`, `search saved` and `search unsave`
(cli/discovery.py)."""

from __future__ import annotations

import typer

from p2pmarket import money
from p2pmarket.cli.context import JsonOption, ctx_of, default_group, emit, say, table
from p2pmarket.clock import iso
from p2pmarket.errors import Invalid

inbox_app = typer.Typer(
    cls=default_group("show"),
    help="What needs you: messages, offers, order changes, deadlines, reminders, search hits "
    "and price drops.",
)
watch_app = typer.Typer(
    cls=default_group("add"),
    help="Watch a listing: its price drops and its selling out come to your inbox.",
)

AsOption = typer.Option(
    ..., "--as", metavar="HANDLE", help="Act as this user (passphrase from prompt or env)."
)
ListingArgument = typer.Argument(..., metavar="LISTING_ID")


@inbox_app.command("show", hidden=True)
def show(
    ctx: typer.Context,
    as_: str = AsOption,
    unread: bool = typer.Option(False, "--unread", help="Only what you have not read."),
    as_json: bool = JsonOption,
) -> None:
    """Your inbox, newest first: `inbox read ID` marks an item read, `inbox read --all` all."""
    box = ctx_of(ctx).actor(as_).inbox(unread_only=unread)

    def render() -> None:
        if not box.items:
            say("Nothing unread." if unread else "Your inbox is empty.")
            return
        table(
            ["#", "", "when", "what", "opens"],
            [
                [i.id, "" if i.read else "new", iso(i.at)[:16], i.text, f"{i.ref_kind} {i.ref_id}"]
                for i in box.items
            ],
            title=f"inbox · {box.unread} unread",
        )

    emit(box.to_json(), as_json, render)


@inbox_app.command("read")
def read(
    ctx: typer.Context,
    item_id: int | None = typer.Argument(None, metavar="[ID]", help="The item to mark read."),
    every: bool = typer.Option(False, "--all", help="Mark every item read."),
    as_: str = AsOption,
    as_json: bool = JsonOption,
) -> None:
    """Mark one item read (ID), or all of them (--all)."""
    if (item_id is None) != every:
        raise Invalid("read_what", "Give an item ID or --all (one of them).")
    actor = ctx_of(ctx).actor(as_)
    if every:
        count = actor.read_all_items()
        emit({"read": count}, as_json, lambda: say(f"Marked {count} items read."))
        return
    item = actor.read_item(item_id)
    emit(item.to_json(), as_json, lambda: say(f"#{item.id} read: {item.text}"))


@watch_app.command("add", hidden=True)
def watch(
    ctx: typer.Context,
    listing_id: int = ListingArgument,
    as_: str = AsOption,
    as_json: bool = JsonOption,
) -> None:
    """Watch LISTING_ID: a price drop or its selling out comes to your inbox
    (`watch list` shows what you watch, `unwatch LISTING_ID` stops)."""
    w = ctx_of(ctx).actor(as_).watch_listing(listing_id)
    emit(
        w.to_json(),
        as_json,
        lambda: say(
            f"Watching #{w.listing_id} {w.title} at {money.fmt(w.price)}: a price drop or "
            "its selling out comes to your inbox."
        ),
    )


@watch_app.command("list")
def watch_list(ctx: typer.Context, as_: str = AsOption, as_json: bool = JsonOption) -> None:
    """The listings you watch."""
    watched = ctx_of(ctx).actor(as_).watched()

    def render() -> None:
        if not watched:
            say("You watch no listings (`p2pmarket watch LISTING_ID`).")
            return
        table(
            ["#", "title", "price", "status", "since"],
            [
                [w.listing_id, w.title, money.fmt(w.price), w.status, iso(w.since)[:10]]
                for w in watched
            ],
        )

    emit([w.to_json() for w in watched], as_json, render)


def unwatch(ctx: typer.Context, listing_id: int = ListingArgument, as_: str = AsOption) -> None:
    """Stop watching a listing."""
    ctx_of(ctx).actor(as_).unwatch_listing(listing_id)
    say(f"No longer watching #{listing_id}.")


def register(app: typer.Typer) -> None:
    app.add_typer(inbox_app, name="inbox")
    app.add_typer(watch_app, name="watch")
    app.command("unwatch")(unwatch)
