"""Records that are never lost: verify, backup, restore, export, verify-export, history."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from p2pmarket import files
from p2pmarket.cli.context import AsOption, JsonOption, Later, ctx_of, emit, say, table
from p2pmarket.clock import iso
from p2pmarket.errors import Invalid, Refused

records = Later("p2pmarket.market.records")


def _report(report: records.VerifyReport, as_json: bool) -> None:
    def render() -> None:
        checked = ", ".join(f"{n} {c:,}" for n, c in report.rows_checked.items())
        checked += f"; signed {report.signed:,}, unsigned legacy {report.unsigned_legacy:,}"
        if report.photos_checked:
            checked += f"; photo files {report.photos_checked:,}"
        if report.since is not None:
            checked += f"; rows after checkpoint #{report.since}, checked clean before"
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


def verify(
    ctx: typer.Context,
    as_: str | None = typer.Option(
        None, "--as", help="Also check the store is not behind what this user last saw."
    ),
    full: bool = typer.Option(
        False, "--full", help="Walk every row, not only those after the last clean verify."
    ),
    accept: bool = typer.Option(
        False,
        "--accept",
        help="The operator (--as) accepts a store that fails verify, so it is no longer "
        "read-only; verify still names its problems.",
    ),
    as_json: bool = JsonOption,
) -> None:
    """Walk every hash chain, check every signature and the ledger; exit 1 if anything was
    tampered with (or, with --as, rolled back since that user last looked)."""
    c = ctx_of(ctx)
    if accept:
        if as_ is None:
            raise Invalid("accept_who", "--accept is the operator's act: add --as OPERATOR.")
        report = records.accept_store(c.market, c.actor(as_))
        emit(
            {"accepted": True, "problems": [p.to_json() for p in report.problems]},
            as_json,
            lambda: say(
                f"Accepted: the store is writable again; verify still names its "
                f"{len(report.problems)} problem(s)."
            ),
        )
        return
    if as_ is not None:
        c.actor(as_)  # a store behind what they saw is refused here, in one line
    _report(records.verify(c.market, full=full), as_json)


def backup(
    ctx: typer.Context,
    path: Path | None = typer.Argument(None, help="Where to write (default: the backup dir)."),
    list_: bool = typer.Option(False, "--list", help="List the backups taken so far."),
    as_json: bool = JsonOption,
) -> None:
    """Copy the store safely while others write (SQLite's online backup API)."""
    c = ctx_of(ctx)
    c.daily_backup = False
    if list_:
        found = records.list_backups(c.market)
        emit(
            {"backups": [b.to_json() for b in found]},
            as_json,
            lambda: table(
                ["when", "reason", "size", "path"],
                [[iso(b.at), b.reason, f"{b.size_bytes:,}", b.path] for b in found],
            ),
        )
        return
    made = records.backup(c.market, path)
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
    live = records.store_to_replace(c.config)
    if not yes:
        if not sys.stdin.isatty():
            raise Invalid("restore_confirm", "Restore replaces the store; pass --yes to confirm.")
        if not typer.confirm(f"Replace {live} with {path}?"):
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
    made = c.actor(as_).export_history(handle, fmt)
    if out is None:
        sys.stdout.write(made.text)
        return
    files.write_private(out, made.text)
    say(f"Exported {handle}'s history to {out} (history hash {made.history_hash[:16]}…).")


def verify_export(ctx: typer.Context, file: Path, as_json: bool = JsonOption) -> None:
    """Prove an exported (JSON) history still matches the store; exit 1 if not."""
    c = ctx_of(ctx)
    data = records.read_export(file)
    _report(records.verify_export(c.market, data), as_json)


def history(ctx: typer.Context, as_: str = AsOption, as_json: bool = JsonOption) -> None:
    """Your transaction-credit history, newest first, with the score after each change."""
    me = ctx_of(ctx).actor(as_)
    rows = me.history()
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
