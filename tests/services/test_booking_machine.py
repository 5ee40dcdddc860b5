"""Random bookings, steps and clock moves on a real store: one seller's live slots never
overlap (buffers included), each live booking holds exactly its blocks, ended ones none."""

from itertools import pairwise

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import initialize, invariant, rule
from sqlmodel import col, select

from p2pmarket.clock import MINUTE
from p2pmarket.models import Kind, Order, SlotClaim, Unit, User
from p2pmarket.services.market import availability
from p2pmarket.services.money import ledger, orders
from p2pmarket.services.money.orders.rules import OPEN
from tests.conftest import DISPUTE, make_listing, make_user
from tests.services.machine import MarketMachine

ZONE = "Asia/Shanghai"
STEPS = ["accept", "pay", "deliver", "confirm", "cancel", "revoke", "dispute"]


class BookingMachine(MarketMachine):
    @initialize()
    def open_market(self):
        self.open_store()
        self.seller = make_user(self.store, self.clock, "lin", verified=True)
        self.buyers = [
            make_user(self.store, self.clock, f"buyer{i}", verified=True) for i in range(2)
        ]
        lesson = make_listing(self.store, self.clock, self.seller, quantity=1)
        walk = make_listing(
            self.store,
            self.clock,
            self.seller,
            kind=Kind.time,
            title="Walk",
            category="dog-walking",
            unit=Unit.session,
            price=5000,
        )
        self.buffers = {}
        with self.store.write() as s:
            me = s.get(User, self.seller.id)
            for listing, slot, after, before in ((lesson, None, 15, 0), (walk, 45, 10, 5)):
                availability.set_hours(
                    s,
                    self.clock,
                    me,
                    listing.id,
                    "mon-sun 08:00-12:00 13:00-18:00",
                    zone=ZONE,
                    slot_minutes=slot,
                    buffer_after=after,
                    buffer_before=before,
                )
                self.buffers[listing.id] = (before * MINUTE, after * MINUTE)
            for b in self.buyers:
                ledger.topup(s, self.clock, b.id, 10_000_00, f"fund-{b.id}")
        self.listings = [lesson.id, walk.id]

    @rule(
        listing=st.sampled_from([0, 1]),
        buyer=st.sampled_from([0, 1]),
        pick=st.integers(0, 40),
        count=st.integers(1, 2),
    )
    def book(self, listing, buyer, pick, count):
        listing_id = self.listings[listing]
        with self.store.read() as s:
            hours = availability.hours_of(s, listing_id, ZONE)
            offered = availability.offered(hours, self.clock.now(), self.clock.now() + 4 * 86400)
        if not offered:
            return
        start = offered[pick % len(offered)].start
        who = self.buyers[buyer].id
        made = self._try(
            lambda s: orders.book_slot(
                s, self.clock, self.settings, s.get(User, who), listing_id, start, count
            )
        )
        event("booked" if made else "booking refused")

    @rule(step=st.sampled_from(STEPS), index=st.integers(0, 30))
    def act(self, step, index):
        with self.store.read() as s:
            ids = s.exec(select(Order.id).order_by(col(Order.id))).all()
        if not ids:
            return
        order_id = ids[index % len(ids)]

        def go(s):
            order = s.get(Order, order_id)
            actor_id = order.seller_id if step in ("accept", "deliver") else order.buyer_id
            if step == "cancel" and index % 2:
                actor_id = order.seller_id
            actor = s.get(User, actor_id)
            return orders.act(s, self.clock, self.settings, actor, order_id, step, opening=DISPUTE)

        done = self._try(go)
        event(f"{step} {'done' if done else 'refused'}")

    @rule(index=st.integers(0, 30))
    def advance(self, index):
        """The next step of an open booking, by the side whose turn it is."""
        with self.store.read() as s:
            ids = s.exec(
                select(Order.id).where(col(Order.status).in_(OPEN)).order_by(col(Order.id))
            ).all()
        if not ids:
            return
        order_id = ids[index % len(ids)]

        def go(s):
            order = s.get(Order, order_id)
            step, side = {
                "requested": ("accept", order.seller_id),
                "accepted": ("pay", order.buyer_id),
                "paid": ("deliver", order.seller_id),
                "delivered": ("confirm", order.buyer_id),
                "disputed": ("dispute", order.buyer_id),
            }[order.status]
            actor = s.get(User, side)
            return orders.act(s, self.clock, self.settings, actor, order_id, step, opening=DISPUTE)

        done = self._try(go)
        event(f"advance {'done' if done else 'refused'}")

    @rule(minutes=st.integers(1, 36 * 60))
    def wait(self, minutes):
        self.clock.advance(minutes * MINUTE)
        with self.store.write() as s:
            orders.tick(s, self.clock, self.settings)

    @invariant()
    def live_slots_never_overlap_and_hold_their_blocks(self):
        with self.store.read() as s:
            live = s.exec(
                select(Order).where(col(Order.slot_start).is_not(None), col(Order.status).in_(OPEN))
            ).all()
            claims = s.exec(select(SlotClaim)).all()
        spans = sorted(
            (
                o.slot_start - self.buffers[o.listing_id][0],
                o.slot_end + self.buffers[o.listing_id][1],
                o.id,
            )
            for o in live
        )
        for (_, end, a), (start, _, b) in pairwise(spans):
            assert end <= start, (a, b)
        held = {}
        for c in claims:
            held.setdefault(c.order_id, []).append(c.block)
        assert set(held) == {o.id for o in live}
        for low, high, order_id in spans:
            assert sorted(held[order_id]) == list(availability.blocks((low, high)))


BookingMachine.TestCase.settings = settings(
    max_examples=20,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestBookings = BookingMachine.TestCase
