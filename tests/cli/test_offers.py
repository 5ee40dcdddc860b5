"""`p2pmarket offer …` end to end: make, counter, accept into an order, pay it; the lines
in the chat; the seller's floor and price firm; refusals and their exit codes."""

import re

import pytest


@pytest.fixture
def market(cli):
    """Amy (the operator) sells three hours of guitar at ¥120; Bob buys, in trade mode."""
    for handle, lat in (("amy", "31.2290"), ("bob", "31.2400")):
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
        cli("user", "verify", handle, "--as", "amy")
    listing = cli.json(
        "listing",
        "add",
        "--as",
        "amy",
        "--kind",
        "skill",
        "--title",
        "Guitar lessons",
        "--category",
        "guitar-lessons",
        "--price",
        "120",
        "--unit",
        "hour",
        "--quantity",
        "3",
    )
    cli("chat", "mode", "amy", "trade", "--as", "bob")
    cli("wallet", "topup", "500", "--as", "bob")
    return cli, listing["id"]


def test_haggle_accept_and_pay(market):
    cli, listing = market
    made = cli.json("offer", "make", str(listing), "90", "--as", "bob", "--note", "two Sundays")
    assert (made["status"], made["unit_price"], made["quantity"], made["to"]) == (
        "open",
        90_00,
        1,
        "amy",
    )
    countered = cli("offer", "counter", str(made["id"]), "100", "--qty", "2", "--as", "amy").stdout
    assert (
        "Offer #2 from amy to bob on listing" in countered and "¥100.00 × 2 = ¥200.00" in countered
    )
    listed = cli.json("offer", "list", "--as", "bob", "--open")["offers"]
    assert [(o["id"], o["by"], o["status"]) for o in listed] == [(2, "amy", "open")]
    accepted = cli.json("offer", "accept", "2", "--as", "bob")
    order_id = accepted["order_id"]
    assert accepted["status"] == "accepted" and isinstance(order_id, int)
    order = cli.json("order", "show", str(order_id), "--as", "bob")
    assert (order["status"], order["unit_price"], order["quantity"], order["amount"]) == (
        "accepted",
        100_00,
        2,
        200_00,
    )
    # The usual second confirmation: first the preview, then --confirm.
    preview = cli("order", "pay", str(order_id), "--as", "bob").stdout
    assert "¥200.00" in preview and "--confirm" in preview
    assert cli.json("order", "show", str(order_id), "--as", "bob")["status"] == "accepted"
    cli("order", "pay", str(order_id), "--as", "bob", "--confirm")
    assert cli.json("order", "show", str(order_id), "--as", "bob")["status"] == "paid"
    # Each offer line ends with where the offer stands now (table cells wrap: one line each).
    chat = cli("chat", "show", "bob", "--as", "amy").stdout
    squashed = re.sub(r"[\s│]", "", chat)
    assert "(offer)" in chat and "[countered]" in squashed
    assert f"[accepted:order#{order_id}]" in squashed
    lines = cli.json("chat", "show", "bob", "--as", "amy")["messages"]
    assert [m["offer"]["status"] for m in lines if m["offer"]] == ["countered", "accepted"]


def test_decline_withdraw_and_whose_turn(market):
    cli, listing = market
    first = cli.json("offer", "make", str(listing), "80", "--as", "bob")
    refused = cli("offer", "accept", str(first["id"]), "--as", "bob", code=1)
    assert "Only the one it was made to may accept offer #1." in refused.stderr
    assert "declined." in cli("offer", "decline", "1", "--as", "amy").stdout
    cli.json("offer", "make", str(listing), "85", "--as", "bob")
    assert cli.json("offer", "withdraw", "2", "--as", "bob")["status"] == "withdrawn"
    states = [o["status"] for o in cli.json("offer", "list", "--as", "amy")["offers"]]
    assert states == ["withdrawn", "declined"]
    assert "No offer #9" in cli("offer", "accept", "9", "--as", "amy", code=2).stderr


def test_floor_and_price_firm(market):
    cli, listing = market
    said = cli("offer", "policy", str(listing), "--as", "amy", "--floor", "100").stdout
    assert "offers below ¥100.00 are declined automatically" in said
    assert cli.json("offer", "policy", str(listing), "--as", "bob")["floor"] is None
    low = cli("offer", "make", str(listing), "99", "--as", "bob").stdout
    assert "declined automatically" in " ".join(low.split())
    cli("offer", "policy", str(listing), "--as", "amy", "--firm")
    firm = cli("offer", "make", str(listing), "110", "--as", "bob", code=1)
    assert "price firm" in firm.stderr and f"order create {listing}" in firm.stderr
    cli("offer", "policy", str(listing), "--as", "amy", "--offers", "--no-floor")
    assert cli.json("offer", "make", str(listing), "50", "--as", "bob")["status"] == "open"
    both = cli("offer", "policy", str(listing), "--as", "amy", "--floor", "1", "--no-floor", code=2)
    assert "not both" in both.stderr
    assert (
        "another seller"
        in cli("offer", "policy", str(listing), "--as", "bob", "--firm", code=1).stderr
    )


def test_bad_offers_are_one_line_and_change_nothing(market):
    cli, listing = market
    assert "plain amount" in cli("offer", "make", str(listing), "abc", "--as", "bob", code=2).stderr
    assert (
        "has 3 left"
        in cli("offer", "make", str(listing), "10", "--qty", "4", "--as", "bob", code=1).stderr
    )
    assert "own listing" in cli("offer", "make", str(listing), "10", "--as", "amy", code=1).stderr
    cli("chat", "mode", "amy", "chat", "--as", "bob")
    assert "trade mode" in cli("offer", "make", str(listing), "10", "--as", "bob", code=1).stderr
    assert cli.json("offer", "list", "--as", "bob")["offers"] == []
    cli("chat", "mode", "amy", "trade", "--as", "bob")
    hostile = cli("offer", "make", str(listing), "10", "--as", "bob", "--note", "[red]x\x1b[2J")
    shown = cli.json("chat", "show", "bob", "--as", "amy")["messages"][-1]["body"]
    assert hostile.exit_code == 0 and shown.endswith("Note: [red]x[2J")
