"""Plans: a wish proposed as up to five plans, one of them booked and paid at once, a
cancelled leg replaced. Each method is one transaction; the rules are the services'."""

from __future__ import annotations

from typing import TYPE_CHECKING

from p2pmarket.market.base import ActorBase
from p2pmarket.services.money import orders, plans

if TYPE_CHECKING:
    from sqlmodel import Session

    from p2pmarket.models import User


class PlanCases(ActorBase):
    """The plan use cases of `market.Actor`."""

    def wish(
        self,
        legs: str,
        day: str,
        start: str,
        end: str,
        *,
        area: str | None = None,
        party: int = 1,
        budget: str | None = None,
        min_credit: int | str | None = None,
        fixed_order: bool = False,
    ) -> plans.Wish:
        """A wish as typed (times on the market's wall clock), checked."""
        return plans.make_wish(
            legs,
            day,
            start,
            end,
            zone=self.market.settings.zone,
            area=area,
            party=party,
            budget=budget,
            min_credit=min_credit,
            fixed_order=fixed_order,
        )

    def propose_plans(self, wish: plans.Wish) -> plans.Proposals:
        """Up to five plans for my wish, cheapest first, remembered as my proposals 1..5."""

        def work(session: Session, me: User):
            return plans.propose(session, self.market.clock, self.market.settings, me, wish)

        return self._write(work)

    def preview_plan(self, ref: int) -> plans.PlanPreview:
        """What booking my proposal (or plan) `ref` would do; its checks run, nothing moves."""

        def work(session: Session, me: User):
            return plans.preview(session, self.market.clock, self.market.settings, me, ref)

        return self._write(work)

    def book_plan(self, ref: int) -> plans.PlanView:
        """Book and pay every leg of my proposal (or plan) `ref`: all of them, or none."""

        def work(session: Session, me: User):
            return plans.book(session, self.market.clock, self.market.settings, me, ref)

        return self._write(work)

    def plan(self, ref: int) -> plans.PlanView:
        """My plan #`ref` (else my proposal `ref`), with replacements for a cancelled leg."""
        with self._read() as (session, me):
            found = plans.mine(session, me, ref, number_first=False)
            return plans.plan_view(
                session, self.market.clock, self.market.settings, me, found, with_replacements=True
            )

    def list_plans(self) -> list[plans.PlanView]:
        """My waiting proposals (1 to 5), then my booked plans, newest first."""
        with self._read() as (session, me):
            return plans.list_plans(session, self.market.clock, self.market.settings, me)

    def preview_replacement(
        self, plan_id: int, position: int, pick: int = 1
    ) -> orders.PaymentPreview:
        """What replacing a cancelled leg would pay; its checks run, nothing moves."""

        def work(session: Session, me: User):
            return plans.preview_replace(
                session, self.market.clock, self.market.settings, me, plan_id, position, pick
            )

        return self._write(work)

    def replace_leg(self, plan_id: int, position: int, pick: int = 1) -> plans.PlanView:
        """Fill a cancelled leg of my booked plan with a replacement that still fits."""

        def work(session: Session, me: User):
            return plans.replace(
                session, self.market.clock, self.market.settings, me, plan_id, position, pick
            )

        return self._write(work)
