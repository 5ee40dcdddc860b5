"""Records that are never lost: verify, backup, restore, export, verify-export, history."""

from __future__ import annotations

import csv
import io
import json
import sys
from pathlib import Path

import typer

from p2pmarket.cli.context import AsOption, JsonOption, ctx_of, emit, say, table
from p2pmarket.clock import iso
from p2pmarket.errors import Invalid, Refused
from p2pmarket.models import User
from p2pmarket.services import records


def _report(report: records.VerifyReport, as_json: bool) -> None:
    def render() -> None:
        checked = ", ".join(f"{n} {c:,}" for n, c in report.rows_checked.items())
        if report.ok:
            say(f"verify: OK — every chain intact, ledger balanced ({checked}).")
            return
        say(f"verify: {len(report.problems)} problem(s) ({checked}):")
        table(
            ["chain", "table", "row", "what"],
            [[p.chain, p.table, p.row_id or "-", p.what] for p in report.problems],
        )

    emit(report.to_json(), as_json, render)
    if not report.ok:
        raise typer.Exit(1)


def verify(ctx: typer.Context, as_json: bool = JsonOption) -> None:
    """Walk every hash chain and check the ledger; exit 1 if anything was tampered with."""
    c = ctx_of(ctx)
    with c.store.read() as session:
        report = records.verify(session)
    _report(report, as_json)


def backup(
    ctx: typer.Context,
    path: Path | None = typer.Argument(None, help="Where to write (default: the backup dir)."),
    list_: bool = typer.Option(False, "--list", help="List the backups taken so far."),
    as_json: bool = JsonOption,
) -> None:
    """Copy the store safely while others write (SQLite's online backup API)."""
    c = ctx_of(ctx)
    if list_:
        with c.store.read() as session:
            found = records.list_backups(session)
        emit(
            {"backups": [b.to_json() for b in found]},
            as_json,
            lambda: table(
                ["when", "reason", "size", "path"],
                [[iso(b.at), b.reason, f"{b.size_bytes:,}", b.path] for b in found],
            ),
        )
        return
    made = records.backup(c.store, c.clock, path)
    emit(
        made.to_json(),
        as_json,
        lambda: say(f"Backed up to {made.path} ({made.size_bytes:,} bytes)."),
    )


def restore(
    ctx: typer.Context,
    path: Path,
    yes: bool = typer.Option(False, "--yes", help="Don't ask; replace the store."),
    as_json: bool = JsonOption,
) -> None:
    """Verify a backup, keep the current store aside, then restore the backup."""
    c = ctx_of(ctx)
    if c.config.sqlite_path is None:
        raise Invalid("restore_unsupported", "Restore is for SQLite stores.")
    if not yes:
        if not sys.stdin.isatty():
            raise Invalid("restore_confirm", "Restore replaces the store; pass --yes to confirm.")
        if not typer.confirm(f"Replace {c.config.sqlite_path} with {path}?"):
            raise Refused("restore_cancelled", "Nothing was restored.")
    c.close()
    kept = records.restore(c.config, c.clock, path)
    data = {"restored": str(path), "previous_store_kept_at": str(kept) if kept else None}
    emit(
        data,
        as_json,
        lambda: say(
            f"Restored {path}." + (f" The previous store is kept at {kept}." if kept else "")
        ),
    )


def export(
    ctx: typer.Context,
    handle: str,
    as_: str = AsOption,
    fmt: str = typer.Option("json", "--format", help="json (verifiable) or csv."),
    out: Path | None = typer.Option(None, "--out", help="Write to FILE instead of stdout."),
) -> None:
    """Your whole history with its hashes and the chain heads (keep it outside the store)."""
    c = ctx_of(ctx)
    if fmt not in ("json", "csv"):
        raise Invalid("export_format", "--format is json or csv.")
    me = c.login(as_)
    if me.handle != handle.strip().lower():
        raise Refused("export_other", "You can export only your own history.")
    with c.store.read() as session:
        data = records.export_history(session, session.get(User, me.id))
    text = json.dumps(data, ensure_ascii=False, indent=2) + "\n" if fmt == "json" else _csv(data)
    if out is None:
        sys.stdout.write(text)
        return
    out.write_text(text, "utf-8")
    say(f"Exported {handle}'s history to {out} (history hash {data['history_hash'][:16]}…).")


def _csv(data: dict) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(["record", "id", "at", "what", "amount", "order", "score_after", "hash"])
    for o in data["orders"]:
        for e in o["events"]:
            writer.writerow(
                [
                    "order_event",
                    e["id"],
                    e["at"],
                    f"{e['from']}->{e['to']}",
                    e["amount"],
                    o["id"],
                    "",
                    e["hash"],
                ]
            )
    for p in data["payments"]:
        writer.writerow(
            [
                "payment",
                p["id"],
                p["at"],
                p["kind"],
                p["amount"],
                p["order_id"] or "",
                "",
                p["hash"],
            ]
        )
    for e in data["credit_events"]:
        writer.writerow(
            [
                "credit_event",
                e["id"],
                e["at"],
                f"{e['dimension']}: {e['reason']}",
                e["delta"],
                "",
                e["score_after"],
                e["hash"],
            ]
        )
    for r in data["reviews"]:
        writer.writerow(
            [
                "review",
                r["id"],
                r["at"],
                f"{r['stars']} stars by {r['author']}",
                "",
                r["order_id"],
                "",
                r["hash"],
            ]
        )
    for name, head in data["chain_heads"].items():
        writer.writerow(["chain_head", head["last_id"], "", name, "", "", "", head["last_hash"]])
    writer.writerow(["history_hash", "", "", "", "", "", "", data["history_hash"]])
    return buffer.getvalue()


def verify_export(ctx: typer.Context, file: Path, as_json: bool = JsonOption) -> None:
    """Prove an exported (JSON) history still matches the store; exit 1 if not."""
    c = ctx_of(ctx)
    data = records.read_export(file)
    with c.store.read() as session:
        report = records.verify_export(session, data)
    _report(report, as_json)


def history(ctx: typer.Context, as_: str = AsOption, as_json: bool = JsonOption) -> None:
    """Your transaction-credit history, newest first, with the score after each change."""
    c = ctx_of(ctx)
    me = c.login(as_)
    with c.store.read() as session:
        rows = records.history(session, session.get(User, me.id))
    emit(
        {"handle": me.handle, "history": rows},
        as_json,
        lambda: table(
            ["when", "change", "score after", "why"],
            [[iso(r["at"]), f"{r['delta']:+d}", r["score_after"], r["reason"]] for r in rows],
        ),
    )


def register(app: typer.Typer) -> None:
    app.command("verify")(verify)
    app.command("backup")(backup)
    app.command("restore")(restore)
    app.command("export")(export)
    app.command("verify-export")(verify_export)
    app.command("history")(history)
