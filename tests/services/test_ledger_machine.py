"""Random markets, random acts, random clock jumps: the ledger invariants hold after every step."""

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import initialize, invariant, precondition, rule
from sqlalchemy import func
from sqlmodel import select

from p2pmarket.clock import DAY, HOUR
from p2pmarket.models import Kind, Order, OrderStatus, Role, Unit, User
from p2pmarket.services.money import ledger, orders
from tests.conftest import DISPUTE, make_listing, make_user
from tests.services.machine import MarketMachine

ACTIONS = ["accept", "pay", "deliver", "confirm", "cancel", "revoke", "dispute", "extend"]


class LedgerMachine(MarketMachine):
    @initialize()
    def open_market(self):
        self.open_store()
        self.users = [make_user(self.store, self.clock, f"user{i}") for i in range(3)]
        self.mediator = make_user(self.store, self.clock, "mediator", role=Role.mediator)
        self.listings = [
            make_listing(self.store, self.clock, self.users[i % 3], quantity=3, price=p)
            for i, p in enumerate((1000, 2550, 9999))
        ]
        self.listings.append(
            make_listing(
                self.store,
                self.clock,
                self.users[1],
                kind=Kind.goods,
                category="books",
                unit=Unit.item,
                title="Book",
                price=800,
                quantity=2,
            )
        )
        self.topped = 0

    @rule(who=st.integers(0, 2), amount=st.integers(1, 40_000), key=st.integers(0, 5))
    def topup(self, who, amount, key):
        self._try(lambda s: ledger.topup(s, self.clock, self.users[who].id, amount, f"t{key}"))

    @rule(who=st.integers(0, 2), amount=st.integers(1, 20_000))
    def withdraw(self, who, amount):
        self._try(
            lambda s: ledger.withdraw(
                s, self.clock, self.users[who].id, amount, f"w{self.clock.now()}-{who}-{amount}"
            )
        )

    @rule(who=st.integers(0, 2), listing=st.integers(0, 3), qty=st.integers(1, 2))
    def create(self, who, listing, qty):
        self._try(
            lambda s: orders.create_order(
                s, self.clock, s.get(User, self.users[who].id), self.listings[listing].id, qty
            )
        )

    @rule(who=st.integers(0, 1), listing=st.integers(0, 3), fund=st.booleans())
    def order_and_pay(self, who, listing, fund):
        """A whole purchase up to escrow, so deep states are reached often."""
        seller = next(u for u in self.users if u.handle == self.listings[listing].seller)
        buyer = [u for u in self.users if u.id != seller.id][who]
        made = self._try(
            lambda s: orders.create_order(
                s, self.clock, s.get(User, buyer.id), self.listings[listing].id
            )
        )
        if made is None:
            return
        if fund:
            self._try(
                lambda s: ledger.topup(s, self.clock, buyer.id, made.amount, f"fund-{made.id}")
            )
        for actor, action in ((seller, "accept"), (buyer, "pay")):
            self._try(
                lambda s, actor=actor, action=action: orders.act(
                    s, self.clock, self.settings, s.get(User, actor.id), made.id, action
                )
            )

    @precondition(lambda self: self._order_ids())
    @rule(data=st.data(), confirm=st.booleans())
    def deliver(self, data, confirm):
        order_id = data.draw(st.sampled_from(self._order_ids()))
        with self.store.read() as s:
            order = s.get(Order, order_id)
        steps = [(order.seller_id, "deliver")] + ([(order.buyer_id, "confirm")] if confirm else [])
        for actor, action in steps:
            self._try(
                lambda s, actor=actor, action=action: orders.act(
                    s, self.clock, self.settings, s.get(User, actor), order_id, action
                )
            )

    @precondition(lambda self: self._order_ids())
    @rule(data=st.data(), action=st.sampled_from(ACTIONS), right_actor=st.booleans())
    def act(self, data, action, right_actor):
        """Mostly the party the rule names (so orders progress), sometimes anyone."""
        order_id = data.draw(st.sampled_from(self._order_ids()))
        with self.store.read() as s:
            order = s.get(Order, order_id)
        side = orders.TRANSITIONS[action].actor
        if right_actor:
            actor = order.seller_id if side == "seller" else order.buyer_id
        else:
            actor = self.users[data.draw(st.integers(0, 2))].id
        self._try(
            lambda s: orders.act(
                s,
                self.clock,
                self.settings,
                s.get(User, actor),
                order_id,
                action,
                opening=DISPUTE,
            )
        )

    @precondition(lambda self: self._order_ids())
    @rule(data=st.data(), how=st.sampled_from(["release", "refund", "split"]))
    def resolve(self, data, how):
        order_id = data.draw(st.sampled_from(self._order_ids()))
        split = data.draw(st.integers(1, 9998))
        self._try(
            lambda s: orders.act(
                s,
                self.clock,
                self.settings,
                s.get(User, self.mediator.id),
                order_id,
                "resolve",
                resolution=how,
                split=split,
            )
        )

    @rule(seconds=st.sampled_from([HOUR, 23 * HOUR, DAY, 3 * DAY, 7 * DAY, 11 * DAY]))
    def time_passes(self, seconds):
        self.clock.advance(seconds)
        with self.store.write() as s:
            orders.tick(s, self.clock, self.settings)

    def _order_ids(self):
        with self.store.read() as s:
            return list(s.exec(select(Order.id)))

    @invariant()
    def ledger_balances(self):
        if not hasattr(self, "store"):
            return
        with self.store.read() as s:
            t = ledger.totals(s)
            assert t.sum_of_balances == 0
            assert t.sum_of_entries == 0
            assert t.negative_wallets == 0
            held = s.exec(
                select(func.coalesce(func.sum(Order.amount), 0)).where(
                    Order.status.in_(list(orders.HELD))
                )
            ).one()
            assert t.escrow == held
            # Each account's balance is the sum of its entries (nothing bypasses the ledger).
            rows = s.exec(select(ledger.Account)).all()
            for account in rows:
                entries = s.exec(
                    select(func.coalesce(func.sum(ledger.Entry.amount), 0)).where(
                        ledger.Entry.account_id == account.id
                    )
                ).one()
                assert entries == account.balance

    @invariant()
    def terminal_orders_left_money_where_it_belongs(self):
        if not hasattr(self, "store"):
            return
        with self.store.read() as s:
            for order in s.exec(select(Order)):
                moved = s.exec(
                    select(ledger.Transfer.kind).where(ledger.Transfer.order_id == order.id)
                ).all()
                expected = {
                    OrderStatus.requested: [],
                    OrderStatus.accepted: [],
                    OrderStatus.cancelled: [],
                    OrderStatus.paid: ["pay"],
                    OrderStatus.delivered: ["pay"],
                    OrderStatus.disputed: ["pay"],
                    OrderStatus.completed: ["pay", "release"],
                    OrderStatus.refunded: ["pay", "refund"],
                    OrderStatus.resolved: ["pay", "split"],
                }[order.status]
                assert sorted(moved) == sorted(expected), (order.status, moved)


LedgerMachine.TestCase.settings = settings(
    max_examples=30,
    stateful_step_count=40,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
)
TestLedger = LedgerMachine.TestCase
