"""Renting a camera end to end with the CLI, on the demo market (its clock pinned to
Sunday 2026-11-01 17:00 in Shanghai, 09:00 UTC): a period on its calendar, rent and
deposit into escrow, handover, a late return, a claim on the deposit and its answer."""

from tests.cli.test_bookings import flat


def _camera(cli) -> dict:
    listings = cli.json("listing", "list", "--seller", "gao_camera")["listings"]
    return next(x for x in listings if x["title"].startswith("Sony A7 III"))


def test_renting_a_camera_by_cli(demo_cli):
    cli = demo_cli
    camera = _camera(cli)
    lid = str(camera["id"])
    assert camera["deposit"] == 100000
    listed = cli.json(
        "listing",
        "add",
        "--as",
        "gao_camera",
        "--kind",
        "goods",
        "--category",
        "cameras",
        "--unit",
        "day",
        "--title",
        "Tripod",
        "--price",
        "20",
        "--deposit",
        "300",
    )
    assert listed["deposit"] == 30000
    wrong = cli(
        *("listing", "add", "--as", "demo", "--kind", "goods", "--category", "books"),
        *("--unit", "item", "--title", "A book", "--price", "5", "--deposit", "1"),
        code=2,
    )
    assert "A deposit is for goods rented by the day" in flat(wrong)

    order = cli.json(
        "order", "create", lid, "--as", "qian_student", "--from", "2026-11-10", "--to", "2026-11-12"
    )
    assert (order["status"], order["quantity"], order["deposit"]) == ("requested", 2, 100000)
    assert order["amount"] == 2 * camera["price"] + 100000
    oid = str(order["id"])
    taken = cli(
        "order",
        "create",
        lid,
        "--as",
        "chen_tutor",
        "--from",
        "2026-11-11",
        "--to",
        "2026-11-13",
        code=1,
    )
    assert "is rented on 2026-11-11; pick other days" in flat(taken)
    whole = cli("order", "create", lid, "--as", "chen_tutor", code=1)
    assert "rented by the day: pick the days" in flat(whole)
    cal = cli.json("listing", "calendar", lid, "--from", "2026-11-09", "--days", "4")
    assert cal["taken"] == ["2026-11-10", "2026-11-11"]

    cli("order", "accept", oid, "--as", "gao_camera")
    cli("wallet", "topup", "2000", "--as", "qian_student", "--key", "camera-fund")
    before = cli.json("wallet", "show", "--as", "qian_student")["balance"]
    preview = flat(cli("order", "pay", oid, "--as", "qian_student"))
    assert "The deposit ¥1,000.00 comes back within 2d 0h of the return" in preview
    cli("order", "pay", oid, "--as", "qian_student", "--confirm")
    assert cli.json("wallet", "show", "--as", "qian_student")["balance"] == before - order["amount"]
    refused = cli("order", "return", oid, "--as", "gao_camera", "--confirm", code=1)
    assert "it was not handed over yet" in flat(refused)

    first_day = {"P2PMARKET_NOW": "2026-11-10T01:00:00"}
    shown = cli.json("order", "handover", oid, "--as", "gao_camera", **first_day)
    assert shown["status"] == "handed_over"
    late = {"P2PMARKET_NOW": "2026-11-13T06:00:00"}  # 14:00 the day after the return day
    back_preview = flat(cli("order", "return", oid, "--as", "gao_camera", **late))
    assert f"The rent ¥{2 * camera['price'] // 100:,}.00 is released to you" in back_preview
    assert "Nothing moved" in back_preview
    back = cli.json("order", "return", oid, "--as", "gao_camera", "--confirm", **late)
    assert back["status"] == "returned"

    too_much = cli(
        "order",
        "claim",
        oid,
        "1001",
        "--reason",
        "x",
        "--as",
        "gao_camera",
        "--confirm",
        code=2,
        **late,
    )
    assert "at most the deposit, ¥1,000.00" in flat(too_much)
    claim_preview = flat(cli("order", "claim", oid, "--as", "gao_camera", **late))
    assert f"claim ¥{2 * camera['price'] // 100:,}.00 of the deposit ¥1,000.00" in claim_preview
    claimed = cli.json("order", "claim", oid, "--as", "gao_camera", "--confirm", **late)
    assert (claimed["status"], claimed["claim_reason"]) == ("claimed", "returned 2 days late")
    again = cli(
        "order",
        "claim",
        oid,
        "10",
        "--reason",
        "lens",
        "--as",
        "gao_camera",
        "--confirm",
        code=1,
        **late,
    )
    assert "one claim per rental" in flat(again)
    shown = flat(cli("order", "show", oid, "--as", "qian_student", **late))
    assert "deposit ¥1,000.00: claimed" in shown
    done = cli.json("order", "accept-claim", oid, "--as", "qian_student", "--confirm", **late)
    assert done["status"] == "completed"
    after = cli.json("wallet", "show", "--as", "qian_student", **late)["balance"]
    assert after == before - 4 * camera["price"]  # two days' rent and two late days
    assert cli.json("verify")["problems"] == []
