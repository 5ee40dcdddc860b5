"""Orders and escrow: a table of allowed transitions, each one a recorded, chained event.

requested → accepted → paid (money in the order's escrow) → delivered → completed.
Cancel before payment. The buyer may revoke a paid order inside the revoke window
and before delivery (refunded). A missed delivery deadline refunds; an unconfirmed
delivery completes when the confirm window ends (money released to the seller).
Either side may dispute before completion; a dispute pauses every timer and a
mediator resolves it: release, refund or split.

- rules.py: the transition table, its guards, and the event and payout every step shares
- steps.py: opening an order and `act`, one handler per step
- payments.py: paying into escrow, one order or a batch, and the preview before it
- timers.py: deadlines that run out, in `tick`, and the inbox notices before they do
- slots.py: orders holding a slot of the seller's time or a rented thing's days (claims,
  late cancellation, reminders)
- rentals.py: a rental's handover, return, claim on the deposit, and where the deposit is
- disputes.py: a dispute's reason, attached chat lines and statements, and the shares a
  mediator's decision gives
- handover.py: how goods change hands (a meet-up at a landmark, or shipping), agreed
- views.py: what the faces see of orders
- old_escrow.py: a pre-v7 store's single escrow split per order

What the rest of the market calls is named here.
"""

from p2pmarket.services.money.orders import disputes, handover
from p2pmarket.services.money.orders.old_escrow import old_escrow_to_split, split_old_escrow
from p2pmarket.services.money.orders.payments import pay, pay_many, preview_payment
from p2pmarket.services.money.orders.rentals import Claim, deposit_state, rent
from p2pmarket.services.money.orders.rules import HELD, TRANSITIONS
from p2pmarket.services.money.orders.slots import late_fee
from p2pmarket.services.money.orders.steps import (
    act,
    book_slot,
    create_order,
    from_offer,
    parse_resolution,
    rent_item,
    request_payment,
)
from p2pmarket.services.money.orders.timers import anything_due, notices, notify, tick
from p2pmarket.services.money.orders.views import (
    EventView,
    OrderView,
    PaymentPreview,
    allowed_actions,
    events,
    get_order,
    list_orders,
)

__all__ = [
    "HELD",
    "TRANSITIONS",
    "Claim",
    "EventView",
    "OrderView",
    "PaymentPreview",
    "act",
    "allowed_actions",
    "anything_due",
    "book_slot",
    "create_order",
    "deposit_state",
    "disputes",
    "events",
    "from_offer",
    "get_order",
    "handover",
    "late_fee",
    "list_orders",
    "notices",
    "notify",
    "old_escrow_to_split",
    "parse_resolution",
    "pay",
    "pay_many",
    "preview_payment",
    "rent",
    "rent_item",
    "request_payment",
    "split_old_escrow",
    "tick",
]
