"""Trust among strangers: `contact`, `chat`, `privacy`, `credit`, `review`, `report`, `profile`."""

from __future__ import annotations

import typer

from p2pmarket import money
from p2pmarket.cli.context import AsOption, JsonOption, Later, ctx_of, emit, fact, say, table
from p2pmarket.clock import iso

trust = Later("p2pmarket.market.trust")
chat = Later("p2pmarket.services.trust.chat")
contacts = Later("p2pmarket.services.trust.contacts")
privacy = Later("p2pmarket.services.trust.privacy")

contact_app = typer.Typer(help="Classify people: blocked, stranger, acquaintance, trusted.")
chat_app = typer.Typer(help="Conversations, chat/trade mode, payment requests.")
privacy_app = typer.Typer(help="Which facts about you others may see.")
credit_app = typer.Typer(help="Transaction and social credit, with their history.")


@contact_app.command("set-tier")
def set_tier(
    ctx: typer.Context, handle: str, tier: str, as_: str = AsOption, as_json: bool = JsonOption
) -> None:
    """Classify HANDLE; the tier sets how much money can move between you."""
    c = ctx_of(ctx)
    new = contacts.parse_tier(tier)
    view = c.actor(as_).set_tier(handle, new)
    emit(view.to_json(), as_json, lambda: say(f"{view.handle} is now {view.tier} to you."))


@contact_app.command("list")
def contact_list(ctx: typer.Context, as_: str = AsOption, as_json: bool = JsonOption) -> None:
    """Everyone you classified or traded with, with your last trade."""
    rows = ctx_of(ctx).actor(as_).contacts()
    emit(
        {"contacts": [r.to_json() for r in rows]},
        as_json,
        lambda: table(
            ["handle", "tier", "since", "last trade"],
            [
                [
                    r.handle,
                    r.tier,
                    iso(r.updated_at) if r.updated_at else "-",
                    r.last_trade.said() if r.last_trade else "-",
                ]
                for r in rows
            ],
        ),
    )


@chat_app.command("send")
def send(
    ctx: typer.Context,
    handle: str,
    text: str,
    listing: int | None = typer.Option(None, "--listing", help="About this listing."),
    order: int | None = typer.Option(None, "--order", help="About this order."),
    as_: str = AsOption,
    as_json: bool = JsonOption,
) -> None:
    """Send HANDLE a message."""
    sent = ctx_of(ctx).actor(as_).send_message(handle, text, listing_id=listing, order_id=order)
    emit(
        sent.to_json(),
        as_json,
        lambda: say(f"Sent to {sent.to} (message #{sent.message.id})."),
    )


def _line(message: chat.MessageView, now: int) -> str:
    """A message's text; an offer's line also says where the offer stands now."""
    if message.offer is None:
        return message.body
    return f"{message.body} [{message.offer.state(now)}]"


def _render_conversation(view: chat.ConversationView, now: int) -> None:
    facts = [f"{k}: {fact(k, v)}" for k, v in view.other.lines()]
    say(f"{view.other.handle} — {'; '.join(facts)}")
    say(f"Mode: {view.mode}. {view.money.why}")
    if not view.messages:
        say("No messages yet.")
        return
    table(
        ["#", "when", "from", "message"],
        [
            [
                m.id,
                iso(m.at),
                m.sender if m.kind == "text" else f"({m.kind})",
                _line(m, now),
            ]
            for m in view.messages
        ],
    )


@chat_app.command("show")
def show(
    ctx: typer.Context,
    handle: str,
    limit: int = typer.Option(50, "--limit", min=1, max=1000),
    as_: str = AsOption,
    as_json: bool = JsonOption,
) -> None:
    """Show the conversation with HANDLE (marks it read)."""
    c = ctx_of(ctx)
    view = c.actor(as_).conversation(handle, limit=limit).view
    emit(view.to_json(), as_json, lambda: _render_conversation(view, c.clock.now()))


@chat_app.command("list")
def chat_list(ctx: typer.Context, as_: str = AsOption, as_json: bool = JsonOption) -> None:
    """Your conversations, most recent first, with unread counts."""
    rows = ctx_of(ctx).actor(as_).conversations()
    emit(
        {"conversations": [r.to_json() for r in rows]},
        as_json,
        lambda: table(
            ["with", "mode", "unread", "last", "when"],
            [[r.other, r.mode, r.unread, r.last, iso(r.last_at)] for r in rows],
        ),
    )


@chat_app.command("mode")
def mode(
    ctx: typer.Context, handle: str, to: str, as_: str = AsOption, as_json: bool = JsonOption
) -> None:
    """Switch the conversation with HANDLE to chat or trade mode (both sides see it)."""
    c = ctx_of(ctx)
    target = chat.parse_mode(to)
    line = c.actor(as_).set_chat_mode(handle, target)
    emit(line.to_json(), as_json, lambda: say(line.body))


@chat_app.command("request")
def request(
    ctx: typer.Context,
    handle: str,
    amount: str,
    listing: int | None = typer.Option(None, "--listing", help="For this listing of yours."),
    note: str = typer.Option("", "--note", help="What the money is for."),
    as_: str = AsOption,
    as_json: bool = JsonOption,
) -> None:
    """Ask HANDLE to pay AMOUNT (trade mode; they pay with `order pay`)."""
    c = ctx_of(ctx)
    minor = money.parse(amount)
    req = c.actor(as_).request_payment(handle, minor, listing_id=listing, note=note)

    def render() -> None:
        say(req.message.body)
        if req.warning:
            say(f"warning: {req.warning}")

    emit(req.to_json(), as_json, render)


def review(
    ctx: typer.Context,
    order: int,
    stars: int,
    text: str,
    as_: str = AsOption,
    as_json: bool = JsonOption,
) -> None:
    """Review the other side of a completed paid ORDER (1-5 STARS)."""
    view = ctx_of(ctx).actor(as_).review(order, stars, text)
    emit(
        view.to_json(),
        as_json,
        lambda: say(f"Reviewed {view.subject}: {view.stars}/5 for order #{view.order_id}."),
    )


def report(
    ctx: typer.Context, handle: str, reason: str, as_: str = AsOption, as_json: bool = JsonOption
) -> None:
    """Report HANDLE to the mediators (one report per person counts)."""
    view = ctx_of(ctx).actor(as_).report(handle, reason)
    emit(
        view.to_json(),
        as_json,
        lambda: say(f"Reported {view.target} (report #{view.id}); a mediator will decide."),
    )


@privacy_app.command("show")
def privacy_show(ctx: typer.Context, as_: str = AsOption, as_json: bool = JsonOption) -> None:
    """Which of your facts are published."""
    _emit_privacy(ctx_of(ctx).actor(as_).privacy().settings, as_json)


def _emit_privacy(view: privacy.PrivacyView, as_json: bool) -> None:
    def render() -> None:
        table(
            ["fact", "what", "published"],
            [[f.fact, f.label, "on" if f.published else "off"] for f in view.facts],
        )
        if view.note:
            say(view.note)

    emit(view.to_json(), as_json, render)


@privacy_app.command("set")
def privacy_set(
    ctx: typer.Context, fact: str, switch: str, as_: str = AsOption, as_json: bool = JsonOption
) -> None:
    """Publish (on) or hide (off) one FACT: real_name, verified, credit, trades, spent,
    member_since."""
    c = ctx_of(ctx)
    key, on = privacy.parse_fact(fact), privacy.parse_switch(switch)
    _emit_privacy(c.actor(as_).set_fact(key, on).settings, as_json)


def profile(
    ctx: typer.Context, handle: str, as_: str = AsOption, as_json: bool = JsonOption
) -> None:
    """What you may see of HANDLE: only the facts they publish, a rounded distance."""
    view = ctx_of(ctx).actor(as_).profile(handle)

    def render() -> None:
        rows = [["handle", view.handle], *([k, fact(k, v)] for k, v in view.lines())]
        table(["fact", "value"], rows)

    emit(view.to_json(), as_json, render)


@credit_app.command("show")
def credit_show(
    ctx: typer.Context,
    handle: str,
    as_: str | None = typer.Option(None, "--as", help="You: see your own even if unpublished."),
    limit: int = typer.Option(20, "--limit", min=0, max=10_000, help="History lines."),
    as_json: bool = JsonOption,
) -> None:
    """HANDLE's two credit scores and the events behind them (if they publish credit)."""
    c = ctx_of(ctx)
    if as_ is None:
        view = trust.credit_report(c.market, handle, limit=limit)
    else:
        view = c.actor(as_).credit_report(handle, limit=limit)

    def render() -> None:
        say(f"{view.handle}: transaction {view.scores.transaction}, social {view.scores.social}")
        table(
            ["when", "dimension", "change", "score", "why"],
            [
                [iso(e.at), e.dimension, f"{e.delta:+d}", e.score_after, e.reason]
                for e in reversed(view.history)  # newest first, as `history` and the TUI
            ],
        )

    emit(view.to_json(), as_json, render)


def register(app: typer.Typer) -> None:
    app.add_typer(contact_app, name="contact")
    app.add_typer(chat_app, name="chat")
    app.add_typer(privacy_app, name="privacy")
    app.add_typer(credit_app, name="credit")
    app.command("review")(review)
    app.command("report")(report)
    app.command("profile")(profile)
