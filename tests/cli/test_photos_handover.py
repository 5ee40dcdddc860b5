"""`listing photo add|remove`, `listing show --json` photos, search's photo mark, and
`order meet|ship|agree` with `order show --json` handover, through the real CLI."""

from __future__ import annotations

from PIL import Image

from tests.services.test_photos import jpeg_with_gps, png_claiming


def test_photos_from_the_command_line(demo_cli, tmp_path):
    cli = demo_cli
    photo = jpeg_with_gps(tmp_path / "bike.jpg")
    # Listing 3, demo's sheet music, has no demo photo.
    assert cli.json("listing", "show", "3")["photos"] == []
    added = cli.json("listing", "photo", "add", "3", str(photo), str(photo), "--as", "demo")
    [stored] = added["photos"]
    shown = cli.json("listing", "show", "3")["photos"]
    assert [(p["sha256"], p["width"], p["height"]) for p in shown] == [
        (stored["sha256"], 1024, 768)
    ]
    with Image.open(cli.home / "photos" / f"{stored['sha256']}.jpg") as image:
        assert not image.getexif()

    rows = cli("search", "sheet music", "--radius-km", "10", "--as", "wang_bikes").stdout
    assert "Piano sheet music" in rows and "* has photos" in rows

    text = tmp_path / "x.jpg"
    text.write_text("hello")
    for bad, code in ((text, 1), (png_claiming(tmp_path / "b.png", 9_000, 9_000), 1)):
        result = cli("listing", "photo", "add", "3", str(bad), "--as", "demo", code=code)
        assert len(result.output.strip().splitlines()) == 1
    assert (
        "not an image"
        in cli("listing", "photo", "add", "3", str(text), "--as", "demo", code=1).output
    )
    cli("listing", "photo", "add", "3", str(photo), "--as", "wang_bikes", code=1)

    removed = cli.json("listing", "photo", "remove", "3", "1", "--as", "demo")
    assert removed["removed"]["sha256"] == stored["sha256"]
    assert cli.json("listing", "show", "3")["photos"] == []


def test_meet_up_agreed_from_the_command_line(demo_cli):
    cli = demo_cli
    order = cli.json("order", "create", "1", "--as", "wang_bikes")["id"]
    when = ("--at", "2026-11-05T15:00")

    unknown = cli(
        "order", "meet", str(order), *when, "--place", "home", "--as", "wang_bikes", code=1
    )
    assert "its landmarks are: temple-gate" in unknown.output
    past = cli(
        "order",
        "meet",
        str(order),
        "--at",
        "2026-10-01T10:00",
        "--place",
        "temple-gate",
        "--as",
        "wang_bikes",
        code=1,
    )
    assert "has passed" in past.output
    cli("order", "ship", str(order), "--tracking", "SF 1", "--as", "wang_bikes", code=1)
    cli("order", "meet", str(order), *when, "--place", "temple-gate", "--as", "lin_piano", code=1)

    said = cli(
        "order", "meet", str(order), *when, "--place", "temple-gate", "--as", "wang_bikes"
    ).stdout
    assert "waiting for demo to agree" in said
    cli("order", "agree", str(order), "--as", "wang_bikes", code=1)
    agreed = cli.json("order", "agree", str(order), "--as", "demo")["handover"]
    assert agreed["agreed"] and agreed["landmark"] == "temple-gate"
    shown = cli.json("order", "show", str(order), "--as", "wang_bikes")
    assert shown["handover"] == agreed
    assert "agreed: meet at Jing'an Temple" in shown["timeline"][-1]["note"]

    shipped = cli.json("order", "ship", str(order), "--tracking", "SF 1", "--as", "demo")
    assert shipped["handover"]["method"] == "ship" and not shipped["handover"]["agreed"]
    assert (
        "Handover: shipping, tracking SF 1"
        in cli("order", "show", str(order), "--as", "demo").stdout
    )


def test_a_skill_order_has_no_handover(demo_cli):
    result = demo_cli(
        "order",
        "meet",
        "13",
        "--at",
        "2026-11-05T15:00",
        "--place",
        "temple-gate",
        "--as",
        "demo",
        code=1,
    )
    assert "not goods" in result.output
    assert demo_cli.json("order", "show", "13", "--as", "demo")["handover"] is None
