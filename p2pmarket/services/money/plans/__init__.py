"""Plans: one wish, several legs from different sellers, booked and paid all at once.

- wish.py: the wish as typed (legs, day, window, area, party, budget, credit floor)
- fitting.py: fitting options into the day with travel between them, cheapest first (no store)
- planner.py: each leg's options from search and free slots; why a leg stays empty
- views.py: what the faces see (legs with where and when, a why per plan)
- booking.py: proposals remembered, a plan booked and paid in one transaction, a leg replaced
"""

from p2pmarket.services.money.plans.booking import (
    book,
    list_plans,
    mine,
    plan_view,
    preview,
    preview_replace,
    propose,
    replace,
)
from p2pmarket.services.money.plans.views import LegView, PlanPreview, PlanView, Proposals
from p2pmarket.services.money.plans.wish import Wish, make_wish

__all__ = [
    "LegView",
    "PlanPreview",
    "PlanView",
    "Proposals",
    "Wish",
    "book",
    "list_plans",
    "make_wish",
    "mine",
    "plan_view",
    "preview",
    "preview_replace",
    "propose",
    "replace",
]
