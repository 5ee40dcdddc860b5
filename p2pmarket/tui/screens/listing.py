"""A listing and its seller: only the facts the seller published, credit badges, reviews."""

from __future__ import annotations

from typing import ClassVar

from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Header, Static

from p2pmarket import money
from p2pmarket.market import shop
from p2pmarket.services.market import pricing, shops
from p2pmarket.services.trust import offers
from p2pmarket.tui.plain import data, line, said
from p2pmarket.tui.screens.base import MarketScreen
from p2pmarket.tui.widgets.footer import MarketFooter
from p2pmarket.tui.widgets.price_band import price_line
from p2pmarket.tui.widgets.profile import badges, profile_facts


def offer_rules(policy: offers.OfferPolicy) -> str:
    """Price firm or offers welcome; its seller also reads the floor (buyers never do)."""
    if policy.firm:
        return "Price firm: no offers." if not policy.yours else "Price firm: you take no offers."
    if not policy.yours:
        return "Offers welcome (n)."
    if policy.floor is None:
        return "Offers welcome: no floor set."
    return f"Offers welcome: offers below {money.fmt(policy.floor)} are declined automatically."


class ListingScreen(MarketScreen):
    NAME = "Listing"
    BINDINGS: ClassVar = [
        Binding("b", "order", "Order"),
        Binding("n", "offer", "Make offer"),
        Binding("w", "message", "Message seller"),
        Binding("f", "watch", "Watch"),
        Binding("greater_than_sign", "next_photo", "Next photo"),
    ]

    def __init__(self, listing_id: int) -> None:
        super().__init__()
        self.listing_id = listing_id
        self.listing: shops.ListingView | None = None
        self.policy: offers.OfferPolicy | None = None
        self.bookable = False
        self.photo_index = 0
        self._photo_drawn: tuple | None = None  # (photo, index, count) on screen

    def compose(self) -> ComposeResult:
        yield Header()
        with VerticalScroll(id="listing"):
            yield Static("", id="listing-head")
            yield Vertical(id="listing-photo")
            yield Static("", id="listing-description")
            with Horizontal(id="listing-actions"):
                yield Button("Order (b)", variant="primary", id="order")
                yield Button("Offer (n)", id="offer")
                yield Button("Message seller (w)", id="message")
            yield Static("", id="seller-badges")
            yield Static("", id="seller-facts")
            yield Static("", id="seller-reviews")
        yield MarketFooter()

    def reload(self) -> None:
        page = self.attempt(lambda: self.actor.listing_page(self.listing_id))
        if page is None:
            return
        self.listing = v = page.listing
        self.policy = None if page.hours is not None else page.policy
        self.refresh_bindings()
        profile, reviews = page.seller, page.reviews
        head = Text()
        head.append(str(line(v.title, 500)), style="bold")
        head.append(f"\n{money.fmt(v.price)} per {v.unit}", style="bold green")
        self.bookable = page.hours is not None
        if self.bookable:
            head.append(f" · {v.kind} · {v.category} · {said(v.status)}")
        else:
            head.append(f" · {v.kind} · {v.category} · {v.quantity} available · {said(v.status)}")
        if v.condition:
            head.append(f" · {pricing.condition_label(v.condition)}")
        if page.price is not None:
            head.append_text(price_line(v.price, page.price))
        if self.bookable:
            head.append(f"\nBook a slot: {page.hours.week} ({page.hours.zone})")
        elif self.policy is not None:
            head.append(f"\n{offer_rules(self.policy)}", style="dim")
        self.query_one("#offer", Button).disabled = not self.check_action("offer", ())
        if v.rentable:
            head.append(f"\nRented by the day · deposit {money.fmt(v.deposit or 0)}")
        label = "Book a slot (b)" if self.bookable else "Rent (b)" if v.rentable else "Order (b)"
        self.query_one("#order", Button).label = label
        self.query_one("#listing-head", Static).update(head)
        self._show_photo()
        self.query_one("#listing-description", Static).update(
            data(v.description or "No description.", style="" if v.description else "dim")
        )
        who = Text()
        who.append(f"Seller @{profile.handle}", style="bold")
        if profile.distance:
            who.append(f" · {profile.distance} away")
        who.append("\n")
        who.append_text(badges(profile))
        self.query_one("#seller-badges", Static).update(who)
        self.query_one("#seller-facts", Static).update(profile_facts(profile, self.market.wall))
        out = Text()
        out.append(f"Reviews ({len(reviews)})\n", style="bold")
        for r in reviews:
            out.append("★" * r.stars + "☆" * (5 - r.stars), style="yellow")
            out.append(f" @{r.author} · {self.market.wall(r.at)[:10]}\n", style="dim")
            out.append(data(r.text + "\n"))
        if not reviews:
            out.append("No reviews yet.", style="dim")
        self.query_one("#seller-reviews", Static).update(out)

    def _show_photo(self) -> None:
        """The current photo, drawn (textual-image), and which of how many it is. Shown
        again with the same photo (a reload), it stays as drawn; another replaces it (the
        old widgets go once removed: the new ones have no ids that could clash)."""
        from p2pmarket.tui.widgets.photo import photo

        shown = self.listing.photos if self.listing else ()
        if shown:
            self.photo_index %= len(shown)
        drawn = (shown[self.photo_index] if shown else None, self.photo_index, len(shown))
        if drawn == self._photo_drawn:
            return
        self._photo_drawn = drawn
        box = self.query_one("#listing-photo", Vertical)
        box.remove_children()
        box.display = bool(shown)
        if not shown:
            return
        path = shop.photo_file(self.market.market, shown[self.photo_index])
        box.mount(photo(path, graphics=self.app.graphics, classes="photo"))
        more = " · > next" if len(shown) > 1 else ""
        box.mount(
            Static(
                Text(f"Photo {self.photo_index + 1} of {len(shown)}{more}", style="dim"),
                classes="photo-caption",
            )
        )

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """The "next photo" key shows only for a listing with more than one; "make offer"
        only for someone else's listing that takes offers."""
        if action == "next_photo":
            return self.listing is not None and len(self.listing.photos) > 1
        if action == "offer":
            return not (self.policy and (self.policy.firm or self.policy.yours))
        return True

    def action_next_photo(self) -> None:
        self.photo_index += 1
        self._show_photo()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        if event.button.id == "order":
            self.action_order()
        elif event.button.id == "offer":
            self.action_offer()
        elif event.button.id == "message":
            self.action_message()

    def action_order(self) -> None:
        from p2pmarket.tui.screens.booking import BookingScreen
        from p2pmarket.tui.screens.orders import OrdersScreen
        from p2pmarket.tui.screens.rental import RentalScreen

        v = self.listing
        if self.bookable and v is not None:
            self.market.open(BookingScreen(self.listing_id, v.title, v.price))
            return
        if v is not None and v.rentable:
            self.market.open(RentalScreen(self.listing_id, v.title))
            return

        if v is None:
            return
        from p2pmarket.tui.widgets.ask import AskModal
        from p2pmarket.tui.widgets.offer import parse_quantity

        def asked(count: str | None) -> None:
            quantity = None if count is None else self.attempt(lambda: parse_quantity(count))
            if quantity is None:
                return
            made = self.attempt(lambda: self.actor.create_order(self.listing_id, quantity))
            if made is not None:
                self.market.tell(
                    f"Order #{made.id} requested: {made.quantity} × {money.fmt(made.unit_price)}"
                    f" = {money.fmt(made.amount)}. When @{made.seller} accepts, you pay it "
                    "(y on Orders, with a second confirmation)."
                )
                self.market.open(OrdersScreen(focus_order=made.id))

        question = (
            f"Order from @{v.seller}: how many ({v.unit}s)? {money.fmt(v.price)} per {v.unit}, "
            f"{v.quantity} left. The seller accepts first; you pay after."
        )
        self.app.push_screen(AskModal(question, placeholder="1", value="1"), asked)

    def action_offer(self) -> None:
        """Offer a price and quantity (trade mode with the seller); it shows in the chat."""
        from p2pmarket.tui.screens.chat import ChatScreen
        from p2pmarket.tui.widgets.offer import OfferForm

        listing = self.listing
        if listing is None:
            return

        def answered(terms) -> None:
            if terms is None:
                return
            made = self.attempt(
                lambda: self.actor.make_offer(listing.id, terms.price, terms.quantity, terms.note)
            )
            if made is None:
                return
            said = (
                "declined automatically: the seller takes no offers this low"
                if made.automatic
                else f"open for 48 h, waiting for @{made.to}"
            )
            terms = f"{money.fmt(made.unit_price)} × {made.quantity}"
            warning = f" Warning: {made.warning}" if made.warning else ""
            self.market.tell(f"Offer #{made.id}: {terms}, {said}.{warning}")
            self.market.open(ChatScreen(with_handle=listing.seller))

        question = (
            f"Your offer to @{listing.seller} for {listing.title} "
            f"(listed at {money.fmt(listing.price)} per {listing.unit}, {listing.quantity} left)"
        )
        self.app.push_screen(OfferForm(question), answered)

    def action_message(self) -> None:
        from p2pmarket.tui.screens.chat import ChatScreen

        if self.listing is not None:
            self.market.open(ChatScreen(with_handle=self.listing.seller))

    def action_watch(self) -> None:
        """Watch this listing (a price drop or its selling out comes to the inbox), or stop."""
        watched = self.attempt(self.actor.watched)
        if watched is None or self.listing is None:
            return
        if any(w.listing_id == self.listing_id for w in watched):
            if self.attempt(lambda: self.actor.unwatch_listing(self.listing_id)) is None:
                return
            self.market.tell(f"No longer watching #{self.listing_id}.")
            return
        if self.attempt(lambda: self.actor.watch_listing(self.listing_id)) is not None:
            self.market.tell(
                f"Watching #{self.listing_id}: a price drop or its selling out comes to your inbox."
            )
