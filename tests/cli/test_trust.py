"""The trust commands end to end: contacts, chat, modes, requests, privacy, profile, credit."""

import pytest

from p2pmarket import config as config_mod
from p2pmarket.services.trust import accounts, privacy
from p2pmarket.store.engine import Store


@pytest.fixture
def market(cli):
    for handle, lat in (("amy", "31.2290"), ("bob", "31.2400"), ("cyd", "31.2300")):
        cli(
            "user",
            "add",
            handle,
            "--name",
            f"{handle.title()} Real",
            "--lat",
            lat,
            "--lon",
            "121.448",
        )
        cli("user", "verify", handle, "--as", "amy")  # amy, the first, is the operator
    return cli


def _seen_distance(cli, viewer: str, other: str) -> str:
    store = Store.open(config_mod.resolve(home=cli.home))
    try:
        with store.read() as session:
            me, them = accounts.user_row(session, viewer), accounts.user_row(session, other)
            km = privacy.distance_km(me.lat, me.lon, them.public_lat, them.public_lon)
    finally:
        store.close()
    return privacy.rounded_distance(km)


def test_chat_flow_with_modes_and_privacy(market):
    cli = market
    sent = cli.json("chat", "send", "bob", "hello \x1b[2J[bold]bob[/bold]", "--as", "amy")
    assert sent["body"] == "hello [2J[bold]bob[/bold]"
    assert cli.json("chat", "list", "--as", "bob")["conversations"][0]["unread"] == 1
    shown = cli.json("chat", "show", "amy", "--as", "bob")
    # From bob's home to where others see amy (her public point), rounded.
    assert shown["other"]["distance"] == _seen_distance(cli, "bob", "amy")
    assert "real_name" not in shown["other"] and "Amy Real" not in str(shown)
    assert shown["money"]["allowed"] and shown["money"]["limit"] == 200_00
    out = cli("chat", "show", "amy", "--as", "bob").stdout
    assert "[bold]bob[/bold]" in out  # user text printed as text, never markup
    assert cli.json("chat", "list", "--as", "bob")["conversations"][0]["unread"] == 0

    refused = cli("chat", "request", "bob", "50", "--as", "amy", code=1)
    assert "trade mode" in refused.output
    assert "switched to trade mode" in cli("chat", "mode", "bob", "trade", "--as", "amy").stdout
    cli("chat", "mode", "bob", "money", "--as", "amy", code=2)
    over = cli("chat", "request", "bob", "250", "--as", "amy", code=1)
    assert "¥200.00" in over.output and "stranger" in over.output
    req = cli.json("chat", "request", "bob", "170", "--note", "tuning", "--as", "amy")
    assert req["warning"] and "85 %" in req["warning"]
    assert cli.json("chat", "show", "amy", "--as", "bob")["order_id"] == req["order_id"]


def test_contacts_block_and_reach(market):
    cli = market
    assert cli.json("contact", "set-tier", "amy", "blocked", "--as", "bob")["tier"] == "blocked"
    cli("contact", "set-tier", "amy", "friend", "--as", "bob", code=2)
    assert cli.json("contact", "list", "--as", "bob")["contacts"] == [
        {
            "handle": "amy",
            "tier": "blocked",
            "updated_at": pytest.approx(0, abs=10**10),
            "last_trade": None,
        }
    ]
    assert (
        "does not take messages" in cli("chat", "send", "bob", "hi", "--as", "amy", code=1).output
    )
    assert cli.json("profile", "bob", "--as", "amy") == {
        "handle": "bob",
        "distance": None,
        "blocked": True,
    }


def test_privacy_profile_and_credit(market):
    cli = market
    facts = cli.json("privacy", "show", "--as", "amy")["facts"]
    assert {f["fact"]: f["published"] for f in facts}["real_name"] is False
    cli("privacy", "set", "real_name", "on", "--as", "amy")
    assert cli.json("profile", "amy", "--as", "bob")["real_name"] == "Amy Real"
    assert "Amy Real" in cli("profile", "amy", "--as", "bob").stdout
    cli("privacy", "set", "home", "on", "--as", "amy", code=2)

    assert cli.json("credit", "show", "amy") | {"history": []} == {
        "handle": "amy",
        "transaction": 600,
        "social": 650,
        "history": [],
    }
    cli("privacy", "set", "credit", "off", "--as", "amy")
    assert "does not publish" in cli("credit", "show", "amy", code=1).output
    assert cli.json("credit", "show", "amy", "--as", "amy")["social"] == 650

    for fact in ("real_name", "verified", "trades", "member_since"):
        cli("privacy", "set", fact, "off", "--as", "amy")
    assert "can't pay" in cli("privacy", "show", "--as", "amy").stdout
    cli("chat", "mode", "bob", "trade", "--as", "amy")
    locked = cli("chat", "request", "bob", "10", "--as", "amy", code=1)
    assert "publish no facts" in locked.output


def test_report_once_and_review_needs_a_completed_order(market):
    cli = market
    made = cli.json("report", "cyd", "spam in chat", "--as", "amy")
    assert made["status"] == "open"
    assert "one report per person" in cli("report", "cyd", "again", "--as", "amy", code=1).output
    cli("review", "999", "5", "great", "--as", "amy", code=2)
    cli("review", "1", "9", "great", "--as", "amy", code=2)
