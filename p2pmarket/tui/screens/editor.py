"""Add or edit a listing, with the suggested price band of what it is (title, category, unit,
condition) and a live low / fair / high verdict when similar items exist."""

from __future__ import annotations

import shlex
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import ClassVar

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.widgets import Button, Header, Input, Label, Select

from p2pmarket import money
from p2pmarket.errors import Invalid, MarketError
from p2pmarket.market import shop
from p2pmarket.models import Condition, Kind, Unit
from p2pmarket.services.market import photos, pricing, shops
from p2pmarket.text import strip_controls
from p2pmarket.tui.plain import line
from p2pmarket.tui.screens.base import MarketScreen
from p2pmarket.tui.widgets.footer import MarketFooter
from p2pmarket.tui.widgets.price_band import PriceBand
from p2pmarket.tui.widgets.text_input import TextInput


class EditorScreen(MarketScreen):
    NAME = "Listing editor"
    BINDINGS: ClassVar = [
        Binding("ctrl+s", "save", "Save"),
        Binding("escape", "app.back", "Cancel"),
    ]

    @dataclass
    class Suggested(Message):
        # (category, unit, title, condition): what the band was asked for.
        key: tuple[str, str, str, str | None]
        suggestion: pricing.Suggestion | None
        # Why there is none (the unit does not fit the category).
        problem: str | None = None

    def __init__(self, listing_id: int | None = None) -> None:
        super().__init__()
        self.listing_id = listing_id
        self._band_key: tuple[str, str, str, str | None] | None = None

    def compose(self) -> ComposeResult:
        self._categories = sorted(shop.categories(), key=lambda c: c.name)
        yield Header()
        with Horizontal(id="editor"):
            with VerticalScroll(id="editor-form"):
                yield Label("Title")
                yield TextInput(id="title", placeholder="What you offer")
                yield Label("Description")
                yield TextInput(id="description", placeholder="Details, condition, when")
                yield Label("Kind")
                yield Select([(k.value, k.value) for k in Kind], id="kind", allow_blank=False)
                yield Label("Category")
                yield Select(self._category_options(Kind.goods), id="category", prompt="category")
                yield Label("Unit")
                yield Select([(u.value, u.value) for u in Unit], id="unit", allow_blank=False)
                yield Label("Condition (goods)")
                yield Select(
                    [(c.value.replace("_", " "), c.value) for c in Condition],
                    id="condition",
                    prompt="not said",
                )
                yield Label("Price (yuan)")
                yield TextInput(id="price", placeholder="e.g. 120 or 85.50")
                yield Label("Quantity")
                yield TextInput(id="quantity", value="1")
                yield Label("Deposit (yuan), back after the return", id="deposit-label")
                yield TextInput(id="deposit", placeholder="e.g. 300; empty: none")
                yield Label("Photos to add (files; quote a path with spaces)", id="photos-label")
                yield TextInput(id="photo-files", placeholder="~/Pictures/bike.jpg")
            with Vertical(id="editor-side"):
                yield PriceBand(id="band")
                yield Button("Save", variant="primary", id="save")
        yield MarketFooter()

    def on_mount(self) -> None:
        self.sub_title = "New listing" if self.listing_id is None else f"Edit #{self.listing_id}"
        self._fill()
        self._deposit_shown()
        self._saved = self._draft()

    def _fill(self) -> None:
        if self.listing_id is None:
            self.query_one("#title", Input).focus()
            return
        view = self.attempt(lambda: shop.listing(self.market.market, self.listing_id))
        if view is None:
            return
        self.query_one("#title", Input).value = strip_controls(view.title)
        self.query_one("#description", Input).value = strip_controls(view.description)
        self.query_one("#kind", Select).value = view.kind
        self.query_one("#kind", Select).disabled = True
        self._categories_for_kind()
        self.query_one("#category", Select).value = view.category
        self.query_one("#unit", Select).value = view.unit
        if view.condition:
            self.query_one("#condition", Select).value = view.condition
        self.query_one("#price", Input).value = money.plain(view.price)
        self.query_one("#quantity", Input).value = str(view.quantity)
        if view.deposit:
            self.query_one("#deposit", Input).value = money.plain(view.deposit)
        self._count_photos(len(view.photos))
        # The price is what one edits most; the form stays at its top, the title in view.
        self.query_one("#price", Input).focus(scroll_visible=False)

    def _count_photos(self, count: int) -> None:
        self.query_one("#photos-label", Label).update(
            f"Photos: {count} of {photos.PHOTOS_MAX}; add files (quote a path with spaces)"
        )

    def _photo_files(self) -> list[Path]:
        raw = self.query_one("#photo-files", Input).value
        try:
            words = shlex.split(raw)
        except ValueError:
            raise Invalid("photo_paths", "Close the quote around a photo's path.") from None
        return [Path(w).expanduser() for w in words]

    def _draft(self) -> tuple:
        """Everything typed or chosen, to tell whether leaving would lose something."""
        return tuple(w.value for w in self.query("#editor-form Input, #editor-form Select"))

    def leave(self, go: Callable[[], object]) -> None:
        if self._draft() == self._saved:
            go()
            return
        from p2pmarket.tui.widgets.confirm import ConfirmModal

        question = "Leave the editor? What you typed here is not saved."
        self.app.push_screen(
            ConfirmModal(question, yes="Leave, lose it", no="Keep editing"),
            lambda leave: leave and go(),
        )

    def _category_options(self, kind: str) -> list[tuple[Text, str]]:
        return [(line(c.name), c.slug) for c in self._categories if kind in c.kinds]

    @on(Select.Changed, "#kind")
    def _categories_for_kind(self) -> None:
        """Only the categories that take this kind of listing; a category chosen stays
        when it takes the new kind too."""
        category = self.query_one("#category", Select)
        chosen = category.value
        options = self._category_options(str(self.query_one("#kind", Select).value))
        category.set_options(options)
        if any(slug == chosen for _name, slug in options):
            category.value = chosen

    @on(Select.Changed, "#kind, #unit")
    def _deposit_shown(self) -> None:
        """Only goods rented by the day ask a deposit."""
        shown = self._rented()
        for wid in ("#deposit-label", "#deposit"):
            self.query_one(wid).display = shown

    def _rented(self) -> bool:
        kind, unit = (self.query_one(f"#{w}", Select).value for w in ("kind", "unit"))
        return shops.takes_deposit(str(kind), str(unit))

    # -- live price band -------------------------------------------------------------------

    @on(Select.Changed, "#category, #unit, #condition")
    @on(Input.Changed, "#title")
    def _band_inputs_changed(self) -> None:
        category = self.query_one("#category", Select).value
        unit = self.query_one("#unit", Select).value
        if category is Select.NULL or unit is Select.NULL:
            self.query_one(PriceBand).set_suggestion(None)
            return
        condition = self.query_one("#condition", Select).value
        self._band_key = (
            str(category),
            str(unit),
            self.query_one("#title", Input).value,
            None if condition is Select.NULL else str(condition),
        )
        self._suggest(self._band_key)

    @work(thread=True, exclusive=True, group="price")
    def _suggest(self, key: tuple[str, str, str, str | None]) -> None:
        category, unit, title, condition = key
        try:
            found = self.actor.suggest_price(
                category,
                Unit(unit),
                title=title,
                condition=Condition(condition) if condition else None,
                exclude_listing=self.listing_id,
            )
        except MarketError as exc:
            # The unit does not fit the category: the band says so.
            self.post_message(self.Suggested(key, None, exc.message))
            return
        self.post_message(self.Suggested(key, found))

    def on_editor_screen_suggested(self, message: Suggested) -> None:
        if message.key == self._band_key:
            self.query_one(PriceBand).set_suggestion(message.suggestion, message.problem)
            self._price_changed()

    @on(Input.Changed, "#price")
    def _price_changed(self) -> None:
        raw = self.query_one("#price", Input).value
        band = self.query_one(PriceBand)
        if not raw.strip():
            band.set_price(None)
            return
        try:
            band.set_price(money.parse(raw))
        except MarketError as exc:
            band.set_price(None, exc.message)

    # -- save ------------------------------------------------------------------------------

    def _fields(self) -> dict:
        def value(wid: str) -> str:
            return self.query_one(f"#{wid}", Input).value

        category = self.query_one("#category", Select).value
        if category is Select.NULL:
            raise Invalid("category_missing", "Choose a category.")
        qty = value("quantity").strip()
        if not (qty.isascii() and qty.isdigit()):
            raise Invalid("quantity_format", "Quantity must be a whole number, like 1 or 5.")
        condition = self.query_one("#condition", Select).value
        deposit = value("deposit").strip() if self._rented() else ""
        return {
            "deposit": money.parse(deposit, allow_zero=True) if deposit else None,
            "title": value("title"),
            "description": value("description"),
            "category": str(category),
            "unit": shops.parse_unit(str(self.query_one("#unit", Select).value)),
            "price": money.parse(value("price")),
            "quantity": int(qty),
            "condition": None if condition is Select.NULL else Condition(str(condition)),
        }

    @on(Button.Pressed, "#save")
    def action_save(self) -> None:
        def save() -> shops.ListingView:
            fields = self._fields()
            if self.listing_id is None:
                kind = shops.parse_kind(str(self.query_one("#kind", Select).value))
                return self.actor.add_listing(kind=kind, **fields).listing
            return self.actor.edit_listing(self.listing_id, **fields)

        files = self.attempt(self._photo_files)
        if files is None:
            return
        view = self.attempt(save)
        if view is None:
            return
        self.listing_id = view.id  # saved: a refused photo below leaves an edit of it
        self.sub_title = f"Edit #{view.id}"
        shown = self.attempt(lambda: self.actor.add_photos(view.id, files)) if files else ()
        self._saved = self._draft()
        if shown is None:
            return
        added = f" with {len(shown)} photo(s)" if files else ""
        self.market.tell(f"Saved listing #{view.id}{added}: {view.title}")
        self.market.action_back()
