"""`p2pmarket user …`: people in the market."""

from __future__ import annotations

import typer

from p2pmarket.cli.context import JsonOption, ctx_of, emit, say, table
from p2pmarket.clock import iso
from p2pmarket.models import Role
from p2pmarket.services import accounts, catalog

app = typer.Typer(help="Add, list, show and verify users.", no_args_is_help=True)


@app.command("add")
def add(
    ctx: typer.Context,
    handle: str = typer.Argument(..., help="Public pseudonym: 3-20 of a-z, 0-9, _."),
    name: str = typer.Option(..., "--name", help="Real name (private unless published)."),
    lat: float | None = typer.Option(None, "--lat"),
    lon: float | None = typer.Option(None, "--lon"),
    area: str | None = typer.Option(None, "--area", help="Live in this area (instead of lat/lon)."),
    mediator: bool = typer.Option(False, "--mediator", help="May resolve disputes."),
    bio: str = typer.Option("", "--bio"),
    as_json: bool = JsonOption,
) -> None:
    """Create a user. The passphrase comes from P2PMARKET_PASSPHRASE or a prompt."""
    c = ctx_of(ctx)
    area_slug = None
    if area is not None:
        place = catalog.area(area)
        area_slug = place.slug
        lat = place.lat if lat is None else lat
        lon = place.lon if lon is None else lon
    if lat is None or lon is None:
        from p2pmarket.errors import Invalid

        raise Invalid("location_missing", "Give --lat and --lon, or --area NAME.")
    passphrase = c.passphrase(handle)
    accounts.check_passphrase(passphrase)
    with c.store.write() as session:
        view = accounts.create_user(
            session,
            c.clock,
            handle=handle,
            real_name=name,
            passphrase=passphrase,
            lat=lat,
            lon=lon,
            area=area_slug,
            bio=bio,
            role=Role.mediator if mediator else Role.member,
            hash_profile=c.config.settings.hash_profile,
        )
    emit(view.to_json(), as_json, lambda: say(f"Welcome, {view.handle} (user #{view.id})."))


@app.command("list")
def list_(
    ctx: typer.Context,
    limit: int = typer.Option(100, "--limit", min=1, max=10_000),
    offset: int = typer.Option(0, "--offset", min=0),
    as_json: bool = JsonOption,
) -> None:
    """List users (handles, verified, area)."""
    c = ctx_of(ctx)
    with c.store.read() as session:
        users = accounts.list_users(session, limit=limit, offset=offset)
    emit(
        {"users": [u.to_json() for u in users]},
        as_json,
        lambda: table(
            ["#", "handle", "verified", "role", "area", "member since"],
            [
                [
                    u.id,
                    u.handle,
                    "yes" if u.verified else "no",
                    u.role,
                    u.area or "-",
                    iso(u.created_at),
                ]
                for u in users
            ],
        ),
    )


@app.command("show")
def show(ctx: typer.Context, handle: str, as_json: bool = JsonOption) -> None:
    """Show one user as the operator of this store sees them."""
    c = ctx_of(ctx)
    with c.store.read() as session:
        view = accounts.get_user(session, handle)
    emit(
        view.to_json(),
        as_json,
        lambda: table(["field", "value"], [[k, v] for k, v in view.to_json().items()]),
    )


@app.command("verify")
def verify(ctx: typer.Context, handle: str, as_json: bool = JsonOption) -> None:
    """Mark a user's real name as checked (the operator's act)."""
    c = ctx_of(ctx)
    with c.store.write() as session:
        view = accounts.verify_user(session, handle)
    emit(view.to_json(), as_json, lambda: say(f"{view.handle} is verified."))
