"""Plans end to end with the CLI, on the demo market (its clock pinned to Sunday
2026-11-01 17:00 in Shanghai): the ready wish of an afternoon with the kids."""

from tests.cli.test_bookings import flat

WISH = (
    "plan",
    "propose",
    "--as",
    "demo",
    "--legs",
    "babysitting,cooking-class,photography",
    "--date",
    "2026-12-05",
    "--from",
    "13:00",
    "--to",
    "19:00",
    "--area",
    "jingan",
)


def _balance(cli) -> int:
    return cli.json("wallet", "show", "--as", "demo")["balance"]


def test_the_demo_wish_proposes_booked_all_at_once(demo_cli):
    cli = demo_cli
    found = cli.json(*WISH)
    assert found["unfilled"] == []
    plans = found["plans"]
    assert [p["number"] for p in plans] == list(range(1, len(plans) + 1))
    assert 2 <= len(plans) <= 5
    best = plans[0]
    assert best["total"] == sum(leg["amount"] for leg in best["legs"])
    assert len({leg["seller"] for leg in best["legs"]}) == 3
    assert {leg["wish"] for leg in best["legs"]} == {
        "babysitting",
        "cooking-class",
        "photography",
    }
    assert best["why"].startswith(f"¥{best['total'] // 100:,}.00 in all · ")
    assert all(leg["where"].endswith("from jingan") for leg in best["legs"])

    before = _balance(cli)
    preview = flat(cli("plan", "book", "1", "--as", "demo"))
    for leg in best["legs"]:
        assert f"to {leg['seller']} for" in preview
    assert "Nothing moved. To book: p2pmarket plan book 1 --as demo --confirm" in preview
    assert _balance(cli) == before

    booked = cli.json("plan", "book", "1", "--as", "demo", "--confirm")
    assert booked["status"] == "booked" and booked["id"] == best["id"]
    assert [leg["status"] for leg in booked["legs"]] == ["paid"] * 3
    assert _balance(cli) == before - best["total"]
    # Each leg is an order of its own, with its own seller and steps.
    leg = booked["legs"][0]
    order = cli.json("order", "show", str(leg["order_id"]), "--as", "demo")
    assert (order["seller"], order["status"], order["amount"]) == (
        leg["seller"],
        "paid",
        leg["amount"],
    )
    assert cli.json("plan", "list", "--as", "demo")["plans"][0]["id"] == booked["id"]
    again = cli("plan", "book", str(booked["id"]), "--as", "demo", "--confirm", code=1)
    assert "is booked already" in flat(again)
    gone = cli("plan", "book", "4", "--as", "demo", "--confirm", code=2)
    assert flat(gone) == (
        "error: You have no proposal 4 and no plan #4: propose one first "
        "(p2pmarket plan propose …)."
    )


def test_a_seller_cancels_a_leg_and_a_replacement_is_booked(demo_cli):
    cli = demo_cli
    cli(*WISH)
    booked = cli.json("plan", "book", "1", "--as", "demo", "--confirm")
    sitter = next(leg for leg in booked["legs"] if leg["wish"] == "babysitting")
    cli("order", "cancel", str(sitter["order_id"]), "--as", sitter["seller"])
    shown = cli.json("plan", "show", str(booked["id"]), "--as", "demo")
    position = str(sitter["position"])
    offered = shown["replacements"][position]
    assert offered and all(o["seller"] != sitter["seller"] for o in offered)
    assert [leg["status"] for leg in shown["legs"]].count("paid") == 2
    said = flat(cli("plan", "show", str(booked["id"]), "--as", "demo"))
    assert f"Leg {position} was cancelled and refunded. Still fitting in its place:" in said
    before = _balance(cli)
    preview = flat(cli("plan", "replace", str(booked["id"]), position, "--as", "demo"))
    assert "Nothing moved." in preview and _balance(cli) == before
    after = cli.json("plan", "replace", str(booked["id"]), position, "--as", "demo", "--confirm")
    assert [leg["status"] for leg in after["legs"]] == ["paid"] * 3
    assert _balance(cli) == before - offered[0]["amount"]


def test_a_taken_slot_fails_the_whole_plan_and_says_propose_again(demo_cli):
    cli = demo_cli
    best = cli.json(*WISH)["plans"][0]
    leg = best["legs"][-1]
    at = f"2026-12-05T{leg['at'][:5]}"
    cli("order", "create", str(leg["listing_id"]), "--as", "sara_dogs", "--at", at)
    before = _balance(cli)
    refused = flat(cli("plan", "book", "1", "--as", "demo", "--confirm", code=1))
    assert refused.startswith(f"error: Plan #{best['id']} was not booked: leg 3 ")
    assert "was taken meanwhile. Nothing was booked or paid; propose again" in refused
    assert _balance(cli) == before
    assert cli.json("plan", "show", "1", "--as", "demo")["status"] == "proposed"


def test_an_empty_leg_and_bad_input_are_one_sentence(demo_cli):
    cli = demo_cli

    def wish(legs: str, day: str, *more: str, code: int = 0):
        return cli(
            "plan", "propose", "--as", "demo", "--legs", legs, "--date", day, *more, code=code
        )

    found = cli.json(
        "plan", "propose", "--as", "demo", "--legs", "tailoring", "--date", "2026-12-05"
    )
    assert found["plans"] == []
    assert found["unfilled"][0].startswith("1. No tailoring within 5 km")
    bad = wish("cleaning", "2026-12-05", "--from", "18:00", "--to", "13:00", code=2)
    assert flat(bad) == "error: The window 18:00–13:00 ends before it starts."
    unknown = wish("cleaning", "5/12", code=2)
    assert flat(unknown) == "error: '5/12' is not a day like 2026-12-05."
    nameless = wish("×3", "2026-12-05", code=2)
    assert flat(nameless) == "error: '×3' names no leg: words first, e.g. babysitting ×2."
    over = wish("cleaning", "2026-12-05", "--budget", "-3", code=2)
    assert "error: " in flat(over)
    assert "<str>" not in cli("plan", "propose", "--help").stdout
