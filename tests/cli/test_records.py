import json
import sqlite3
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture
def traded_cli(demo_cli):
    cli = demo_cli
    cli("wallet", "topup", "1000", "--as", "demo", "--key", "fund")
    order = cli.json("order", "create", "15", "--as", "demo")
    cli("order", "accept", str(order["id"]), "--as", order["seller"])
    cli("order", "pay", str(order["id"]), "--as", "demo", "--confirm")
    cli("order", "deliver", str(order["id"]), "--as", order["seller"])
    cli("order", "confirm", str(order["id"]), "--as", "demo", "--confirm")
    return cli


@pytest.mark.sqlite_only
def test_verify_ok_then_tampered_exits_1(traded_cli):
    assert traded_cli.json("verify")["ok"] is True
    db = sqlite3.connect(traded_cli.home / "market.db")
    db.execute("UPDATE entry SET amount = amount + 1 WHERE id = 2")
    db.commit()
    db.close()
    # A row verified clean before: the incremental verify trusts it, --full walks it.
    result = traded_cli("verify", "--full", code=1)
    assert "entry" in result.output and "edited" in result.output


@pytest.mark.sqlite_only
def test_chat_is_chained_and_verify_is_incremental_by_default(traded_cli):
    first = traded_cli.json("verify", "--full")
    assert first["ok"] and first["full"] and first["rows_checked"]["chat"] > 0
    # A line sent after the clean verify, then edited: the incremental verify walks it.
    sent = traded_cli.json("chat", "send", "lin_piano", "see you at six", "--as", "demo")
    db = sqlite3.connect(traded_cli.home / "market.db")
    db.execute("UPDATE message SET body = 'see you at nine' WHERE id = ?", (sent["id"],))
    db.commit()
    db.close()
    result = traded_cli.json("verify", code=1)
    assert result["since_checkpoint"] is not None and result["rows_checked"]["chat"] == 1
    assert [(p["table"], p["row_id"]) for p in result["problems"]] == [("message", sent["id"])]
    assert result["problems"][0]["chain"].startswith("chat conversation ")


@pytest.mark.sqlite_only
def test_backup_then_restore_with_yes(traded_cli, tmp_path):
    backup = tmp_path / "snap.db"
    traded_cli("backup", str(backup))
    traded_cli("user", "add", "late", "--name", "Late", "--area", "jingan")
    traded_cli("restore", str(backup), code=2)  # no --yes, no terminal
    out = traded_cli.json("restore", str(backup), "--yes")
    kept = Path(out["previous_store_kept_at"])
    assert kept.exists() and kept.parent == traded_cli.home / "backups"
    handles = {u["handle"] for u in traded_cli.json("user", "list", "--limit", "1000")["users"]}
    assert "late" not in handles
    assert traded_cli.json("verify")["ok"] is True


def test_export_and_verify_export(traded_cli, tmp_path):
    out = tmp_path / "mine.json"
    traded_cli("export", "demo", "--as", "demo", "--out", str(out))
    data = json.loads(out.read_text())
    assert data["handle"] == "demo" and data["payments"]
    assert traded_cli.json("verify-export", str(out))["ok"] is True
    data["credit_events"][0]["score_after"] = 950
    out.write_text(json.dumps(data))
    assert "changed after export" in traded_cli("verify-export", str(out), code=1).output
    csv_text = traded_cli("export", "demo", "--as", "demo", "--format", "csv").stdout
    assert csv_text.splitlines()[0].startswith("record,id,at")
    traded_cli("export", "lin_piano", "--as", "demo", code=1)


@pytest.mark.sqlite_only
def test_export_carries_the_dispute_notes_and_verify_export_checks_them(demo_cli, tmp_path):
    """zhou_fixit's export holds the case of the demo's dispute (the buyer's reason, his own
    statement) and its chain's head; a rewritten note fails verify-export."""
    out = tmp_path / "zhou.json"
    demo_cli("export", "zhou_fixit", "--as", "zhou_fixit", "--out", str(out))
    data = json.loads(out.read_text())
    notes = data["dispute_notes"]
    assert [(n["kind"], n["author"]) for n in notes] == [
        ("reason", "qian_student"),
        ("statement", "zhou_fixit"),
    ]
    order_id = notes[0]["order_id"]
    assert notes[0]["text"].startswith("The fan is louder")
    assert data["chain_heads"][f"disputes:{order_id}"]["last_id"] == notes[-1]["id"]
    assert demo_cli.json("verify-export", str(out))["ok"] is True
    csv_rows = demo_cli("export", "zhou_fixit", "--as", "zhou_fixit", "--format", "csv").stdout
    assert f"dispute_note,{notes[0]['id']}," in csv_rows

    # Someone rewrites the reason and its hash in the store: the export no longer matches.
    db = sqlite3.connect(demo_cli.home / "market.db")
    db.execute(
        "UPDATE dispute_note SET text = 'It was fine', hash = ? WHERE id = ?",
        ("0" * 64, notes[0]["id"]),
    )
    db.commit()
    db.close()
    found = demo_cli.json("verify-export", str(out), code=1)["problems"]
    exported = [p for p in found if p["what"] == "the store's row differs from the exported one"]
    assert [(p["chain"], p["table"], p["row_id"]) for p in exported] == [
        ("disputes", "dispute_note", notes[0]["id"])
    ]


@pytest.mark.sqlite_only
def test_the_store_backups_exports_and_their_folders_are_the_owners_alone(traded_cli, tmp_path):
    """They hold chats, passphrase hashes and histories: 0600 files in 0700 folders."""
    home = traded_cli.home
    (home / "market.db").chmod(0o644)  # a store made before: tightened when next opened
    traded_cli("backup")
    traded_cli("export", "demo", "--as", "demo", "--out", str(tmp_path / "mine.json"))
    made = traded_cli.json("backup", "--list")["backups"]
    kept = traded_cli.json("restore", made[0]["path"], "--yes")["previous_store_kept_at"]
    for path in (
        home / "market.db",
        tmp_path / "mine.json",
        Path(made[0]["path"]),
        Path(kept),
    ):
        assert path.stat().st_mode & 0o777 == 0o600, path
    for folder in (home, home / "backups"):
        assert folder.stat().st_mode & 0o777 == 0o700, folder


def test_history_json(traded_cli):
    rows = traded_cli.json("history", "--as", "demo")["history"]
    assert rows and all("score_after" in r for r in rows)


@pytest.mark.sqlite_only
def test_corrupt_store_names_the_restore_command(traded_cli):
    (traded_cli.home / "market.db").write_bytes(b"garbage" * 1000)
    for suffix in ("-wal", "-shm"):
        (traded_cli.home / f"market.db{suffix}").unlink(missing_ok=True)
    result = traded_cli("user", "list", code=1)
    assert "p2pmarket restore" in result.output
    assert "Traceback" not in result.output


@pytest.fixture(scope="session")
def two_installs(tmp_path_factory) -> tuple[Path, Path]:
    """The program built once and installed into two venvs (each xdist worker has its own
    session, but only test_reinstall_survival asks, so a run builds them once)."""
    root = tmp_path_factory.mktemp("installs")
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(root), str(ROOT)],
        check=True,
        capture_output=True,
    )
    wheel = next(root.glob("p2pmarket-*.whl"))
    site = sysconfig.get_paths()["purelib"]

    def install(name: str) -> Path:
        venv = root / name
        subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
        # Dependencies come from the test environment; the program itself is a fresh copy.
        venv_site = next((venv / "lib").glob("python*/site-packages"))
        (venv_site / "deps.pth").write_text(site + "\n")
        python = str(venv / "bin" / "python")
        subprocess.run(
            [sys.executable, "-m", "pip", "--python", python, "install", "-q", "--no-deps", wheel],
            check=True,
            capture_output=True,
        )
        return venv / "bin" / "p2pmarket"

    return install("venv-a"), install("venv-b")


@pytest.mark.slow
def test_reinstall_survival(tmp_path, two_installs):
    """Install into a venv, trade, delete the venv, use a fresh install: same history."""
    home = tmp_path / "home"
    env = {
        "P2PMARKET_HOME": str(home),
        "P2PMARKET_PASSPHRASE": "market-demo-2026",
        "P2PMARKET_HASH_PROFILE": "cheapest",
        "P2PMARKET_CONFIG_DIR": str(tmp_path / "config"),
        "P2PMARKET_NOW": "2026-11-01T09:00:00",
        "PATH": "/usr/bin:/bin",
    }

    def run(exe: Path, *args: str) -> str:
        done = subprocess.run(
            [str(exe), *args], capture_output=True, text=True, env=env, cwd=tmp_path
        )
        assert done.returncode == 0, done.stderr
        return done.stdout

    first, second = two_installs
    run(first, "demo")
    run(first, "wallet", "topup", "500", "--as", "demo", "--key", "k1")
    order = json.loads(run(first, "order", "create", "15", "--as", "demo", "--json"))
    for who, action in (
        (order["seller"], "accept"),
        ("demo", "pay"),
        (order["seller"], "deliver"),
        ("demo", "confirm"),
    ):
        extra = ["--confirm"] if action == "pay" else []
        run(first, "order", action, str(order["id"]), "--as", who, *extra)
    before = json.loads(run(first, "export", "demo", "--as", "demo"))
    subprocess.run(["rm", "-rf", str(first.parents[1])], check=True)
    after = json.loads(run(second, "export", "demo", "--as", "demo"))
    assert after["history_hash"] == before["history_hash"]
    assert json.loads(run(second, "verify", "--json"))["ok"] is True


def _rehash(home: Path) -> None:
    """An attacker's second step after an edit: recompute every hash, head and checkpoint."""
    from p2pmarket import config
    from p2pmarket.store.engine import Store
    from tests.tamper import rehash_everything

    store = Store.open(config.resolve(home=home))
    with store.write() as session:
        rehash_everything(session.connection())
    store.close()


@pytest.mark.sqlite_only
def test_a_forged_payment_with_every_hash_recomputed_exits_1_naming_the_row(traded_cli):
    """The seller's payout raised by ¥100 (taken from the buyer's refund side): consistent
    sums and hashes, but the demo user's key signed the old amounts."""
    db = sqlite3.connect(traded_cli.home / "market.db")
    (entry,) = db.execute(
        "SELECT e.id FROM entry e JOIN transfer t ON t.id = e.transfer_id "
        "WHERE t.kind = 'topup' AND t.actor_id IS NOT NULL ORDER BY e.id DESC LIMIT 1"
    ).fetchone()
    db.execute(f"UPDATE entry SET amount = amount + 10000 WHERE id = {entry}")
    db.execute(f"UPDATE entry SET amount = amount - 10000 WHERE id = {entry + 1}")
    db.commit()
    db.close()
    _rehash(traded_cli.home)
    result = traded_cli("verify", code=1)
    assert "entry" in result.output and str(entry) in result.output
    assert "signature" in result.output


@pytest.mark.sqlite_only
def test_verify_as_reports_a_store_rolled_back_behind_what_they_saw(traded_cli, tmp_path):
    snap = tmp_path / "snap.db"
    traded_cli("backup", str(snap))
    traded_cli("wallet", "topup", "5", "--as", "demo", "--key", "after-snap")
    live = sqlite3.connect(traded_cli.home / "market.db")
    sqlite3.connect(snap).backup(live)
    live.close()
    result = traded_cli("verify", "--as", "demo", code=1)
    assert "older than what demo last saw" in result.output
    assert result.output.count("\n") <= 3


def test_a_changed_passphrase_keeps_records_signed_and_verifiable(traded_cli):
    traded_cli("user", "passphrase", "--as", "demo", P2PMARKET_NEW_PASSPHRASE="a brand new one")
    traded_cli("wallet", "topup", "1", "--as", "demo", code=1)  # the old one opens nothing
    traded_cli("wallet", "topup", "1", "--as", "demo", P2PMARKET_PASSPHRASE="a brand new one")
    traded_cli("user", "rotate-key", "--as", "demo", P2PMARKET_PASSPHRASE="a brand new one")
    traded_cli("wallet", "topup", "1", "--as", "demo", P2PMARKET_PASSPHRASE="a brand new one")
    assert traded_cli.json("verify")["ok"] is True


@pytest.mark.sqlite_only
def test_a_store_failing_verify_is_read_only_until_the_operator_accepts_it(traded_cli):
    """Reads go on with one warning line, every write is refused with that sentence and
    writes nothing; the operator's acceptance covers exactly the problems found then."""
    cli = traded_cli
    before = cli.json("wallet", "show", "--as", "demo")["balance"]
    _sql(cli, "UPDATE account SET balance = balance + 500 WHERE user_id = 1")
    shown = cli("wallet", "show", "--as", "demo", "--json")
    assert json.loads(shown.stdout)["balance"] == before + 500
    assert "fails verify" in shown.stderr and len(shown.stderr.strip().splitlines()) == 1
    refused = cli("wallet", "topup", "10", "--as", "demo", "--key", "t1", code=1)
    assert "fails verify" in refused.stderr and "verify --accept" in refused.stderr
    assert cli.json("wallet", "show", "--as", "demo")["balance"] == before + 500
    cli("verify", "--accept", "--as", "lin_piano", code=1)  # only the operator
    cli("verify", "--accept", "--as", "demo")
    cli("wallet", "topup", "10", "--as", "demo", "--key", "t2")
    assert "fails verify" not in cli("wallet", "show", "--as", "demo").stderr
    assert cli("verify", code=1)  # verify still names the accepted problem
    # Damage the operator did not accept makes the store read-only again.
    _sql(cli, "UPDATE account SET balance = balance + 1 WHERE user_id = 2")
    cli("wallet", "topup", "10", "--as", "demo", "--key", "t3", code=1)


def _sql(cli, statement):
    db = sqlite3.connect(cli.home / "market.db")
    db.execute(statement)
    db.commit()
    db.close()
