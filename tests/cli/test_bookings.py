"""Booking a lesson end to end with the CLI, on the demo market (its clock pinned to
Sunday 2026-11-01 17:00 in Shanghai, 09:00 UTC)."""


def flat(result) -> str:
    """What the CLI printed, its lines (wrapped at the terminal's width) joined again."""
    return " ".join(result.output.split())


def _lesson(cli) -> dict:
    listings = cli.json("listing", "list", "--seller", "lin_piano")["listings"]
    return next(x for x in listings if x["unit"] == "hour" and x["kind"] == "skill")


def test_booking_a_lesson_by_cli(demo_cli):
    cli = demo_cli
    lesson = _lesson(cli)
    lid = str(lesson["id"])
    hours = cli.json(
        "listing",
        "hours",
        lid,
        "mon-fri 09:00-18:00, sat 10:00-14:00",
        "--as",
        "lin_piano",
        "--buffer",
        "15",
        "--notice",
        "12",
        "--window",
        "30",
    )
    assert hours["week"] == "mon-fri 09:00-18:00, sat 10:00-14:00"
    assert (hours["buffer_after"], hours["notice_hours"], hours["window_days"]) == (15, 12, 30)
    shown = flat(cli("listing", "slots", lid, "--days", "2"))
    assert "2026-11-02 09:00 (UTC+08:00)" in shown
    refused = cli("listing", "hours", lid, "mon-fry 09:00-10:00", "--as", "lin_piano", code=2)
    assert refused.output.strip() == (
        "error: 'mon-fry' is not a day or run of days (mon … sun, e.g. mon-fri)."
    )

    order = cli.json(
        "order", "create", lid, "--as", "demo", "--at", "2026-11-04T10:00", "--hours", "2"
    )
    assert (order["status"], order["quantity"], order["amount"]) == (
        "requested",
        2,
        2 * lesson["price"],
    )
    taken = cli("order", "create", lid, "--as", "sara_dogs", "--at", "2026-11-04T11:00", code=1)
    assert "2026-11-04 11:00 (UTC+08:00) is taken" in flat(taken)
    whole = cli("order", "create", lid, "--as", "sara_dogs", code=1)
    assert "is booked by time: pick a slot" in flat(whole)
    free = cli.json("listing", "slots", lid, "--from", "2026-11-04", "--days", "1")["slots"]
    assert len(free) == 9 - 2 - 1 - 1  # two booked hours, the hour before, the buffer after

    oid = str(order["id"])
    cli("order", "accept", oid, "--as", "lin_piano")
    cli("wallet", "topup", "1000", "--as", "demo", "--key", "lesson-fund")
    preview = flat(cli("order", "pay", oid, "--as", "demo"))
    assert "cancelling is free until 2026-11-03 10:00 (UTC+08:00)" in preview
    cli("order", "pay", oid, "--as", "demo", "--confirm")
    shown = flat(cli("order", "show", oid, "--as", "demo"))
    assert "Slot: 2026-11-04 10:00 (UTC+08:00) to 2026-11-04 12:00 (UTC+08:00)." in shown

    late = cli("order", "revoke", oid, "--as", "demo", P2PMARKET_NOW="2026-11-03T20:00:00")
    fee = lesson["price"]  # half of two hours
    assert f"¥{fee // 100:,}.00 goes to @lin_piano as the late-cancellation fee" in flat(late)
    assert "Nothing moved" in flat(late)

    during = {"P2PMARKET_NOW": "2026-11-04T03:00:00"}
    began = cli("order", "revoke", oid, "--as", "demo", "--confirm", code=1, **during)
    assert "its slot began at 2026-11-04 10:00 (UTC+08:00); open a dispute instead" in flat(began)
    cli("order", "deliver", oid, "--as", "lin_piano", **during)
    done = cli.json("order", "confirm", oid, "--as", "demo", "--confirm", **during)
    assert done["status"] == "completed"
    # The order ended: its hours are free again (asked with the clock at the day before).
    again = cli.json(
        "order",
        "create",
        lid,
        "--as",
        "sara_dogs",
        "--at",
        "2026-11-04T10:00",
        P2PMARKET_NOW="2026-11-03T08:00:00",
    )
    assert again["status"] == "requested"
    cli("verify")
