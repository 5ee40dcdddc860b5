"""Commands about the market as a whole: init, where, seed, load, demo, run, areas."""

from __future__ import annotations

import time
from dataclasses import asdict
from pathlib import Path

import typer

from p2pmarket.cli.context import JsonOption, Later, ctx_of, emit, progress_bar, say, table

records = Later("p2pmarket.market.records")
catalog = Later("p2pmarket.services.market.catalog")


def init(
    ctx: typer.Context,
    operator: str | None = typer.Option(
        None,
        "--operator",
        help="Name the market's operator (now if the user exists, else when added). "
        "Without it the first user added is the operator.",
    ),
    as_json: bool = JsonOption,
) -> None:
    """Create the market store (if new) and show where it lives."""
    setup = records.init(ctx_of(ctx).market, operator)
    named = setup.operator

    def render() -> None:
        say(f"Market ready at {setup.db_url} (schema v{setup.schema_version}).")
        if named is not None:
            when = "when that user is added" if named.pending else "now"
            say(f"{named.handle} is the market's operator {when}.")

    emit(setup.to_json(), as_json, render)


def where(ctx: typer.Context, as_json: bool = JsonOption) -> None:
    """Print where the market's data lives (home, store, backups)."""
    data = ctx_of(ctx).config.where()
    emit(data, as_json, lambda: table(["what", "where"], [[k, v] for k, v in data.items()]))


def seed(
    ctx: typer.Context,
    users: int = typer.Option(1000, "--users", min=0, max=10_000_000),
    listings: int = typer.Option(10_000, "--listings", min=0, max=50_000_000),
    seed_: int = typer.Option(1, "--seed"),
    area: str | None = typer.Option(None, "--area", help="Put everyone in this area."),
    as_json: bool = JsonOption,
) -> None:
    """Fill the market with a deterministic synthetic crowd (same seed, same rows)."""
    c = ctx_of(ctx)
    records.check_area(area)
    with progress_bar("seeding", as_json) as bar:
        task = bar.add_task("seed", total=users + listings)
        start = time.perf_counter()
        result = records.seed(
            c.market,
            users=users,
            listings=listings,
            seed=seed_,
            area=area,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
        )
        elapsed = max(time.perf_counter() - start, 1e-9)
    result["seconds"] = round(elapsed, 2)
    result["rows_per_second"] = int((users + listings) / elapsed)
    emit(
        result,
        as_json,
        lambda: say(
            f"Seeded {users:,} users and {listings:,} listings in {elapsed:.1f} s "
            f"({result['rows_per_second']:,} rows/s)."
        ),
    )


def load(
    ctx: typer.Context,
    file: Path,
    as_: str | None = typer.Option(
        None, "--as", help="The operator, when the file verifies people or grants roles."
    ),
    as_json: bool = JsonOption,
) -> None:
    """Load users and listings from a JSON file (the demo.json format), all or nothing."""
    c = ctx_of(ctx)
    data = records.read_market_file(file)
    by = c.actor(as_) if as_ else None
    counts = records.load(c.market, data, by)
    emit(
        counts,
        as_json,
        lambda: say(f"Loaded {counts['users']} users and {counts['listings']} listings."),
    )


def run(
    ctx: typer.Context,
    user: str | None = typer.Option(None, "--user", help="Log in as this user."),
) -> None:
    """Open the terminal app."""
    c = ctx_of(ctx)
    c.need_terminal("run")
    # The app checks the passphrase after drawing its first frame (the store loads then).
    c.run_tui(user, c.passphrase(user) if user else None)


def demo_(
    ctx: typer.Context,
    reset: bool = typer.Option(False, "--reset", help="Back up, wipe and reload the demo."),
    open_: bool = typer.Option(False, "--open", help="Then open the TUI as the demo user."),
    as_json: bool = JsonOption,
) -> None:
    """Load the hand-written demo market (once; safe to run again)."""
    c = ctx_of(ctx)
    if open_:
        c.need_terminal("demo --open")
    if reset:
        c.close()
        backup = records.reset(c.config, c.clock)
        if backup:
            say(f"Backed up the old market to {backup}.")
    made = records.load_demo(c.market)
    counts = made.counts
    emit(
        made.to_json(),
        as_json,
        lambda: say(
            f"Demo market loaded: {counts['users']} users, {counts['listings']} listings, "
            f"{counts['orders']} orders, {counts['conversations']} conversations, "
            f"{counts.get('bookings', 0)} booked slots, {counts.get('rentals', 0)} rentals."
            if made.loaded
            else "Demo market already loaded."
        ),
    )
    if open_:
        # With its (public) passphrase: the demo user signs what they do in the app.
        c.run_tui(made.user, made.passphrase)


def areas(as_json: bool = JsonOption) -> None:
    """The neighbourhoods of the market's city, and their landmarks to meet at."""
    places = list(catalog.areas().values())
    emit(
        {"areas": [asdict(a) for a in places]},
        as_json,
        lambda: table(
            ["slug", "name", "lat", "lon", "landmarks (order meet --place)"],
            [
                [
                    a.slug,
                    f"{a.name} {a.name_zh}",
                    a.lat,
                    a.lon,
                    ", ".join(m.key for m in a.landmarks),
                ]
                for a in places
            ],
        ),
    )


def screenshots(
    out: Path = typer.Option(Path("docs/screenshots"), "--out", help="Folder for the SVGs."),
) -> None:
    """Save SVG screenshots of the main screens (a demo market, fixed clock)."""
    from p2pmarket.tui import screenshots as shots

    for path in shots.take(out):
        say(f"wrote {path}")


def register(app: typer.Typer) -> None:
    app.command("run")(run)
    app.command("init")(init)
    app.command("where")(where)
    app.command("seed")(seed)
    app.command("load")(load)
    app.command("demo")(demo_)
    app.command("areas")(areas)
    app.command("screenshots")(screenshots)
