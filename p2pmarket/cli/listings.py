"""`p2pmarket listing …`: a personal shop."""

from __future__ import annotations

from pathlib import Path

import typer

from p2pmarket import money
from p2pmarket.cli.context import AsOption, JsonOption, Later, ctx_of, emit, say, table

bookings = Later("p2pmarket.market.bookings")
shop = Later("p2pmarket.market.shop")
shops = Later("p2pmarket.services.market.shops")

app = typer.Typer(help="Add, edit and browse listings.", no_args_is_help=True)
photo_app = typer.Typer(help="A listing's photos (at most 6).", no_args_is_help=True)
app.add_typer(photo_app, name="photo")


CONDITION_HELP = "Goods only: new, like-new, good, fair or for-parts."
DEPOSIT_HELP = "Goods by the day: the deposit a renter leaves, in yuan (0: none)."


def _deposit(deposit: str | None) -> int | None:
    return money.parse(deposit, allow_zero=True) if deposit is not None else None


def _show(view: shops.ListingView) -> None:
    table(
        ["#", "title", "kind", "category", "price", "qty", "status", "seller"],
        [
            [
                view.id,
                view.title,
                view.kind,
                view.category,
                f"{money.fmt(view.price)}/{view.unit}",
                view.quantity,
                view.status,
                view.seller,
            ]
        ],
    )
    if view.condition:
        say(f"Condition: {view.condition.replace('_', ' ')}.")
    if view.deposit:
        say(f"Deposit: {money.fmt(view.deposit)}, back after the return.")
    if view.photos:
        _photos(view.photos)


def _photos(photos) -> None:
    table(
        ["photo", "sha256", "size"],
        [[n, p.sha256, f"{p.width}×{p.height}"] for n, p in enumerate(photos, 1)],
    )


@app.command("add")
def add(
    ctx: typer.Context,
    as_: str = AsOption,
    kind: str = typer.Option(..., "--kind", help="goods, skill or time."),
    title: str = typer.Option(..., "--title"),
    category: str = typer.Option(..., "--category", help="A category slug or name."),
    price: str = typer.Option(..., "--price", help="In yuan, e.g. 120 or 12.50."),
    unit: str = typer.Option(..., "--unit", help="item, hour, session or day."),
    description: str = typer.Option("", "--description"),
    quantity: int = typer.Option(1, "--quantity", "--qty"),
    condition: str | None = typer.Option(None, "--condition", help=CONDITION_HELP),
    deposit: str | None = typer.Option(None, "--deposit", metavar="YUAN", help=DEPOSIT_HELP),
    as_json: bool = JsonOption,
) -> None:
    """List something in your shop."""
    c = ctx_of(ctx)
    amount = money.parse(price)
    kind_, unit_ = shops.parse_kind(kind), shops.parse_unit(unit)
    condition_ = shops.parse_condition(condition) if condition is not None else None
    listed = c.actor(as_).add_listing(
        kind=kind_,
        title=title,
        category=category,
        price=amount,
        unit=unit_,
        description=description,
        quantity=quantity,
        condition=condition_,
        deposit=_deposit(deposit),
    )
    view, guide, verdict = listed.listing, listed.suggestion, listed.verdict
    data = {**view.to_json(), "suggested": {**guide.to_json(), "verdict": verdict}}

    def render() -> None:
        say(f"Listed #{view.id}.")
        _show(view)
        judged = (
            f"your price is {verdict}" if verdict else "too few similar items to judge your price"
        )
        say(
            f"Suggested {money.fmt(guide.p25)} - {money.fmt(guide.p75)} per {guide.unit} "
            f"(median {money.fmt(guide.p50)}; {guide.basis}): {judged}."
        )

    emit(data, as_json, render)


@app.command("list")
def list_(
    ctx: typer.Context,
    seller: str | None = typer.Option(None, "--seller", help="Only this seller's shop."),
    status: str | None = typer.Option(None, "--status", help="active, paused, sold_out, removed."),
    limit: int = typer.Option(100, "--limit", min=1, max=10_000),
    offset: int = typer.Option(0, "--offset", min=0),
    as_json: bool = JsonOption,
) -> None:
    """Browse listings, oldest first."""
    status_ = shops.parse_status(status) if status else None
    views = shop.listings(
        ctx_of(ctx).market, seller=seller, status=status_, limit=limit, offset=offset
    )
    emit(
        {"listings": [v.to_json() for v in views]},
        as_json,
        lambda: table(
            ["#", "title", "kind", "category", "price", "qty", "status", "seller"],
            [
                [
                    v.id,
                    v.title,
                    v.kind,
                    v.category,
                    f"{money.fmt(v.price)}/{v.unit}",
                    v.quantity,
                    v.status,
                    v.seller,
                ]
                for v in views
            ],
        ),
    )


@app.command("show")
def show(ctx: typer.Context, listing_id: int, as_json: bool = JsonOption) -> None:
    """Show one listing."""
    view = shop.listing(ctx_of(ctx).market, listing_id)
    emit(view.to_json(), as_json, lambda: (_show(view), say(view.description)))


@app.command("edit")
def edit(
    ctx: typer.Context,
    listing_id: int,
    as_: str = AsOption,
    title: str | None = typer.Option(None, "--title"),
    description: str | None = typer.Option(None, "--description"),
    price: str | None = typer.Option(None, "--price"),
    quantity: int | None = typer.Option(None, "--quantity", "--qty"),
    category: str | None = typer.Option(None, "--category"),
    unit: str | None = typer.Option(None, "--unit"),
    condition: str | None = typer.Option(None, "--condition", help=CONDITION_HELP),
    deposit: str | None = typer.Option(None, "--deposit", metavar="YUAN", help=DEPOSIT_HELP),
    as_json: bool = JsonOption,
) -> None:
    """Change a listing you own."""
    c = ctx_of(ctx)
    amount = money.parse(price) if price is not None else None
    unit_ = shops.parse_unit(unit) if unit is not None else None
    condition_ = shops.parse_condition(condition) if condition is not None else None
    view = c.actor(as_).edit_listing(
        listing_id,
        title=title,
        description=description,
        price=amount,
        quantity=quantity,
        category=category,
        unit=unit_,
        condition=condition_,
        deposit=_deposit(deposit),
    )
    emit(view.to_json(), as_json, lambda: _show(view))


def _status_command(move: str, help_text: str) -> None:
    @app.command(move, help=help_text)
    def command(
        ctx: typer.Context, listing_id: int, as_: str = AsOption, as_json: bool = JsonOption
    ) -> None:
        view = ctx_of(ctx).actor(as_).move_listing(listing_id, move)
        emit(view.to_json(), as_json, lambda: say(f"Listing #{view.id} is now {view.status}."))


_status_command("pause", "Hide a listing from search for now.")
_status_command("resume", "Show a paused listing again.")
_status_command("remove", "Take a listing down for good.")


@photo_app.command("add")
def photo_add(
    ctx: typer.Context,
    listing_id: int,
    files: list[Path] = typer.Argument(..., metavar="FILE...", help="JPEG, PNG, WebP or GIF."),
    as_: str = AsOption,
    as_json: bool = JsonOption,
) -> None:
    """Add photos to a listing you own: metadata (EXIF, GPS) is stripped, each is resized
    and stored once, by its hash."""
    photos = ctx_of(ctx).actor(as_).add_photos(listing_id, files)
    emit(
        {"listing_id": listing_id, "photos": [p.to_json() for p in photos]},
        as_json,
        lambda: (say(f"Listing #{listing_id} has {len(photos)} photo(s)."), _photos(photos)),
    )


@photo_app.command("remove")
def photo_remove(
    ctx: typer.Context,
    listing_id: int,
    photo: str = typer.Argument(
        ..., metavar="PHOTO", help="Its number (as `listing show` lists it) or sha256 start."
    ),
    as_: str = AsOption,
    as_json: bool = JsonOption,
) -> None:
    """Remove a photo from a listing you own."""
    removed = ctx_of(ctx).actor(as_).remove_photo(listing_id, photo)
    emit(
        {"listing_id": listing_id, "removed": removed.to_json()},
        as_json,
        lambda: say(f"Removed photo {removed.sha256[:12]}… from listing #{listing_id}."),
    )


@app.command("categories")
def categories(as_json: bool = JsonOption) -> None:
    """The categories, their kinds, units and price guides."""
    cats = shop.categories()
    emit(
        {
            "categories": [
                {
                    "slug": c.slug,
                    "name": c.name,
                    "name_zh": c.name_zh,
                    "kinds": list(c.kinds),
                    "units": list(c.units),
                }
                for c in cats
            ]
        },
        as_json,
        lambda: table(
            ["slug", "name", "kinds", "units"],
            [
                [c.slug, f"{c.name} {c.name_zh}", ", ".join(c.kinds), ", ".join(c.units)]
                for c in cats
            ],
        ),
    )


@app.command("hours")
def hours(
    ctx: typer.Context,
    listing_id: int,
    week: str = typer.Argument(..., help='e.g. "mon-fri 09:00-18:00, sat 10:00-14:00".'),
    as_: str = AsOption,
    buffer: int = typer.Option(0, "--buffer", help="Minutes kept free after each booking."),
    buffer_before: int = typer.Option(
        0, "--buffer-before", help="Minutes kept free before each booking."
    ),
    notice: int = typer.Option(0, "--notice", help="Hours of notice a booking needs."),
    window: int = typer.Option(30, "--window", help="How many days ahead one may book."),
    slot: int | None = typer.Option(
        None, "--slot", help="Minutes per session (a listing by the hour has 60)."
    ),
    off: list[str] = typer.Option([], "--off", help="A day off (2026-12-25); repeat it."),
    as_json: bool = JsonOption,
) -> None:
    """Set when a skill or time listing can be booked (replaces its week), in the market's
    time zone."""
    h = (
        ctx_of(ctx)
        .actor(as_)
        .set_hours(
            listing_id,
            week,
            slot_minutes=slot,
            buffer_before=buffer_before,
            buffer_after=buffer,
            notice_hours=notice,
            window_days=window,
            days_off=off,
        )
    )
    emit(h.to_json(), as_json, lambda: (say(f"Listing #{listing_id} takes bookings."), _hours(h)))


def _hours(h) -> None:
    say(f"Hours ({h.zone}): {h.week}")
    say(
        f"Slots of {h.slot_minutes} min; buffer {h.buffer_before} min before, "
        f"{h.buffer_after} min after; notice {h.notice_hours} h; up to {h.window_days} days "
        f"ahead; days off: {', '.join(h.days_off) or 'none'}."
    )


@app.command("slots")
def slots(
    ctx: typer.Context,
    listing_id: int,
    days: int = typer.Option(7, "--days", min=1, max=366, help="How many days to show."),
    since: str | None = typer.Option(
        None, "--from", help="From this day or time (2026-12-05), the market's clock."
    ),
    as_json: bool = JsonOption,
) -> None:
    """The free slots of a listing someone can book."""
    market = ctx_of(ctx).market
    w = bookings.week(market, listing_id, days, since)
    emit(
        w.to_json(),
        as_json,
        lambda: (
            _hours(w.hours),
            table(
                ["free slot", "until"],
                [[bookings.local(market, s.start), bookings.local(market, s.end)] for s in w.slots],
            )
            if w.slots
            else say(f"No free slot in the next {days} days."),
        ),
    )


@app.command("calendar")
def calendar(
    ctx: typer.Context,
    listing_id: int,
    days: int = typer.Option(28, "--days", min=1, max=365, help="How many days to show."),
    since: str | None = typer.Option(
        None, "--from", metavar="DAY", help="From this day (2026-12-05); default today."
    ),
    as_json: bool = JsonOption,
) -> None:
    """The days a rentable listing (goods by the day) is free or rented."""
    market = ctx_of(ctx).market
    first = bookings.parse_day(since) if since else None
    cal = bookings.calendar(market, listing_id, first, days)
    taken = set(cal.taken)
    emit(
        cal.to_json(),
        as_json,
        lambda: (
            say(
                f"Listing #{listing_id}: {money.fmt(cal.price)} a day, deposit "
                f"{money.fmt(cal.deposit)}."
            ),
            table(
                ["day", ""],
                [[f"{d:%a %Y-%m-%d}", "rented" if d in taken else "free"] for d in cal.dates()],
            ),
        ),
    )


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="listing")
