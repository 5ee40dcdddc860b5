"""Issue #19: nobody acts above their role, and `user list/show` leak nothing private.

Each test replays an attack through the real CLI on a real store.
"""

import json

import pytest
from sqlalchemy import text

from p2pmarket import config as config_mod
from p2pmarket.store.engine import Store

SECRET_NAME = "Amy Secretname"
AMY_LAT, AMY_LON = "31.22917", "121.44833"


@pytest.fixture
def market(cli):
    """boss joins first (the operator), then amy (exact home, private name) and eve."""
    cli("user", "add", "boss", "--name", "Bo Ss", "--area", "jingan")
    cli("user", "add", "amy", "--name", SECRET_NAME, "--lat", AMY_LAT, "--lon", AMY_LON)
    cli("user", "add", "eve", "--name", "Eve Il", "--area", "jingan")
    return cli


def _operator_acts(cli) -> int:
    return cli.json("verify", "--full")["rows_checked"]["operator_events"]


def _me(cli, handle: str) -> dict:
    return cli.json("user", "show", handle, "--as", handle)


ATTACKS = [
    ("user", "verify", "eve"),
    ("user", "verify", "eve", "--as", "eve"),
    ("user", "role", "eve", "mediator"),
    ("user", "role", "eve", "mediator", "--as", "eve"),
    ("user", "add", "evilmed", "--name", "E", "--area", "jingan", "--mediator"),
    ("user", "add", "evilmed", "--name", "E", "--area", "jingan", "--mediator", "--as", "eve"),
]


@pytest.mark.parametrize("attack", ATTACKS, ids=lambda a: " ".join(a))
def test_operator_acts_without_the_operator_are_refused_and_change_nothing(market, attack):
    acts = _operator_acts(market)
    out = market(*attack, code=1).output
    assert "operator" in out and "boss" in out and "nothing was changed" in out
    eve = _me(market, "eve")
    assert eve["verified"] is False and eve["role"] == "member"
    assert "evilmed" not in {u["handle"] for u in market.json("user", "list")["users"]}
    assert _operator_acts(market) == acts


def test_a_wrong_operator_passphrase_is_refused(market):
    out = market(
        "user", "verify", "eve", "--as", "boss", code=1, P2PMARKET_PASSPHRASE="not the one"
    ).output
    assert "passphrase" in out
    assert _me(market, "eve")["verified"] is False


def test_the_operator_verifies_and_grants_as_chained_acts_that_verify_covers(market):
    assert market.json("user", "show", "boss")["operator"] is True
    assert market.json("user", "verify", "eve", "--as", "boss")["changed"] is True
    assert market.json("user", "role", "eve", "mediator", "--as", "boss")["changed"] is True
    added = market.json(
        "user", "add", "med", "--name", "M", "--area", "jingan", "--mediator", "--as", "boss"
    )
    assert added["role"] == "mediator"
    assert _me(market, "eve")["verified"] is True and _me(market, "eve")["role"] == "mediator"
    market("user", "role", "eve", "member", "--as", "boss")
    assert _me(market, "eve")["role"] == "member"
    market("user", "role", "eve", "judge", "--as", "boss", code=2)
    # first user + verify + role + med's role + role back
    assert _operator_acts(market) == 5
    store = Store.open(config_mod.resolve(home=market.home))
    try:
        with store.write() as s:
            s.execute(text("UPDATE operator_event SET detail = 'mediator' WHERE id = 5"))
    finally:
        store.close()
    out = market("verify", "--full", code=1).output
    assert "operator_event" in out


def test_init_names_the_operator(cli):
    assert cli.json("init", "--operator", "carol")["pending"] is True
    cli("user", "add", "amy", "--name", "A", "--area", "jingan")
    cli("user", "verify", "amy", "--as", "amy", code=1)
    cli("user", "add", "carol", "--name", "C", "--area", "jingan")
    assert cli.json("user", "show", "carol")["operator"] is True
    cli("user", "verify", "amy", "--as", "carol")
    assert cli.json("init", "--operator", "carol")["operator"] == "carol"
    assert "carol already" in cli("init", "--operator", "amy", code=1).output


def test_init_names_an_existing_user_at_once_only_while_there_is_no_operator(cli):
    cli("init", "--operator", "dan")
    cli("user", "add", "amy", "--name", "A", "--area", "jingan")
    assert cli.json("init", "--operator", "amy")["pending"] is False  # dan never came
    assert cli.json("user", "show", "amy")["operator"] is True


def test_a_market_file_cannot_grant_roles_in_someone_elses_market(market, tmp_path):
    evil = tmp_path / "evil.json"
    user = {"handle": "evilmed", "name": "E", "lat": 31.2, "lon": 121.4, "role": "mediator"}
    evil.write_text(json.dumps({"passphrase": "market-demo-2026", "users": [user]}))
    assert "boss" in market("load", str(evil), code=1).output
    assert "evilmed" not in {u["handle"] for u in market.json("user", "list")["users"]}
    assert market.json("load", str(evil), "--as", "boss")["users"] == 1
    assert _me(market, "evilmed")["role"] == "mediator"


def test_the_demo_attack_is_refused_end_to_end(demo_cli):
    cli = demo_cli
    assert cli.json("user", "show", "demo")["operator"] is True
    # The demo's mediator came through the operator's chain, and verify walks it.
    assert cli.json("verify", "--full")["rows_checked"]["operator_events"] >= 2
    cli("user", "add", "evilmed", "--name", "E", "--area", "jingan", "--mediator", code=1)
    cli("user", "add", "evilmed", "--name", "E", "--area", "jingan")
    cli("user", "verify", "evilmed", code=1)
    cli("user", "role", "evilmed", "mediator", "--as", "evilmed", code=1)
    disputed = cli.json("order", "list", "--as", "mei_mediator", "--side", "mediating")["orders"]
    assert disputed
    oid = str(disputed[0]["id"])
    refused = cli("order", "list", "--as", "evilmed", "--side", "mediating", code=1).output
    assert "for mediators" in refused
    cli("order", "resolve", oid, "refund", "--as", "evilmed", "--confirm", code=1)
    cli("order", "show", oid, "--as", "evilmed", code=1)
    assert cli.json("order", "show", oid, "--as", "mei_mediator")["status"] == "disputed"


def test_user_list_and_show_carry_no_location_and_no_unpublished_name(market):
    cli = market
    views = [
        cli("user", "list").stdout,
        cli("user", "list", "--json").stdout,
        cli("user", "show", "amy").stdout,
        cli("user", "show", "amy", "--json").stdout,
        cli("user", "show", "amy", "--as", "eve").stdout,
        cli("user", "show", "amy", "--as", "eve", "--json").stdout,
    ]
    for out in views:
        assert "Secretname" not in out and AMY_LAT not in out and AMY_LON not in out
        assert '"lat"' not in out and '"lon"' not in out
    for u in cli.json("user", "list")["users"]:
        assert not {"lat", "lon", "area", "real_name", "bio"} & set(u)
    assert cli.json("user", "show", "amy", "--as", "eve")["distance"].endswith("km")
    # Looking at yourself shows your own data.
    mine = _me(cli, "amy")
    assert mine["real_name"] == SECRET_NAME and mine["lat"] == float(AMY_LAT)
    # Publishing the real name is amy's choice, and then it shows.
    cli("privacy", "set", "real_name", "on", "--as", "amy")
    assert SECRET_NAME in cli("user", "show", "amy").stdout
