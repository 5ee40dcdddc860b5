"""Random rentals, steps and clock moves on a real store: a deposit is always in escrow,
back with the renter or paid out to the owner — never lost, never paid twice — the ledger
balances and `verify` stays clean after every step."""

from datetime import timedelta

from hypothesis import HealthCheck, event, settings
from hypothesis import strategies as st
from hypothesis.stateful import initialize, invariant, rule
from sqlmodel import col, select

from p2pmarket.clock import HOUR
from p2pmarket.models import Account, Entry, Order, Role, Transfer, User
from p2pmarket.services.market import availability
from p2pmarket.services.money import ledger, orders
from p2pmarket.services.money.orders.rules import HELD, held
from p2pmarket.services.records import audit
from tests.conftest import DISPUTE, make_user
from tests.services.machine import MarketMachine
from tests.services.test_rentals import DEPOSIT, make_camera

# The step each side takes next in each status (a claim and a resolution take more).
NEXT = {
    "requested": ("accept", "owner"),
    "accepted": ("pay", "renter"),
    "paid": ("handover", "owner"),
    "handed_over": ("return", "owner"),
    "returned": ("claim", "owner"),
    "claimed": ("accept-claim", "renter"),
    "disputed": ("resolve", "mediator"),
}


class RentalMachine(MarketMachine):
    @initialize()
    def open_market(self):
        self.open_store()
        owner = make_user(self.store, self.clock, "gao", verified=True)
        self.renters = [
            make_user(self.store, self.clock, f"renter{i}", verified=True) for i in (0, 1)
        ]
        self.mediator = make_user(self.store, self.clock, "mei", role=Role.mediator, verified=True)
        self.camera = make_camera(self.store, self.clock, owner).id
        with self.store.write() as s:
            for r in self.renters:
                ledger.topup(s, self.clock, r.id, 1_000_000, f"fund-{r.id}")

    def teardown(self):
        # The whole check (every chain, signature and the escrow against the orders) once
        # per run; the cheaper ledger invariants run after every step.
        try:
            with self.store.read() as s:
                assert audit.verify(s, pages=False).problems == []
        finally:
            super().teardown()

    def _order_ids(self):
        with self.store.read() as s:
            return s.exec(select(Order.id).order_by(col(Order.id))).all()

    @rule(renter=st.sampled_from([0, 1]), ahead=st.integers(0, 6), days=st.integers(1, 3))
    def rent(self, renter, ahead, days):
        who = self.renters[renter].id
        first = availability.today(self.clock, self.settings.zone) + timedelta(days=ahead)
        made = self._try(
            lambda s: orders.rent_item(
                s,
                self.clock,
                self.settings,
                s.get(User, who),
                self.camera,
                first,
                first + timedelta(days=days),
            )
        )
        event("rented" if made else "rent refused")

    @rule(
        index=st.integers(0, 20),
        share=st.integers(0, DEPOSIT + 1),
        how=st.integers(0, 2),
        steps=st.integers(1, 4),
    )
    def advance(self, index, share, how, steps):
        """The next `steps` steps of an order by the side whose turn it is (claims and
        resolutions of any size, in or out of range)."""
        ids = self._order_ids()
        if not ids:
            return
        order_id = ids[index % len(ids)]

        def go(s):
            order = s.get(Order, order_id)
            if order.status not in NEXT:
                return None
            step, side = NEXT[order.status]
            actor_id = {
                "owner": order.seller_id,
                "renter": order.buyer_id,
                "mediator": self.mediator.id,
            }[side]
            kw = {}
            if step == "claim":
                kw["claim"] = orders.Claim(share or None, "damage" if how else None)
            if step == "resolve":
                kw["resolution"] = ("release", "refund", "split")[how]
                kw["split"] = share if how == 2 else None
            return orders.act(
                s,
                self.clock,
                self.settings,
                s.get(User, actor_id),
                order_id,
                step,
                opening=DISPUTE,
                **kw,
            )

        for _ in range(steps):
            done = self._try(go)
            event(f"advance to {done.status}" if done else "advance refused")

    @rule(index=st.integers(0, 20), step=st.sampled_from(["dispute", "revoke", "cancel"]))
    def leave_the_path(self, index, step):
        """The renter disputes or revokes; the owner cancels."""
        ids = self._order_ids()
        if not ids:
            return
        order_id = ids[index % len(ids)]

        def go(s):
            order = s.get(Order, order_id)
            actor = order.seller_id if step == "cancel" else order.buyer_id
            who = s.get(User, actor)
            return orders.act(s, self.clock, self.settings, who, order_id, step, opening=DISPUTE)

        event(f"{step} {'done' if self._try(go) else 'refused'}")

    @rule(hours=st.integers(1, 72))
    def wait(self, hours):
        self.clock.advance(hours * HOUR)
        with self.store.write() as s:
            orders.tick(s, self.clock, self.settings)

    @invariant()
    def every_deposit_is_in_escrow_returned_or_paid_out_once(self):
        with self.store.read() as s:
            for order in s.exec(select(Order)).all():
                rows = s.exec(
                    select(Entry.amount, Account.user_id, Account.order_id)
                    .join(Transfer, col(Transfer.id) == col(Entry.transfer_id))
                    .join(Account, col(Account.id) == col(Entry.account_id))
                    .where(Transfer.order_id == order.id)
                ).all()
                paid_in = sum(a for a, _, o in rows if o == order.id and a > 0)
                in_escrow = sum(a for a, _, o in rows if o == order.id)
                to_owner = sum(a for a, u, _ in rows if u == order.seller_id)
                to_renter = sum(a for a, u, _ in rows if u == order.buyer_id)
                assert paid_in in (0, order.amount), order.id  # paid once, whole
                assert in_escrow == (held(order) if order.status in HELD else 0), order.id
                assert to_owner + to_renter + in_escrow == 0, order.id
                assert 0 <= to_owner <= order.amount, order.id
                if order.returned_at is not None:  # the rent went out exactly once
                    assert to_owner >= order.amount - order.deposit, order.id
                    deposit_out = to_owner - (order.amount - order.deposit)
                    assert deposit_out <= order.deposit, order.id


RentalMachine.TestCase.settings = settings(
    max_examples=30,
    stateful_step_count=25,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestRentals = RentalMachine.TestCase
