"""Random haggling, ordering, paying and clock jumps on a real store: a listing never sells
more than its quantity through offers and orders together, an expired offer is never
accepted, and an order made from an offer is at exactly the offer's price and quantity."""

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    initialize,
    invariant,
    precondition,
    rule,
)
from sqlalchemy import func
from sqlmodel import col, select

from p2pmarket.clock import HOUR
from p2pmarket.errors import MarketError, Refused
from p2pmarket.models import ChatMode, Listing, Offer, OfferStatus, Order, OrderStatus, Tier, User
from p2pmarket.services.money import ledger, orders
from p2pmarket.services.trust import chat, contacts, offers
from tests.conftest import make_listing, make_user
from tests.services.machine import MarketMachine

STOCK = 3
# Orders whose stock is taken (paid and after, until a full refund puts it back).
SOLD = (
    OrderStatus.paid,
    OrderStatus.delivered,
    OrderStatus.disputed,
    OrderStatus.completed,
)
STEPS = ["accept", "decline", "counter", "withdraw"]


class OfferMachine(MarketMachine):
    @initialize()
    def open_market(self):
        self.open_store()
        self.seller = make_user(self.store, self.clock, "seller", verified=True)
        self.buyers = [
            make_user(self.store, self.clock, f"buyer{i}", verified=True) for i in range(2)
        ]
        self.listing = make_listing(
            self.store, self.clock, self.seller, price=50_00, quantity=STOCK
        )
        with self.store.write() as s:
            seller = s.get(User, self.seller.id)
            for buyer in self.buyers:
                me = s.get(User, buyer.id)
                chat.set_mode(s, self.clock, me, seller, ChatMode.trade)
                contacts.set_tier(s, self.clock, me, seller, Tier.trusted)
                ledger.topup(s, self.clock, buyer.id, 10_000_00, f"fund-{buyer.id}")
        self.offer_ids: list[int] = []
        self.order_ids: list[int] = []

    def _people(self) -> list[User]:
        return [self.seller, *self.buyers]

    @rule(who=st.integers(0, 1), price=st.integers(1, 80_00), qty=st.integers(1, STOCK + 1))
    def make_offer(self, who, price, qty):
        buyer = self.buyers[who]
        made = self._try(
            lambda s: offers.make_offer(
                s, self.clock, self.settings, s.get(User, buyer.id), self.listing.id, price, qty
            )
        )
        if made is not None:
            self.offer_ids.append(made.id)

    @precondition(lambda self: self.offer_ids)
    @rule(
        pick=st.integers(0, 50),
        wrong_side=st.booleans(),
        step=st.sampled_from(STEPS),
        price=st.integers(1, 80_00),
    )
    def answer(self, pick, wrong_side, step, price):
        offer_id = self.offer_ids[pick % len(self.offer_ids)]
        with self.store.read() as s:
            row = s.get(Offer, offer_id)
            ran_out = row.expires_at <= self.clock.now()
        # Mostly the side whose turn it is; sometimes the other, who must be refused.
        to_id = row.seller_id if row.by_id == row.buyer_id else row.buyer_id
        turn = row.by_id if step == "withdraw" else to_id
        other = row.buyer_id if turn == row.seller_id else row.seller_id
        actor = next(p for p in self._people() if p.id == (other if wrong_side else turn))
        try:
            with self.store.write() as s:
                done = offers.respond(
                    s,
                    self.clock,
                    self.settings,
                    s.get(User, actor.id),
                    offer_id,
                    step,
                    unit_price=price if step == "counter" else None,
                )
        except Refused as exc:
            if ran_out and row.status == OfferStatus.open and exc.code != "not_your_turn":
                assert exc.code == "offer_expired"
            return
        except MarketError:
            return
        assert not ran_out, "a step was taken on an offer past its 48 h"
        assert not wrong_side, "a step was taken by the side whose turn it was not"
        if step == "counter":
            self.offer_ids.append(done.id)
        if step == "accept":
            self.order_ids.append(done.order_id)

    @rule(who=st.integers(0, 1), qty=st.integers(1, STOCK))
    def order_at_list_price(self, who, qty):
        buyer = self.buyers[who]
        made = self._try(
            lambda s: orders.create_order(
                s, self.clock, s.get(User, buyer.id), self.listing.id, qty
            )
        )
        if made is None:
            return
        self.order_ids.append(made.id)
        self._try(
            lambda s: orders.act(
                s, self.clock, self.settings, s.get(User, self.seller.id), made.id, "accept"
            )
        )

    @precondition(lambda self: self.offer_ids)
    @rule(pick=st.integers(0, 50))
    def accept(self, pick):
        self.answer(pick, wrong_side=False, step="accept", price=1)

    @precondition(lambda self: self.order_ids)
    @rule(pick=st.integers(0, 50), action=st.sampled_from(["pay", "pay", "cancel", "revoke"]))
    def order_step(self, pick, action):
        order_id = self.order_ids[pick % len(self.order_ids)]
        with self.store.read() as s:
            buyer_id = s.get(Order, order_id).buyer_id
        self._try(
            lambda s: orders.act(
                s, self.clock, self.settings, s.get(User, buyer_id), order_id, action
            )
        )

    @rule(hours=st.integers(0, 60), tick=st.booleans())
    def time_passes(self, hours, tick):
        # Without a tick, offers past their 48 h are still open: steps must refuse them.
        self.clock.advance(hours * HOUR)
        if not tick:
            return
        with self.store.write() as s:
            offers.expire(s, self.clock)
            orders.tick(s, self.clock, self.settings)

    @invariant()
    def never_sells_more_than_its_quantity(self):
        if not hasattr(self, "store"):
            return
        with self.store.read() as s:
            sold = s.exec(
                select(func.coalesce(func.sum(Order.quantity), 0)).where(
                    Order.listing_id == self.listing.id, col(Order.status).in_(SOLD)
                )
            ).one()
            left = s.get(Listing, self.listing.id).quantity
        assert 0 <= sold <= STOCK and sold + left == STOCK

    @invariant()
    def orders_from_offers_keep_the_offer_price(self):
        if not hasattr(self, "store"):
            return
        with self.store.read() as s:
            pairs = s.exec(
                select(Offer, Order).join(Order, col(Order.id) == col(Offer.order_id))
            ).all()
            accepted = s.exec(
                select(func.count()).select_from(Offer).where(Offer.status == OfferStatus.accepted)
            ).one()
        assert len(pairs) == accepted
        for offer, order in pairs:
            assert (order.unit_price, order.quantity, order.amount) == (
                offer.unit_price,
                offer.quantity,
                offer.amount,
            )
            assert offer.decided_at < offer.expires_at


OfferMachine.TestCase.settings = settings(
    max_examples=30,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.filter_too_much],
)
test_offers_and_orders_never_oversell = OfferMachine.TestCase
