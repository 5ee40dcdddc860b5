"""What a money-moving step will do, said before it is done: the second confirmation's
sentence for a withdrawal, a confirmed delivery, a revoke and a mediator's decision (a
payment has its own, richer preview in orders.preview_payments)."""

from __future__ import annotations

from dataclasses import asdict, dataclass

from sqlmodel import Session

from p2pmarket import money
from p2pmarket.models import AccountKind
from p2pmarket.services.money import ledger
from p2pmarket.services.money.orders import OrderView
from p2pmarket.services.trust import credit


@dataclass(frozen=True)
class WithdrawalPreview:
    amount: int
    balance_before: int
    balance_after: int

    def to_json(self) -> dict:
        return asdict(self)


def withdrawal(session: Session, user_id: int, amount: int) -> WithdrawalPreview:
    """Taking `amount` out of `user_id`'s wallet; refused now if the wallet can't cover it."""
    money.check(amount)
    before = ledger.balance(session, user_id)
    if amount > before:
        raise ledger.short(AccountKind.wallet, before, amount)
    return WithdrawalPreview(amount, before, before - amount)


def step(order: OrderView, action: str, to_seller: int | None = None) -> str | None:
    """The sentence to confirm before `action` on `order`; None if the step moves no money.

    `to_seller` is a mediator's decision: the whole amount (release), 0 (refund) or a split
    (of what the escrow holds); what a buyer revoking a booked slot late leaves to the
    seller; or the amount an owner claims from a rental's deposit.
    """
    amount, head = money.fmt(order.amount), f"Order #{order.id} ({order.title})"
    rental = _rental_step(order, action, to_seller, head)
    if rental is not None:
        return rental
    if action == "confirm":
        return (
            f"{head}: confirm it was delivered. {amount} is released from escrow to "
            f"@{order.seller}; this can't be undone."
        )
    if action == "revoke" and order.slot_start is not None and not to_seller:
        return (
            f"{head}: cancel it for free (more than a day before it starts). {amount} goes "
            "back from escrow to you; your credit does not change."
        )
    if action == "revoke" and order.slot_start is not None:
        cost = -credit.rules()["transaction"]["refund_revoked"]
        return (
            f"{head}: cancel a day or less before it starts. {money.fmt(to_seller)} "
            f"goes to @{order.seller} as the late-cancellation fee and "
            f"{money.fmt(order.amount - to_seller)} back to you. Cancelling a paid order "
            f"lowers your transaction credit by {cost}."
        )
    if action == "revoke":
        cost = -credit.rules()["transaction"]["refund_revoked"]
        return (
            f"{head}: revoke the payment. {amount} goes back from escrow to you. Revoking a "
            f"paid order lowers your transaction credit by {cost}."
        )
    held = order.deposit if order.returned_at is not None else order.amount
    if action == "resolve" and to_seller is not None and 0 <= to_seller <= held:
        to_buyer = held - to_seller
        return (
            f"{head}: {money.fmt(to_seller)} to the seller @{order.seller} and "
            f"{money.fmt(to_buyer)} back to the buyer @{order.buyer}; final, recorded as "
            "your decision."
        )
    return None


def _rental_step(order: OrderView, action: str, amount: int | None, head: str) -> str | None:
    """The sentences of a rental's steps that move (or promise) money."""
    if order.deposit is None:
        return None
    deposit = money.fmt(order.deposit)
    if action == "return":
        rent = money.fmt(order.amount - order.deposit)
        then = (
            f" The deposit {deposit} goes back to @{order.buyer} when the claim window "
            "ends, unless you claim part of it first."
            if order.deposit
            else ""
        )
        return f"{head}: confirm it came back. The rent {rent} is released to you.{then}"
    if action == "claim" and amount is not None:
        return (
            f"{head}: claim {money.fmt(amount)} of the deposit {deposit}. @{order.buyer} "
            "accepts or disputes it (silence accepts); you can claim only once."
        )
    if action == "accept-claim":
        claimed = order.claim_amount or 0
        return (
            f"{head}: accept the claim. {money.fmt(claimed)} of the deposit goes to "
            f"@{order.seller} and {money.fmt(order.deposit - claimed)} back to you; final."
        )
    return None
