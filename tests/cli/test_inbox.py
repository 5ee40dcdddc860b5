"""`p2pmarket inbox`, `inbox read`, `search --save`, `search saved|unsave`, `watch`."""

import pytest

ADD = ("listing", "add", "--as", "wang_bikes", "--kind", "goods", "--category", "bicycles")


@pytest.fixture(scope="module")
def market(tmp_path_factory):
    from tests.cli.conftest import Cli

    cli = Cli(tmp_path_factory.mktemp("inbox") / "home")
    cli("demo")
    return cli


def test_inbox_lists_items_with_refs_and_reads_them(market):
    box = market.json("inbox", "--as", "demo")
    assert box["unread"] == sum(not i["read"] for i in box["items"]) > 0
    first = box["items"][0]
    assert set(first) == {"id", "kind", "text", "ref", "at", "read"}
    assert first["ref"]["kind"] in ("order", "listing", "offer", "conversation")
    read = market.json("inbox", "read", str(first["id"]), "--as", "demo")
    assert read["read"] is True
    assert market.json("inbox", "--as", "demo")["unread"] == box["unread"] - 1
    done = market.json("inbox", "read", "--all", "--as", "demo")
    assert done == {"read": box["unread"] - 1}
    assert market.json("inbox", "--unread", "--as", "demo") == {"items": [], "unread": 0}
    assert "Nothing unread." in market("inbox", "--unread", "--as", "demo").stdout


def test_inbox_refusals_are_one_line(market):
    out = market("inbox", "read", "--as", "demo", code=2)
    assert "Give an item ID or --all" in out.output
    out = market("inbox", "read", "999999", "--as", "demo", code=2)
    assert "No item #999999 in your inbox." in out.output
    out = market("inbox", "read", "1", "--as", "lin_piano", code=None)
    assert out.exit_code in (0, 2)  # item 1 is someone's; never a traceback


def test_a_saved_search_brings_new_listings_to_the_inbox(market):
    found = market.json(
        "search", "tandem", "--as", "demo", "--radius-km", "50", "--save", "tandems"
    )
    assert found["saved"]["name"] == "tandems" and found["saved"]["text"] == "tandem"
    assert "tandems" in [s["name"] for s in market.json("search", "saved", "--as", "demo")]
    added = market.json(*ADD, "--unit", "item", "--title", "Tandem bicycle", "--price", "900")
    items = market.json("inbox", "--as", "demo")["items"]
    hits = [i for i in items if i["kind"] == "search" and "'tandems'" in i["text"]]
    assert [(h["ref"]["kind"], h["ref"]["id"]) for h in hits] == [("listing", added["id"])]
    assert "New for 'tandems'" in hits[0]["text"]
    [tandems] = [
        s for s in market.json("search", "saved", "--as", "demo") if s["name"] == "tandems"
    ]
    assert tandems["new_hits"] == 1  # gathered, not yet seen
    assert "dropped" in market("search", "unsave", "tandems", "--as", "demo").stdout
    out = market("search", "unsave", "tandems", "--as", "demo", code=2)
    assert "no saved search named 'tandems'" in out.output


def test_watching_a_listing_tells_of_a_price_drop(market):
    added = market.json(*ADD, "--unit", "item", "--title", "Folding bike", "--price", "500")
    lid = str(added["id"])
    assert "Watching #" in market("watch", lid, "--as", "demo").stdout
    assert int(lid) in [w["listing_id"] for w in market.json("watch", "list", "--as", "demo")]
    market("listing", "edit", lid, "--as", "wang_bikes", "--price", "420")
    items = market.json("inbox", "--as", "demo")["items"]
    drops = [i for i in items if i["kind"] == "price_drop" and f"#{lid} " in i["text"]]
    assert [d["text"] for d in drops] == [
        f"Listing #{lid} Folding bike: price dropped from ¥500.00 to ¥420.00."
    ]
    market("unwatch", lid, "--as", "demo")
    assert int(lid) not in [w["listing_id"] for w in market.json("watch", "list", "--as", "demo")]
    out = market("watch", lid, "--as", "wang_bikes", code=1)
    assert "You can't watch your own listing." in out.output


def test_plain_search_still_searches(market):
    assert market.json("search", "bike", "--as", "demo", "--radius-km", "50")["hits"]
