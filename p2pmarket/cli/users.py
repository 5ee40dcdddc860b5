"""`p2pmarket user …`: people in the market, and the operator's acts on them."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from p2pmarket.cli.context import Ctx, JsonOption, Later, ctx_of, emit, fact, say, table
from p2pmarket.clock import iso

if TYPE_CHECKING:
    from p2pmarket.market import Actor

records = Later("p2pmarket.market.records")

app = typer.Typer(
    help="Add, list and show users; the operator verifies them and grants roles.",
    no_args_is_help=True,
)

# Optional here: the service refuses an operator's act without it (exit 1, saying who to ask).
OperatorOption = typer.Option(None, "--as", help="The market's operator (with their passphrase).")


def _actor(c: Ctx, as_: str | None) -> Actor | None:
    """Whoever acts in this command, passphrase checked (None: nobody logged in)."""
    return c.actor(as_) if as_ else None


@app.command("add")
def add(
    ctx: typer.Context,
    handle: str = typer.Argument(..., help="Public pseudonym: 3-20 of a-z, 0-9, _."),
    name: str = typer.Option(..., "--name", help="Real name (private unless published)."),
    lat: float | None = typer.Option(None, "--lat"),
    lon: float | None = typer.Option(None, "--lon"),
    area: str | None = typer.Option(None, "--area", help="Live in this area (instead of lat/lon)."),
    mediator: bool = typer.Option(
        False, "--mediator", help="May resolve disputes (the operator's grant: needs --as)."
    ),
    bio: str = typer.Option("", "--bio"),
    as_: str | None = OperatorOption,
    as_json: bool = JsonOption,
) -> None:
    """Create a user; anyone may join. The passphrase: P2PMARKET_PASSPHRASE or a prompt."""
    c = ctx_of(ctx)
    home = records.home_of(area, lat, lon)
    by = _actor(c, as_)
    passphrase = records.check_passphrase(c.passphrase(handle))
    view = records.add_user(
        c.market,
        handle=handle,
        real_name=name,
        passphrase=passphrase,
        home=home,
        bio=bio,
        mediator=mediator,
        by=by,
    )
    emit(view.to_json(), as_json, lambda: say(f"Welcome, {view.handle} (user #{view.id})."))


@app.command("list")
def list_(
    ctx: typer.Context,
    limit: int = typer.Option(100, "--limit", min=1, max=10_000),
    offset: int = typer.Option(0, "--offset", min=0),
    as_json: bool = JsonOption,
) -> None:
    """List users: handles, roles and only the facts each publishes."""
    users = records.list_users(ctx_of(ctx).market, limit=limit, offset=offset)

    emit(
        {"users": [u.to_json() for u in users]},
        as_json,
        lambda: table(
            ["#", "handle", "role", "verified", "member since"],
            [
                [
                    u.id,
                    u.profile.handle,
                    f"{u.role}, operator" if u.operator else u.role,
                    fact("verified", u.profile.to_json().get("verified")),
                    iso(u.profile.member_since) if u.profile.member_since else "-",
                ]
                for u in users
            ],
        ),
    )


@app.command("show")
def show(
    ctx: typer.Context,
    handle: str,
    as_: str | None = typer.Option(None, "--as", help="Who is looking (yourself: all your data)."),
    as_json: bool = JsonOption,
) -> None:
    """Show one user: what they publish, or everything when you look at yourself with --as."""
    c = ctx_of(ctx)
    data = records.show_user(c.market, handle, _actor(c, as_))
    emit(
        data,
        as_json,
        lambda: table(["field", "value"], [[k, fact(k, v)] for k, v in data.items()]),
    )


@app.command("verify")
def verify(
    ctx: typer.Context, handle: str, as_: str | None = OperatorOption, as_json: bool = JsonOption
) -> None:
    """The operator: mark HANDLE's real name as checked (recorded in the operator's chain)."""
    c = ctx_of(ctx)
    act = records.verify_user(c.market, handle, _actor(c, as_))
    emit(
        {"handle": act.handle, "verified": True, "changed": act.changed},
        as_json,
        lambda: say(
            f"{act.handle} is verified." if act.changed else f"{act.handle} was verified already."
        ),
    )


@app.command("role")
def role(
    ctx: typer.Context,
    handle: str,
    new_role: str = typer.Argument(..., metavar="ROLE", help="mediator or member"),
    as_: str | None = OperatorOption,
    as_json: bool = JsonOption,
) -> None:
    """The operator: make HANDLE a mediator or a member again (recorded in the operator's chain)."""
    c = ctx_of(ctx)
    wanted = records.parse_role(new_role)
    act = records.set_role(c.market, handle, wanted, _actor(c, as_))
    who = act.handle
    emit(
        {"handle": who, "role": str(wanted), "changed": act.changed},
        as_json,
        lambda: say(
            f"{who} is a {wanted} now." if act.changed else f"{who} was a {wanted} already."
        ),
    )


@app.command("passphrase")
def passphrase(
    ctx: typer.Context,
    as_: str = typer.Option(
        ..., "--as", help="Whose passphrase (the current one from env or prompt)."
    ),
) -> None:
    """Change your passphrase: your signing key is re-sealed under it, in a record you sign.
    The new one: P2PMARKET_NEW_PASSPHRASE or a prompt."""
    c = ctx_of(ctx)
    actor = c.actor(as_)
    new = records.check_passphrase(c.new_passphrase(actor.handle))
    actor.change_passphrase(c.passphrase(actor.handle), new)
    say(f"{actor.handle}'s passphrase is changed; your records stay signed by your key.")


@app.command("rotate-key")
def rotate_key(
    ctx: typer.Context,
    as_: str = typer.Option(..., "--as", help="Whose key (their passphrase from env or prompt)."),
) -> None:
    """Replace your signing key; the old key signs the record naming the new one."""
    c = ctx_of(ctx)
    actor = c.actor(as_)
    public = actor.rotate_key(c.passphrase(actor.handle))
    say(f"{actor.handle} signs with a new key now ({public[:16]}…).")


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="user")
