"""The money lock: who may pay whom, and how much, among strangers.

Before any payment request and any payment, `check_money(payer, payee, amount)`
decides. In order, each a refusal that says the limit, why, and what lifts it:

1. blocked either way → never;
2. both sides verified (real name checked by the operator);
3. both sides publish at least one fact (someone who hides everything can't be judged);
4. both credit scores (transaction and social) of both sides ≥ the threshold (550);
5. (chat money actions) the conversation is in trade mode;
6. the amount, plus what the payer already has open (paid, not yet completed)
   with this payee, fits the limit: the smaller of
     - the payer's tier for the payee: stranger / acquaintance / trusted limits,
     - each side's account stage: new accounts start with a small cap that
       rises with account age and completed trades with different people.
At ≥ 80 % of the limit the gate passes with a warning. All numbers are Settings.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

from sqlalchemy import func
from sqlmodel import Session, col, select

from p2pmarket import money
from p2pmarket.clock import DAY, Clock
from p2pmarket.config import Settings
from p2pmarket.errors import Invalid, Refused
from p2pmarket.models import ChatMode, Conversation, Order, OrderStatus, Tier, User
from p2pmarket.services.trust import contacts, credit, privacy

# Money the payer has in escrow towards the payee (paid, not yet settled).
OPEN_STATUSES = (OrderStatus.paid, OrderStatus.delivered, OrderStatus.disputed)
NEXT_TIER = {Tier.stranger: Tier.acquaintance, Tier.acquaintance: Tier.trusted}


@dataclass(frozen=True)
class Gate:
    """The gate passed. `warning` is set near the limit (shown before confirming)."""

    warning: str | None
    limit: int
    open_amount: int
    tier: str

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class AccountStage:
    index: int
    stages: int
    cap: int | None
    age_days: int
    partners: int
    # How the cap rises next, e.g. "once the account is 7 days old (in 3 days)"; None at the top.
    rises: str | None
    next_cap: int | None

    def to_json(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class MoneyStatus:
    """What one side may do with money towards the other, for headers and profiles."""

    allowed: bool
    tier: str
    limit: int
    open_amount: int
    available: int
    why: str

    def to_json(self) -> dict:
        return asdict(self)


def tier_limit(settings: Settings, tier: Tier) -> int:
    return {
        Tier.blocked: 0,
        Tier.stranger: settings.limit_stranger,
        Tier.acquaintance: settings.limit_acquaintance,
        Tier.trusted: settings.limit_trusted,
    }[tier]


def _people(n: int) -> str:
    return "1 different person" if n == 1 else f"{n} different people"


def account_stage(session: Session, clock: Clock, user: User, settings: Settings) -> AccountStage:
    now = clock.now()
    age_days = max(0, now - user.created_at) // DAY
    partners = credit.trade_stats(session, user.id).partners
    stages = settings.account_stages
    index = 0
    for i, (days, people, _cap) in enumerate(stages):
        if age_days >= days and partners >= people:
            index = i
    cap = stages[index][2]
    rises = next_cap = None
    if index + 1 < len(stages):
        days, people, next_cap = stages[index + 1]
        needs = []
        if age_days < days:
            wait = user.created_at + days * DAY - now
            needs.append(f"is {days} days old (in {max(1, -(-wait // DAY))} days)")
        if partners < people:
            needs.append(f"has completed trades with {_people(people)} ({partners} so far)")
        rises = "once the account " + " and ".join(needs)
    return AccountStage(
        index=index,
        stages=len(stages),
        cap=cap,
        age_days=age_days,
        partners=partners,
        rises=rises,
        next_cap=next_cap,
    )


def open_amount(session: Session, payer_id: int, payee_id: int) -> int:
    total = session.exec(
        select(func.coalesce(func.sum(Order.amount), 0)).where(
            Order.buyer_id == payer_id,
            Order.seller_id == payee_id,
            col(Order.status).in_(OPEN_STATUSES),
        )
    ).one()
    return int(total)


class _Voice:
    """Phrases a refusal for whoever acts: "you"/"your" for them, handles otherwise."""

    def __init__(self, actor: User | None) -> None:
        self.actor_id = actor.id if actor else None

    def who(self, user: User) -> str:
        return "you" if user.id == self.actor_id else user.handle

    def whose(self, user: User) -> str:
        return "your" if user.id == self.actor_id else f"{user.handle}'s"

    def is_(self, user: User) -> str:
        return "you are" if user.id == self.actor_id else f"{user.handle} is"


def _eligible(
    session: Session,
    user: User,
    voice: _Voice,
    settings: Settings,
    scores: credit.Scores | None = None,
) -> None:
    """Rules about one side alone: verified, some fact published, credit above threshold.

    `scores`: the user's recorded scores when the caller has read them already.
    """
    if not user.verified:
        raise Refused(
            "unverified",
            f"Money is locked: {voice.whose(user)} real name is not verified, so the limit "
            f"is {money.fmt(0)}. The market operator lifts it with "
            f"`p2pmarket user verify {user.handle} --as OPERATOR`.",
        )
    if not privacy.published_any(user):
        raise Refused(
            "no_published_facts",
            f"Money is locked: {voice.who(user)} publish{'' if voice.who(user) == 'you' else 'es'}"
            f" no facts at all, so nobody can judge the trade and the limit is "
            f"{money.fmt(0)}. Publish at least one (e.g. `p2pmarket privacy set verified on "
            f"--as {user.handle}`).",
        )
    # The recorded scores: kept current by every event that moves credit, and what
    # `credit show` tells the user, so the gate and the screen never disagree.
    scores = scores or credit.scores(session, user.id)
    threshold = settings.credit_threshold
    for name, score in (("transaction", scores.transaction), ("social", scores.social)):
        if score < threshold:
            lift = (
                "completed paid orders, on-time delivery and account age raise it"
                if name == "transaction"
                else "good reviews raise it; upheld reports, spam and blocks lower it"
            )
            raise Refused(
                "credit_too_low",
                f"Money is locked: {voice.whose(user)} {name} credit {score} is below "
                f"{threshold}, so the limit is {money.fmt(0)}. It unlocks at {threshold}; "
                f"{lift} (`p2pmarket credit show {user.handle}`).",
            )


def _require_trade_mode(session: Session, payer: User, payee: User) -> None:
    a, b = sorted((payer.id, payee.id))
    conv = session.exec(
        select(Conversation).where(Conversation.a_id == a, Conversation.b_id == b)
    ).first()
    if conv is None or conv.mode != ChatMode.trade:
        raise Refused(
            "chat_mode",
            f"Money actions need trade mode; the conversation between {payer.handle} and "
            f"{payee.handle} is in chat mode (limit {money.fmt(0)}). Either side switches with "
            f"`p2pmarket chat mode <handle> trade`.",
        )


def _limit(
    session: Session,
    clock: Clock,
    payer: User,
    payee: User,
    voice: _Voice,
    settings: Settings,
) -> tuple[Tier, int, str, str]:
    """(tier, effective limit, why this limit, what lifts it)."""
    tier = contacts.tier(session, payer.id, payee.id)
    limit = tier_limit(settings, tier)
    why = f"{voice.who(payer)} classif{'y' if voice.who(payer) == 'you' else 'ies'} " + (
        f"{payee.handle} as {'an' if tier == Tier.acquaintance else 'a'} {tier}"
    )
    upper = NEXT_TIER.get(tier)
    if upper is not None:
        lift = (
            f"{voice.who(payer).capitalize()} can raise it to "
            f"{money.fmt(tier_limit(settings, upper))} by marking {payee.handle} {upper} "
            f"(`p2pmarket contact set-tier {payee.handle} {upper} --as {payer.handle}`)."
        )
    else:
        lift = "That is the highest tier; wait for open orders between you to complete."
    for side in (payer, payee):
        stage = account_stage(session, clock, side, settings)
        if stage.cap is not None and stage.cap < limit:
            limit = stage.cap
            why = (
                f"{voice.whose(side)} account is new (stage {stage.index + 1} of "
                f"{stage.stages}: {stage.age_days} days old, traded with "
                f"{_people(stage.partners)})"
            )
            lift = (
                f"It rises to "
                f"{'no cap' if stage.next_cap is None else money.fmt(stage.next_cap)} "
                f"{stage.rises}."
            )
    return tier, limit, why, lift


def check_eligible(
    session: Session,
    clock: Clock,
    payer: User,
    payee: User,
    *,
    settings: Settings,
    actor: User | None = None,
) -> _Voice:
    """The part of the gate every payment passes, chat or listing: not blocked either way,
    both verified, both publishing some fact, both with credit at the threshold.

    An order from a listing stops here: its public price and the escrow protect the buyer,
    and the tier limits are the chat's money lock (`check_money`).
    """
    if payer.id == payee.id:
        raise Invalid("pay_self", "You can't pay yourself.")
    voice = _Voice(actor or payer)
    if contacts.blocked_between(session, payer.id, payee.id):
        raise Refused(
            "blocked",
            f"Money is locked between {payer.handle} and {payee.handle}: one has blocked the "
            f"other, so the limit is {money.fmt(0)}. Only the one who blocked can lift it "
            f"(`p2pmarket contact set-tier <handle> stranger`).",
        )
    # Both sides' scores in one statement: this runs on every payment.
    scores = credit.scores_for(session, (payer.id, payee.id))
    _eligible(session, payer, voice, settings, scores[payer.id])
    _eligible(session, payee, voice, settings, scores[payee.id])
    return voice


def check_money(
    session: Session,
    clock: Clock,
    payer: User,
    payee: User,
    amount: int,
    *,
    settings: Settings,
    actor: User | None = None,
    require_trade_mode: bool = False,
) -> Gate:
    """May `payer` pay (or be asked to pay) `amount` to `payee`? Refused, or a Gate.

    `actor` is who is asking (phrases refusals as "you"); defaults to the payer.
    `require_trade_mode` for money actions started in chat.
    """
    money.check(amount)
    voice = check_eligible(session, clock, payer, payee, settings=settings, actor=actor)
    if require_trade_mode:
        _require_trade_mode(session, payer, payee)
    tier, limit, why, lift = _limit(session, clock, payer, payee, voice, settings)
    already = open_amount(session, payer.id, payee.id)
    total = already + amount
    if total > limit:
        over = (
            f"with {money.fmt(already)} already open, {money.fmt(amount)} would make "
            f"{money.fmt(total)}"
            if already
            else f"{money.fmt(amount)} is more"
        )
        raise Refused(
            "over_limit",
            f"Over the limit: {voice.who(payer)} may have at most {money.fmt(limit)} open "
            f"with {payee.handle} because {why}; {over}. {lift}",
        )
    warning = None
    if total * 100 >= limit * settings.limit_warn_percent:
        warning = (
            f"Near the limit: this makes {money.fmt(total)} of the {money.fmt(limit)} "
            f"{voice.who(payer)} may have open with {payee.handle} "
            f"({total * 100 // limit} %), because {why}."
        )
    return Gate(warning=warning, limit=limit, open_amount=already, tier=str(tier))


def money_status(
    session: Session,
    clock: Clock,
    payer: User,
    payee: User,
    *,
    settings: Settings,
    actor: User | None = None,
) -> MoneyStatus:
    """How much `payer` could pay `payee` now, and why: for chat headers and profiles."""
    voice = _Voice(actor or payer)
    tier = contacts.tier(session, payer.id, payee.id)
    already = open_amount(session, payer.id, payee.id)
    try:
        if contacts.blocked_between(session, payer.id, payee.id):
            raise Refused("blocked", "Money is locked: one of you has blocked the other.")
        _eligible(session, payer, voice, settings)
        _eligible(session, payee, voice, settings)
    except Refused as exc:
        return MoneyStatus(False, str(tier), 0, already, 0, exc.message)
    tier, limit, why, lift = _limit(session, clock, payer, payee, voice, settings)
    available = max(0, limit - already)
    return MoneyStatus(
        True,
        str(tier),
        limit,
        already,
        available,
        f"Up to {money.fmt(limit)} open because {why}. {lift}",
    )
