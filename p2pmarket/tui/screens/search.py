"""Nearby search: searches as you type (in a worker), filters, sort, results and a small map."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Header, Input, Select, Static
from textual.worker import get_current_worker

from p2pmarket import money
from p2pmarket.errors import MarketError, Superseded
from p2pmarket.market import shop
from p2pmarket.models import Condition, Kind
from p2pmarket.services.market import photos, search
from p2pmarket.tui.plain import line, plain
from p2pmarket.tui.screens.base import MarketScreen
from p2pmarket.tui.widgets.footer import MarketFooter
from p2pmarket.tui.widgets.results import ResultsTable
from p2pmarket.tui.widgets.text_input import TextInput
from p2pmarket.tui.widgets.textmap import ResultMap

SORTS = [
    ("best match", "best"),
    ("nearest", "nearest"),
    ("cheapest", "cheapest"),
    ("best credit", "credit"),
]
# Marks a result the saved search being run found since my last look.
NEW_MARK = "●"
# Goods in this condition or better ("good+": good, like new or new).
CONDITIONS = [
    (c.value.replace("_", " ") + ("" if c is Condition.new else "+"), c.value) for c in Condition
]


# The results' columns by priority (what fits 80 columns first, the why last: the listing
# shows it whole), each at its least width (a wider cell widens its column for that page).
# Fixed widths keep the screen's layout while one types: a keystroke repaints the table.
COLUMNS = {
    "title": 32,  # 24 below 100 columns
    "price": 14,
    "seller": 12,
    "reviews": 10,
    "distance": 8,
    "credit": 6,
    "why": 48,
}
NARROW_TITLE = 24


# Each number filter's label, in its border (the placeholder goes once one types).
LABELS = {
    "radius": "radius km",
    "min-price": "price ≥ ¥",
    "max-price": "price ≤ ¥",
    "min-credit": "credit ≥",
}


def title_cell(hit: search.Hit, width: int = 32, *, new: bool = False) -> Text:
    """A result's title, marked when it has photos (the mark stays when the title is cut),
    and when a saved search found it since my last look."""
    cell = Text(f"{NEW_MARK} ", style="bold") if new else Text()
    width -= 2 if new else 0
    if not hit.has_photos:
        return cell.append_text(line(hit.title, width))
    return cell.append_text(line(hit.title, width - 2)).append(f" {photos.MARK}", style="bold")


class SearchScreen(MarketScreen):
    NAME = "Nearby search"
    BINDINGS: ClassVar = [
        # First: at 80 columns the footer cuts its last keys. Shown only while it applies.
        Binding("ctrl+r", "widen", "Widen radius"),
        Binding("ctrl+o", "cycle_sort", "Sort"),
        Binding("ctrl+l", "focus_results", "Results"),
        Binding("ctrl+f", "focus_query", "Search box"),
        Binding("ctrl+s", "save_search", "Save search"),
        Binding("ctrl+g", "saved_searches", "Saved searches"),
    ]

    @dataclass
    class Found(Message):
        key: tuple
        found: shop.Nearby | None
        error: str | None = None
        # Finished: each why compares the price with its band, an empty page says how far
        # the nearest match is (the second, slower pass).
        priced: bool = False

    def __init__(self, saved: str | None = None) -> None:
        super().__init__()
        # A saved search to run on opening (by name), the one run (its name); where it is
        # centred when not at home, and the listings it found since my last look (marked).
        self._open_first, self._saved = saved, None
        self._near: str | None = None
        self._new: tuple[int, ...] = ()
        self._generation = 0
        self.results: search.Results | None = None
        self._widen_offered = False  # ctrl+r in the footer (_offer_widen)
        # What the box asks for now, what a worker is computing, what the table shows
        # (query tokens + filters): "piano" and "piano " are one search, run once.
        self._wanted_key: tuple | None = None
        self._running_key: tuple | None = None
        self._shown_key: tuple | None = None
        self._shown_priced = False

    def compose(self) -> ComposeResult:
        cats = sorted(shop.categories(), key=lambda c: c.name)
        yield Header()
        yield TextInput(placeholder="search nearby — words or the start of words", id="q")
        with Horizontal(id="filters"):
            yield TextInput(value=f"{search.RADIUS_DEFAULT_KM:g}", placeholder="3", id="radius")
            yield Select([(k.value, k.value) for k in Kind], prompt="any kind", id="kind")
            yield Select(
                [(line(c.name), c.slug) for c in cats], prompt="any category", id="category"
            )
            yield TextInput(placeholder="any", id="min-price")
            yield TextInput(placeholder="any", id="max-price")
            yield TextInput(placeholder="any (350–950)", id="min-credit")
            yield Select(CONDITIONS, prompt="condition", id="condition")
            yield Select(SORTS, value="best", allow_blank=False, id="sort")
        # Above the results, full width: the count and "widen the radius" are always seen.
        yield Static("", id="search-status")
        with Horizontal(id="search-body"):
            yield ResultsTable(id="results")
            with Vertical(id="search-side"):
                yield ResultMap("", id="map")
        yield MarketFooter()

    def on_mount(self) -> None:
        for wid, label in LABELS.items():
            self.query_one(f"#{wid}").border_title = label
        self.query_one("#results", ResultsTable).set_columns(self._widths())
        self.query_one("#q", Input).focus()
        if self._open_first is not None:
            self.run_saved(self._open_first)
        self.run_search()

    # -- searching -------------------------------------------------------------------------

    def reload(self) -> None:
        """Shown again (the app keeps it): the same words and filters, read anew."""
        self._shown_key = None
        self.run_search()

    def _widths(self) -> dict[str, int]:
        """Each results column's least width at this terminal's width."""
        return COLUMNS | {"title": NARROW_TITLE} if self.has_class("-narrow") else COLUMNS

    def _query(self) -> search.Query:
        def number(wid: str) -> str:
            return self.query_one(f"#{wid}", Input).value.strip()

        def choice(wid: str) -> str | None:
            value = self.query_one(f"#{wid}", Select).value
            return None if value is Select.NULL else str(value)

        kind, condition = choice("kind"), choice("condition")
        return search.check_query(
            search.Query(
                text=self.query_one("#q", Input).value,
                radius_km=search.parse_radius(number("radius")),
                kind=Kind(kind) if kind else None,
                category=choice("category"),
                min_price=money.parse(number("min-price")) if number("min-price") else None,
                max_price=money.parse(number("max-price")) if number("max-price") else None,
                min_credit=search.parse_min_credit(number("min-credit")),
                condition=Condition(condition) if condition else None,
                sort=search.parse_sort(choice("sort") or "best"),
            )
        )

    def _key(self, query: search.Query) -> tuple:
        """Queries with equal keys have equal results (the text matters only as tokens; the
        centre is home unless a saved search placed it elsewhere)."""
        rest = tuple(v for k, v in vars(query).items() if k != "text")
        return (search.query_tokens(query.text), self._near, *rest)

    @on(Input.Changed)
    @on(Select.Changed)
    def run_search(self) -> None:
        self._generation += 1
        try:
            query = self._query()
        except MarketError as exc:
            self._wanted_key = None
            self._refused(exc.message)
            return
        self._wanted_key = key = self._key(query)
        if key == self._shown_key and self.results is not None:
            self._show_status(self.results)
            # e.g. a space after a word: same tokens, same page
            self._shown(priced=self._shown_priced)
            return
        if key == self._running_key:
            return  # the worker already computing it will show it
        self._running_key = key
        self._search(query, key)

    def _refused(self, reason: str) -> None:
        """A query refused (or an empty box): the reason, and no earlier results under it."""
        self._shown_key, self.results = None, None
        self.query_one("#results", ResultsTable).refill([])
        self.query_one("#map", ResultMap).clear()
        self._offer_widen()
        self._set_status(reason)
        self._shown(priced=True)

    def _shown(self, *, priced: bool) -> None:
        """The table holds the current keystroke's results: note when they are painted."""
        # The callback runs after the next paint of the screen: the rows are on it.
        self.query_one("#results", ResultsTable).call_after_refresh(
            self._painted, self._generation, priced
        )

    def _painted(self, generation: int, priced: bool) -> None:
        """Keystroke `generation`'s results are on screen (`priced`: with prices compared).

        Nothing to do here; a screen that times itself (bench/timed.py) overrides it.
        """

    @work(thread=True, exclusive=True, group="search")
    def _search(self, query: search.Query, key: tuple) -> None:
        """One page of results, without its slower part (see `_compare`).

        A newer keystroke cancels this worker (same group): a stale page is not shown.
        """
        worker = get_current_worker()
        try:
            found = self.actor.search(
                query, near=self._near, finished=False, map_steps=ResultMap.ROWS // 2
            )
        except MarketError as exc:
            self.post_message(self.Found(key, None, error=exc.message))
            return
        if not worker.is_cancelled:
            self.post_message(self.Found(key, found))

    @work(thread=True, exclusive=True, group="search")
    def _compare(self, found: shop.Nearby, key: tuple) -> None:
        """The page on screen, finished: each why now comparing its price with its band, or
        an empty page telling how far the nearest match is.

        The bands take longest the first time a category shows up (later they come from a
        cache), and the look beyond an empty page is a search of 50 km, so a page is shown
        without them first and finished once painted.
        """
        worker = get_current_worker()
        try:
            priced = self.actor.finish(found, cancelled=lambda: worker.is_cancelled)
        except Superseded:
            return  # a newer keystroke's search runs: this page is not shown any more
        except MarketError as exc:
            self.post_message(self.Found(key, None, error=exc.message))
            return
        if not worker.is_cancelled:
            self.post_message(self.Found(key, priced, priced=True))

    def _price(self, found: shop.Nearby, key: tuple) -> None:
        """After the unpriced page is painted: price it, unless the box asks for more now."""
        if key == self._wanted_key == self._shown_key and not self._shown_priced:
            self._compare(found, key)

    def on_search_screen_found(self, message: Found) -> None:
        if message.key == self._running_key:
            self._running_key = None
        if message.key != self._wanted_key:
            return  # a newer keystroke asks for something else
        if message.found is None:
            self._refused(message.error or "")
            return
        table = self.query_one("#results", ResultsTable)
        found = message.found
        self.results = results = found.results
        widths = self._widths()
        table.refill(
            [
                (
                    h.id,
                    (
                        title_cell(h, widths["title"], new=h.id in self._new),
                        f"{money.fmt(h.price)}/{h.unit}",
                        line(f"@{h.seller}"),
                        h.rated(),
                        h.distance,
                        "—" if h.credit is None else str(h.credit),
                        line(h.why, widths["why"]),
                    ),
                )
                for h in results.hits
            ],
            widths=list(widths.values()),
        )
        self.query_one("#map", ResultMap).show(
            [found.offsets[h.id] for h in results.hits if h.id in found.offsets],
            results.radius_km,
            found.step_km,
        )
        priced = message.priced
        self._shown_key, self._shown_priced = message.key, priced
        self._show_status(results)
        self._shown(priced=priced)
        if not priced:
            table.call_after_refresh(self._price, found, message.key)

    def _show_status(self, results: search.Results) -> None:
        widen = " ctrl+r widens it." if self._offer_widen() else ""
        if not results.hits and results.page == 1:
            self._set_status(results.nothing_found(finished=self._shown_priced) + widen)
            return
        more = " · more beyond this page" if results.has_more else ""
        pictured = f" · {photos.MARK} has photos" if any(h.has_photos for h in results.hits) else ""
        new = f" · {NEW_MARK} {len(self._new)} new since your last look" if self._new else ""
        if self._saved is not None:
            new = f" · saved search '{self._saved}'{new}"
        found = len(results.hits)
        self._set_status(
            f"{found} result{'s' * (found != 1)} within {results.radius_km:g} km of "
            f"{results.centre} · {results.sort}{more}{pictured}{new}"
        )

    def _set_status(self, text: str) -> None:
        status = self.query_one("#search-status", Static)
        if str(status.content) == text:  # unchanged while typing on: no layout, no redraw
            return
        status.update(plain(text), layout=False)
        # A layout of the whole screen only when the line count changes (it wraps at 80).
        lines = status.get_content_height(
            status.container_size, self.size, status.content_size.width
        )
        if lines != status.content_size.height:
            status.refresh(layout=True)

    # -- actions ---------------------------------------------------------------------------

    def _widen_to(self) -> int | None:
        """The radius (km) that reaches the nearest match, while the page shown is empty."""
        results = self.results
        if results is None or results.hits or results.page != 1 or not self._shown_priced:
            return None
        return results.widen_to_km

    def _offer_widen(self) -> bool:
        """Whether Widen applies now; the footer is asked again only when that changed (not
        at every keystroke's status)."""
        offered = self._widen_to() is not None
        if offered != self._widen_offered:
            self._widen_offered = offered
            self.refresh_bindings()
        return offered

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Widen is in the footer only while an empty page knows how far to widen."""
        return self._widen_to() is not None if action == "widen" else True

    def action_widen(self) -> None:
        widen = self._widen_to()
        if widen is not None:
            self.query_one("#radius", Input).value = str(widen)

    @on(ResultsTable.RowSelected, "#results")
    def _open(self, event: ResultsTable.RowSelected) -> None:
        from p2pmarket.tui.screens.listing import ListingScreen

        self.market.open(ListingScreen(event.key))

    @on(Input.Submitted, "#q")
    def action_focus_results(self) -> None:
        self.query_one("#results", ResultsTable).focus()

    def action_focus_query(self) -> None:
        self.query_one("#q", Input).focus()

    def action_cycle_sort(self) -> None:
        select = self.query_one("#sort", Select)
        values = [v for _label, v in SORTS]
        select.value = values[(values.index(str(select.value)) + 1) % len(values)]

    def action_save_search(self) -> None:
        """Save what the box and filters ask now, by a name: what it finds later comes to
        the inbox."""
        from p2pmarket.tui.widgets.ask import AskModal

        try:
            query = self._query()
        except MarketError as exc:
            self.market.refuse(exc)
            return

        def named(name: str | None) -> None:
            if not name:
                return
            saved = self.attempt(lambda: self.actor.save_search(name, query))
            if saved is not None:
                self.market.tell(
                    f"Saved search '{saved.name}': new listings it finds come to your inbox (l)."
                )

        ask = "Save this search as (a name):"
        name = query.text.strip()[:40] or "nearby"
        self.app.push_screen(AskModal(ask, value=name), named)

    # -- saved searches --------------------------------------------------------------------

    def action_saved_searches(self) -> None:
        """My saved searches: run one here, or delete one."""
        from p2pmarket.tui.widgets.saved_searches import choose_saved

        choose_saved(self, self.run_saved)

    def run_saved(self, name: str) -> None:
        """Fill the box and filters with a saved search (its centre too) and run it; the
        listings it found since my last look are marked, and seen from now on."""
        opened = self.attempt(lambda: self.actor.open_saved_search(name))
        if opened is None:
            return
        q = opened.query
        self._near, self._new = opened.near, opened.new
        fields = {
            "q": q.text,
            "radius": f"{q.radius_km:g}",
            "min-price": money.plain(q.min_price) if q.min_price is not None else "",
            "max-price": money.plain(q.max_price) if q.max_price is not None else "",
            "min-credit": "" if q.min_credit is None else str(q.min_credit),
        }
        for wid, value in fields.items():
            self.query_one(f"#{wid}", Input).value = value
        choices = {
            "kind": q.kind.value if q.kind else None,
            "category": q.category,
            "condition": q.condition.value if q.condition else None,
        }
        for wid, value in choices.items():
            select = self.query_one(f"#{wid}", Select)
            if value is None:
                select.clear()
            else:
                select.value = value
        self.query_one("#sort", Select).value = str(q.sort)
        self._saved = opened.name
        self.run_search()
