"""The money use cases of the Actor, on a real store: what each returns, and what it moved."""

import pytest
from sqlmodel import select

from p2pmarket.errors import Invalid, Refused
from p2pmarket.models import Entry, OrderEvent, Role, Transfer
from p2pmarket.services.money import ledger
from tests.conftest import PASSPHRASE, make_listing, make_user


@pytest.fixture
def people(market):
    """Bob buys, Lin sells two piano lessons, Mei mediates; Bob holds ¥1,000."""
    store, clock = market.store, market.clock
    for handle, role in (("bob", Role.member), ("lin", Role.member), ("mei", Role.mediator)):
        make_user(store, clock, handle, verified=True, role=role)
    lin = market.trusted_actor("lin")
    listing = make_listing(store, clock, lin.user, quantity=2)
    bob = market.actor("bob", PASSPHRASE)
    bob.topup(100_000, "fund")
    return bob, lin, market.trusted_actor("mei"), listing


def _accepted(people) -> int:
    bob, lin, _, listing = people
    made = bob.create_order(listing.id)
    lin.act(made.id, "accept")
    return made.id


def test_topup_and_withdraw_return_the_balance_they_left_and_replay_by_key(people):
    bob, *_ = people
    moved = bob.withdraw(30_000, "out-1")
    assert (moved.transfer.kind, moved.transfer.amount, moved.balance) == (
        "withdraw",
        30_000,
        70_000,
    )
    again = bob.withdraw(30_000, "out-1")
    assert again.transfer.replayed and again.balance == 70_000
    assert again.to_json()["balance"] == 70_000 and again.to_json()["replayed"] is True
    with pytest.raises(Refused, match="Not enough money"):
        bob.withdraw(70_001, "out-2")
    wallet = bob.wallet()
    assert (wallet.handle, wallet.balance) == ("bob", 70_000)
    assert [e["kind"] for e in wallet.entries] == ["withdraw", "topup"]
    assert len(bob.wallet(limit=1).entries) == 1


def test_order_now_offers_each_side_its_own_actions(people):
    bob, lin, mei, _ = people
    order_id = _accepted(people)
    assert bob.order_now(order_id).actions == ["cancel", "pay"]
    assert lin.order_now(order_id).actions == ["cancel"]
    with pytest.raises(Refused, match="between other people"):
        mei.order_now(order_id)
    assert [o.id for o in bob.list_orders(side="buying")] == [order_id]
    assert lin.list_orders(side="buying") == []


def test_order_now_carries_the_case_once_disputed_and_after_the_decision(people):
    bob, lin, mei, _ = people
    order_id = _accepted(people)
    bob.pay(order_id)
    assert bob.order_now(order_id).case is None
    bob.open_dispute(order_id, "It did not arrive")
    lin.add_statement(order_id, "I posted it on Monday")
    for side in (bob, lin, mei):
        case = side.order_now(order_id).case
        assert (case.reason, case.opened_by) == ("It did not arrive", "bob")
        assert [(s.author, s.text) for s in case.statements] == [("lin", "I posted it on Monday")]
    mei.resolve(order_id, "refund")
    assert bob.order_now(order_id).case.reason == "It did not arrive"


def test_preview_and_pay_refuse_with_the_same_sentence(people):
    bob, lin, _, listing = people
    requested = bob.create_order(listing.id).id
    with pytest.raises(Refused) as previewed:
        bob.preview_payments([requested])
    with pytest.raises(Refused) as paid:
        bob.pay(requested)
    assert previewed.value.message == paid.value.message
    assert "the seller has not accepted it yet" in paid.value.message
    lin.act(requested, "accept")
    (preview,) = bob.preview_payments([requested])
    assert (preview.amount, preview.to, preview.balance_after) == (15_000, "lin", 85_000)
    assert bob.wallet().balance == 100_000, "a preview moves nothing"


def test_single_pay_writes_what_a_batch_of_one_writes(people):
    """Both faces' single payments skip the batch engine; the records must not tell."""
    bob, *_ = people
    alone, batched = _accepted(people), _accepted(people)
    paid = bob.pay(alone)
    (in_batch,) = bob.pay_many([batched])
    assert paid.status == in_batch.status == "paid"
    assert (paid.revoke_until, paid.deliver_by) == (in_batch.revoke_until, in_batch.deliver_by)
    with bob.market.store.read() as s:

        def written(order_id):
            event = s.exec(
                select(OrderEvent).where(
                    OrderEvent.order_id == order_id, OrderEvent.to_status == "paid"
                )
            ).one()
            transfer = s.exec(select(Transfer).where(Transfer.order_id == order_id)).one()
            entries = s.exec(
                select(Entry.amount).where(Entry.transfer_id == transfer.id).order_by(Entry.id)
            ).all()
            return (
                (event.actor_id, event.from_status, event.amount, event.note),
                (
                    transfer.kind,
                    transfer.actor_id,
                    ledger.shown_key(transfer.idem_key).split(":")[-1],
                ),
                entries,
            )

        assert written(alone) == written(batched)
    assert bob.wallet().balance == 70_000
    assert bob.pay(alone).replayed, "the market's key for the order makes a retry safe"
    assert bob.wallet().balance == 70_000


def test_single_pay_refuses_a_sold_out_listing_and_charges_nothing(people):
    bob, lin, _, listing = people
    first, second = _accepted(people), _accepted(people)
    third = bob.create_order(listing.id)  # stock 2: a third one can be asked for, not paid
    bob.pay(first)
    bob.pay(second, key="my-key")
    assert bob.pay(second, key="my-key").replayed
    with pytest.raises(Refused, match="different request"):
        bob.pay(first, key="my-key")
    lin.act(third.id, "accept")
    with pytest.raises(Refused, match="sold out before you paid"):
        bob.pay(third.id)
    assert bob.wallet().balance == 70_000


@pytest.mark.parametrize(
    ("words", "amount", "seller_gets", "status"),
    [
        ("release", None, 15_000, "completed"),
        ("refund", None, 0, "refunded"),
        ("split", "40", 4_000, "resolved"),
    ],
)
def test_a_mediator_resolves_as_typed(people, words, amount, seller_gets, status):
    bob, lin, mei, _ = people
    order_id = _accepted(people)
    bob.pay(order_id)
    lin.open_dispute(order_id, "It did not arrive")
    assert [o.id for o in mei.mediation_queue().disputes] == [order_id]
    with pytest.raises(Refused, match="for mediators"):
        bob.mediation_queue()
    done = mei.resolve(order_id, words, amount)
    assert done.status == status
    assert lin.wallet().balance == seller_gets
    assert bob.wallet().balance == 100_000 - seller_gets


def test_split_needs_the_sellers_share(people):
    bob, _, mei, _ = people
    order_id = _accepted(people)
    bob.pay(order_id)
    bob.open_dispute(order_id, "It did not arrive")
    with pytest.raises(Invalid, match="split needs the seller's share"):
        mei.resolve(order_id, "split")
    with pytest.raises(Invalid, match="more than 0 and less than"):
        mei.resolve(order_id, "split", "150")
    assert mei.order(order_id).status == "disputed"
