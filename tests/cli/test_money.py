"""The money commands as scripts and people use them, on a real store."""

import pytest


def _seller_listing(cli, buyer="demo"):
    """An active listing of a verified seller other than the buyer."""
    users = {u["handle"]: u for u in cli.json("user", "list", "--limit", "100")["users"]}
    for listing in cli.json("listing", "list", "--limit", "1000")["listings"]:
        seller = users[listing["seller"]]
        if seller["handle"] != buyer and seller["verified"] and listing["price"] <= 50000:
            return listing
    raise AssertionError("no listing")


@pytest.fixture
def accepted(demo_cli):
    cli = demo_cli
    listing = _seller_listing(cli)
    cli("wallet", "topup", "2000", "--as", "demo", "--key", "fund-1")
    cli.start = _balance(cli)
    order = cli.json("order", "create", str(listing["id"]), "--as", "demo")
    cli("order", "accept", str(order["id"]), "--as", listing["seller"])
    return cli, order, listing


def _balance(cli, handle="demo"):
    return cli.json("wallet", "show", "--as", handle)["balance"]


def test_wallet_scripted_forms(demo_cli):
    start = _balance(demo_cli)
    out = demo_cli.json("wallet", "topup", "12.50", "--as", "demo", "--key", "k")
    assert (out["balance"], out["replayed"]) == (start + 1250, False)
    again = demo_cli.json("wallet", "topup", "12.50", "--as", "demo", "--key", "k")
    assert (again["balance"], again["replayed"]) == (start + 1250, True)
    refused = demo_cli("wallet", "topup", "13", "--as", "demo", "--key", "k", code=1)
    assert "different request" in refused.output
    too_much = demo_cli("wallet", "withdraw", str(start // 100 + 20), "--as", "demo", code=1)
    assert "missing" in too_much.output
    assert _balance(demo_cli) == start + 1250


def test_withdraw_needs_the_second_confirmation(demo_cli):
    start = _balance(demo_cli)
    preview = demo_cli("wallet", "withdraw", "10", "--as", "demo")
    assert "¥10.00 out of the market" in preview.output and "Nothing moved" in preview.output
    assert demo_cli.json("wallet", "withdraw", "10", "--as", "demo")["confirmed"] is False
    assert _balance(demo_cli) == start
    done = demo_cli.json("wallet", "withdraw", "10", "--as", "demo", "--confirm", "--key", "w")
    assert done["balance"] == start - 1000
    assert _balance(demo_cli) == start - 1000


def test_pay_needs_the_second_confirmation(accepted):
    cli, order, listing = accepted
    preview = cli("order", "pay", str(order["id"]), "--as", "demo")
    assert "Nothing moved" in preview.output and listing["seller"] in preview.output
    assert _balance(cli) == cli.start
    paid = cli.json("order", "pay", str(order["id"]), "--as", "demo", "--confirm")
    assert paid["status"] == "paid"
    assert _balance(cli) == cli.start - order["amount"]
    replay = cli.json("order", "pay", str(order["id"]), "--as", "demo", "--confirm")
    assert replay["replayed"] is True
    assert _balance(cli) == cli.start - order["amount"]


def test_paying_twice_is_refused_with_the_rule(accepted):
    cli, order, _ = accepted
    cli("order", "pay", str(order["id"]), "--as", "demo", "--confirm")
    out = cli("order", "pay", str(order["id"]), "--as", "demo", "--confirm", "--key", "x", code=1)
    assert "already paid" in out.output


def test_whole_trade_by_cli_with_time_moving(accepted):
    cli, order, listing = accepted
    oid = str(order["id"])
    cli("order", "pay", oid, "--as", "demo", "--confirm")
    seller_before = _balance(cli, listing["seller"])
    cli("order", "deliver", oid, "--as", listing["seller"])
    shown = cli.json("order", "show", oid, "--as", "demo")
    assert [e["to_status"] for e in shown["timeline"]] == [
        "requested",
        "accepted",
        "paid",
        "delivered",
    ]
    # Eleven days later nobody confirmed: the next command settles the timer.
    later = cli.json("order", "show", oid, "--as", "demo", P2PMARKET_NOW="2026-11-12T10:00:00")
    assert later["status"] == "completed"
    assert _balance(cli, listing["seller"]) == seller_before + order["amount"]


def test_revoke_outside_the_window_is_refused(accepted):
    cli, order, _ = accepted
    oid = str(order["id"])
    cli("order", "pay", oid, "--as", "demo", "--confirm")
    out = cli("order", "revoke", oid, "--as", "demo", code=1, P2PMARKET_NOW="2026-11-02T09:00:01")
    assert "revoke window closed" in out.output
    # Inside the window: what would happen, then nothing moved until --confirm.
    preview = " ".join(cli("order", "revoke", oid, "--as", "demo").output.split())
    assert "goes back from escrow to you" in preview and "Nothing moved" in preview
    assert cli.json("order", "show", oid, "--as", "demo")["status"] == "paid"
    assert cli.json("order", "revoke", oid, "--as", "demo", "--confirm")["status"] == "refunded"


def test_dispute_with_a_reason_a_statement_and_a_mediator_split(accepted):
    cli, order, listing = accepted
    oid, seller = str(order["id"]), listing["seller"]
    cli("order", "pay", oid, "--as", "demo", "--confirm")
    seller_before = _balance(cli, seller)
    line = cli.json("chat", "send", "demo", "Where are you? [b]I wait[/b]", "--as", seller)
    old = cli("order", "dispute", oid, "--as", seller, code=2)
    assert f"A dispute needs a reason: say in one line what went wrong (order dispute {oid} " in (
        old.output
    )
    foreign = cli(
        "order", "dispute", oid, "--reason", "x", "--attach", "99999", "--as", seller, code=1
    )
    assert "no message #99999 in your chat with @demo" in foreign.output
    assert cli.json("order", "show", oid, "--as", "demo")["status"] == "paid"
    reason = ("--reason", "The buyer never came", "--attach", str(line["id"]))
    assert cli.json("order", "dispute", oid, *reason, "--as", seller)["status"] == "disputed"
    later = {"P2PMARKET_NOW": "2026-11-03T08:59:00"}  # 47 h 59 min after the opening
    said = cli("order", "statement", oid, "I was there at [red]nine[/red]", "--as", "demo", **later)
    assert "Statement by @demo" in said.output and "I was there at [red]nine[/red]" in said.output
    again = cli("order", "statement", oid, "And again", "--as", "demo", code=1, **later)
    assert "one per side" in again.output
    closed = {"P2PMARKET_NOW": "2026-11-03T09:00:00"}
    late = cli("order", "statement", oid, "Me too", "--as", seller, code=1, **closed)
    assert "statement window of order" in late.output
    case = cli.json("order", "show", oid, "--as", "mei_mediator")["dispute"]
    assert (case["opened_by"], case["reason"]) == (seller, "The buyer never came")
    assert [m["body"] for m in case["attached"]] == ["Where are you? [b]I wait[/b]"]
    assert [(s["author"], s["text"]) for s in case["statements"]] == [
        ("demo", "I was there at [red]nine[/red]")
    ]
    assert set(case["credit"]) == {"demo", seller}
    assert cli.json("order", "list", "--as", "mei_mediator", "--side", "mediating")["orders"]
    cli("order", "resolve", oid, "split", "--as", "mei_mediator", code=2)
    said = cli.json("order", "resolve", oid, "split", "1", "--as", "mei_mediator")["preview"]
    assert f"¥1.00 to the seller @{listing['seller']}" in said
    done = cli.json("order", "resolve", oid, "split", "1", "--as", "mei_mediator", "--confirm")
    assert done["status"] == "resolved"
    assert _balance(cli, listing["seller"]) == seller_before + 100


def test_pay_several_orders_in_one_commit(demo_cli):
    cli = demo_cli
    listing = _seller_listing(cli)
    spare = _balance(cli)
    cli("wallet", "withdraw", f"{spare // 100}.{spare % 100:02d}", "--as", "demo", "--confirm")
    cli("wallet", "topup", str(listing["price"] * 2 // 100 + 1), "--as", "demo")
    ids = []
    for _ in range(3):
        o = cli.json("order", "create", str(listing["id"]), "--as", "demo")
        cli("order", "accept", str(o["id"]), "--as", listing["seller"])
        ids.append(str(o["id"]))
    preview = cli.json("order", "pay", *ids, "--as", "demo")
    assert preview["total"] == 3 * listing["price"] and preview["confirmed"] is False
    out = cli("order", "pay", *ids, "--as", "demo", "--confirm", code=1)
    assert out.output.count("paid.") == 2 and "Not enough money" in out.output
    statuses = [cli.json("order", "show", i, "--as", "demo")["status"] for i in ids]
    assert statuses == ["paid", "paid", "accepted"]


def test_order_refusals_name_the_rule(demo_cli):
    mine = demo_cli.json("listing", "list", "--seller", "demo")["listings"][0]
    out = demo_cli("order", "create", str(mine["id"]), "--as", "demo", code=1)
    assert "own listing" in out.output
    demo_cli("order", "show", "999", "--as", "demo", code=2)
    demo_cli("order", "list", "--as", "demo", "--side", "sideways", code=2)
