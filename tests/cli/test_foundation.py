import pytest

from tests.cli.conftest import Cli
from tests.conftest import fresh_config


@pytest.mark.sqlite_only
def test_where_reports_home_and_db(cli):
    data = cli.json("where")
    assert data["home"] == str(cli.home)
    assert data["db_url"].endswith("market.db")


def test_user_add_verify_and_listing_add_scripted_forms(cli):
    cli("user", "add", "amy", "--name", "Amy Chen", "--lat", "31.23", "--lon", "121.47")
    cli("user", "verify", "amy", "--as", "amy")  # the first user is the market's operator
    shown = cli.json("user", "show", "amy")
    assert shown["verified"] is True
    new = cli.json(
        "listing",
        "add",
        "--as",
        "amy",
        "--kind",
        "skill",
        "--title",
        "Guitar",
        "--category",
        "guitar-lessons",
        "--price",
        "120",
        "--unit",
        "hour",
    )
    assert new["price"] == 12000 and isinstance(new["id"], int)
    listed = cli.json("listing", "list")["listings"]
    assert [x["id"] for x in listed] == [new["id"]]


def test_demo_is_idempotent(cli):
    first = cli.json("demo")
    assert first["loaded"] is True
    assert cli.json("demo")["loaded"] is False
    assert len(cli.json("user", "list")["users"]) == first["users"]


@pytest.mark.sqlite_only
def test_demo_reset_backs_up_first(demo_cli):
    demo_cli("user", "add", "extra", "--name", "X", "--area", "jingan")
    result = demo_cli("demo", "--reset")
    assert "Backed up" in result.output
    handles = {u["handle"] for u in demo_cli.json("user", "list", "--limit", "1000")["users"]}
    assert "extra" not in handles and "demo" in handles
    assert list((demo_cli.home / "backups").glob("*pre-reset*"))


BAD_LISTINGS = [
    (["--category", "nope"], "Unknown category"),
    (["--unit", "item"], "priced per"),
    (["--title", ""], "title must not be empty"),
    (["--title", "x" * 10_000], "at most"),
    (["--price", "1e3"], "not a plain amount"),
    (["--price", "-5"], "negative"),
    (["--price", "0.001"], "two decimals"),
    (["--kind", "robot"], "goods, skill or time"),
]


@pytest.mark.parametrize(("override", "reason"), BAD_LISTINGS)
def test_bad_listing_input_exits_2_and_writes_nothing(demo_cli, override, reason):
    before = len(demo_cli.json("listing", "list", "--limit", "10000")["listings"])
    args = {
        "--kind": "skill",
        "--title": "Lessons",
        "--category": "piano-lessons",
        "--price": "100",
        "--unit": "hour",
    }
    args.update(dict(zip(override[::2], override[1::2], strict=True)))
    flat = [x for pair in args.items() for x in pair]
    result = demo_cli("listing", "add", "--as", "demo", *flat, code=2)
    assert reason in result.output
    assert len(result.output.strip().splitlines()) == 1
    assert len(demo_cli.json("listing", "list", "--limit", "10000")["listings"]) == before


def test_latitude_91_is_refused(cli):
    result = cli("user", "add", "amy", "--name", "Amy", "--lat", "91", "--lon", "0", code=2)
    assert "Latitude 91" in result.output
    assert cli.json("user", "list")["users"] == []


def test_wrong_passphrase_is_refused_with_exit_1(demo_cli):
    result = demo_cli(
        "listing", "pause", "1", "--as", "demo", code=1, P2PMARKET_PASSPHRASE="not the passphrase"
    )
    assert "passphrase" in result.output


def test_unknown_ids_and_handles_exit_2(demo_cli):
    assert "No listing #999999" in demo_cli("listing", "show", "999999", code=2).output
    assert "No user" in demo_cli("user", "show", "nobody", code=2).output


def test_load_file_all_or_nothing(cli, tmp_path):
    bad = tmp_path / "m.json"
    bad.write_text(
        '{"passphrase": "long enough pass", "users": '
        '[{"handle": "ok_one", "name": "A", "lat": 1, "lon": 2}, '
        '{"handle": "bad one", "name": "B", "lat": 1, "lon": 2}]}'
    )
    result = cli("load", str(bad), code=2)
    assert "users[1]" in result.output
    assert cli.json("user", "list")["users"] == []


def test_a_new_process_finds_the_same_market(tmp_path):
    """Data lives in home, not in the program: a later process (or reinstall) finds it."""
    cli = Cli(tmp_path / "home")
    made = cli.subprocess("user", "add", "amy", "--name", "Amy", "--area", "jingan", "--json")
    assert made.returncode == 0, made.stderr
    again = cli.subprocess("user", "list", "--json")
    assert '"amy"' in again.stdout
    bad = cli.subprocess(
        "listing",
        "add",
        "--as",
        "amy",
        "--kind",
        "skill",
        "--title",
        "T",
        "--category",
        "piano-lessons",
        "--price",
        "-5",
        "--unit",
        "hour",
    )
    assert bad.returncode == 2
    assert "Traceback" not in bad.stderr and "negative" in bad.stderr


def test_seed_is_deterministic_through_the_cli(tmp_path):
    outs = []
    for name in ("a", "b"):
        cli = Cli(tmp_path / name)
        market = fresh_config(tmp_path / name)
        env = {} if market.is_sqlite else {"P2PMARKET_DB": market.db_url}
        cli("seed", "--users", "30", "--listings", "200", "--seed", "5", **env)
        outs.append(cli.json("listing", "list", "--limit", "1000", **env)["listings"])
    assert outs[0] == outs[1] and len(outs[0]) == 200


def test_a_seeded_market_passes_verify_and_stays_writable(tmp_path):
    """Seeded people marked verified are the market's recorded acts: verify's replay of who
    holds power agrees, so the store is not read-only after `seed`."""
    cli = Cli(tmp_path / "m")
    market = fresh_config(tmp_path / "m")
    env = {} if market.is_sqlite else {"P2PMARKET_DB": market.db_url}
    cli("seed", "--users", "20", "--listings", "30", **env)
    assert cli("verify", **env).stdout.startswith("verify: OK")
    listed = cli("user", "list", **env)
    assert "fails verify" not in listed.stderr
