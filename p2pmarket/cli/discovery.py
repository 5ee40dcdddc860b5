"""`p2pmarket search`, `p2pmarket price suggest`, `p2pmarket reindex`: finding things nearby."""

from __future__ import annotations

import typer
from rich.table import Column

from p2pmarket import money
from p2pmarket.cli.context import (
    AsOption,
    JsonOption,
    Later,
    console,
    ctx_of,
    default_group,
    emit,
    progress_bar,
    say,
    table,
)
from p2pmarket.errors import Invalid
from p2pmarket.geo import RADIUS_DEFAULT_KM

shop = Later("p2pmarket.market.shop")
photos = Later("p2pmarket.services.market.photos")
search = Later("p2pmarket.services.market.search")
shops = Later("p2pmarket.services.market.shops")

search_app = typer.Typer(
    cls=default_group("find"),
    help="Find listings near you; `search … --save NAME` keeps a search, `search saved` "
    "lists yours, `search unsave NAME` drops one.",
)
price_app = typer.Typer(
    help="Suggested prices from nearby sales and listings.", no_args_is_help=True
)

NearOption = typer.Option(None, "--near", help="Centre as LAT,LON (default: your home).")
AreaOption = typer.Option(None, "--area", help="Centre on an area (see `p2pmarket areas`).")


@search_app.command("find", hidden=True)
def search_command(
    ctx: typer.Context,
    text: str = typer.Argument("", help="Words or the start of words; empty browses nearby."),
    as_: str = AsOption,
    near: str | None = NearOption,
    area: str | None = AreaOption,
    radius_km: float = typer.Option(RADIUS_DEFAULT_KM, "--radius-km", help="Up to 500."),
    kind: str | None = typer.Option(None, "--kind", help="goods, skill or time."),
    category: str | None = typer.Option(None, "--category"),
    min_price: str | None = typer.Option(None, "--min-price", help="In yuan."),
    max_price: str | None = typer.Option(None, "--max-price", help="In yuan."),
    min_credit: int | None = typer.Option(
        None,
        "--min-credit",
        help="Only sellers whose published transaction credit is at least N (350-950); "
        "sellers who do not publish their credit are left out.",
    ),
    condition: str | None = typer.Option(
        None,
        "--condition",
        help="Goods in this condition or better: new, like-new, good, fair, for-parts.",
    ),
    sort: str = typer.Option(
        "best",
        "--sort",
        help="best, nearest, cheapest or credit (published credit first, hidden last).",
    ),
    page: int = typer.Option(1, "--page"),
    save: str | None = typer.Option(
        None,
        "--save",
        metavar="NAME",
        help="Also save this search as NAME: listings added later that it finds come to "
        "your inbox (`search saved` lists them, `search unsave NAME` drops one).",
    ),
    as_json: bool = JsonOption,
) -> None:
    """Find listings near you (or near --near/--area), with a short why for each
    (`search saved` and `search unsave NAME`: your saved searches)."""
    c = ctx_of(ctx)
    query = search.Query(
        text=text,
        radius_km=radius_km,
        kind=shops.parse_kind(kind) if kind else None,
        category=category,
        min_price=money.parse(min_price) if min_price is not None else None,
        max_price=money.parse(max_price) if max_price is not None else None,
        min_credit=min_credit,
        condition=shops.parse_condition(condition) if condition is not None else None,
        sort=search.parse_sort(sort),
        page=page,
    )
    actor = c.actor(as_)
    saved = actor.save_search(save, query, near=near, area=area) if save is not None else None
    results = actor.search(query, near=near, area=area).results

    def render() -> None:
        if saved is not None:
            say(f"Saved search '{saved.name}': what it finds from now on comes to your inbox.")
        if not results.hits:
            say(results.nothing_found())
            return
        _hits_table(
            results.hits,
            f"page {results.page} · within {radius_km:g} km of {results.centre} · "
            f"{results.sort}"
            + (f" · {photos.MARK} has photos" if any(h.has_photos for h in results.hits) else ""),
        )
        if results.has_more:
            say(f"More on --page {results.page + 1}.")

    found = results.to_json()
    if saved is not None:
        found["saved"] = saved.to_json()
    emit(found, as_json, render)


# Narrower than this, the results fold: each listing's why goes under its title and the
# distance column (the why names the distance) is left out, so the words get the width.
WIDE_TABLE = 120


def _hits_table(hits: list, title: str) -> None:
    """The results, a row each; the price never wraps."""
    wide = console.width >= WIDE_TABLE
    price = Column("price", no_wrap=True)
    rows = []
    for h in hits:
        named = f"{h.title} {photos.MARK}" if h.has_photos else h.title
        cost, seller = f"{money.fmt(h.price)}/{h.unit}", f"{h.seller}\n{h.rated()}"
        rows.append(
            [h.id, named, cost, seller, h.distance, h.why]
            if wide
            else [h.id, f"{named}\n{h.why}", cost, seller]
        )
    columns = (
        ["#", "title", price, "seller", "distance", "why"]
        if wide
        else ["#", "title · why", price, "seller"]
    )
    table(columns, rows, title=title)


@search_app.command("saved")
def saved_searches(
    ctx: typer.Context,
    as_: str = AsOption,
    as_json: bool = JsonOption,
) -> None:
    """Your saved searches, each with its hits you have not seen."""
    saved = ctx_of(ctx).actor(as_).saved_searches()

    def render() -> None:
        if not saved:
            say("No saved searches (`p2pmarket search WORDS --save NAME`).")
            return
        table(
            ["name", "text", "radius", "filters", "new hits"],
            [
                [
                    s.name,
                    s.text or "(anything)",
                    f"{s.radius_km:g} km",
                    ", ".join(f"{k} {v}" for k, v in s.filters.items()) or "-",
                    str(s.new_hits),
                ]
                for s in saved
            ],
        )

    emit([s.to_json() for s in saved], as_json, render)


@search_app.command("unsave")
def unsave(
    ctx: typer.Context,
    name: str = typer.Argument(..., metavar="NAME"),
    as_: str = AsOption,
) -> None:
    """Drop one of your saved searches."""
    gone = ctx_of(ctx).actor(as_).unsave_search(name)
    say(f"Saved search '{gone.name}' dropped.")


@price_app.command("suggest")
def suggest(
    ctx: typer.Context,
    category: str | None = typer.Option(None, "--category", metavar="SLUG"),
    unit: str | None = typer.Option(
        None, "--unit", metavar="UNIT", help="item, hour, session or day."
    ),
    title: str = typer.Option(
        "", "--title", metavar="TEXT", help="What it is: similar items are compared."
    ),
    condition: str | None = typer.Option(
        None, "--condition", metavar="K", help="Goods: new, like-new, good, fair or for-parts."
    ),
    listing: int | None = typer.Option(
        None,
        "--listing",
        metavar="ID",
        help="A listing's own band, as its page and search row show it (instead of the above).",
    ),
    as_: str = AsOption,
    near: str | None = NearOption,
    area: str | None = AreaOption,
    as_json: bool = JsonOption,
) -> None:
    """A fair price band (p25 / p50 / p75) for an item near you: from similar sales and
    listings when there are enough, else the category's (the basis says which)."""
    described = category is not None or unit is not None or title or condition is not None
    if listing is not None and described:
        raise Invalid(
            "suggest_twice", "Give --listing ID, or describe the item with --category and --unit."
        )
    actor = ctx_of(ctx).actor(as_)
    if listing is not None:
        result = actor.suggest_listing_price(listing, near=near, area=area)
    elif category is None or unit is None:
        raise Invalid("suggest_what", "Give --category and --unit (and --title), or --listing ID.")
    else:
        unit_ = shops.parse_unit(unit)
        condition_ = shops.parse_condition(condition) if condition is not None else None
        result = actor.suggest_price(
            category, unit_, title=title, condition=condition_, near=near, area=area
        )
    emit(
        result.to_json(),
        as_json,
        lambda: say(
            f"{result.category} per {result.unit}: {money.fmt(result.p25)} · "
            f"{money.fmt(result.p50)} · {money.fmt(result.p75)} (p25 · median · p75). "
            f"Basis: {result.basis}."
        ),
    )


def reindex(ctx: typer.Context, as_json: bool = JsonOption) -> None:
    """Rebuild the search index from the listings (it is derived data)."""
    c = ctx_of(ctx)
    with progress_bar("indexing", as_json) as bar:
        task = bar.add_task("index", total=None)
        count = shop.reindex(
            c.market, progress=lambda done, total: bar.update(task, completed=done, total=total)
        )
    emit({"indexed": count}, as_json, lambda: say(f"Indexed {count:,} listings."))


def register(app: typer.Typer) -> None:
    app.add_typer(search_app, name="search")
    app.add_typer(price_app, name="price")
    app.command("reindex")(reindex)
