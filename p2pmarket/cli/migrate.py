"""`p2pmarket migrate --from URL --to URL`: move a market to another store, chains intact."""

from __future__ import annotations

import typer


def register(app: typer.Typer) -> None:
    app.command("migrate")(migrate)


def migrate(
    ctx: typer.Context,
    source: str = typer.Option(..., "--from", help="The market to copy (a SQLAlchemy URL)."),
    target: str = typer.Option(
        ..., "--to", help="A new, empty store, e.g. postgresql+psycopg://user@host/db."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """Copy every table (ids, hashes, chain heads) into a new store, rebuild search, verify."""
    from p2pmarket.cli.context import ctx_of, emit, say
    from p2pmarket.market import records

    report = records.migrate(ctx_of(ctx).config, source, target)

    def render() -> None:
        total = sum(report.rows.values())
        say(f"Copied {total:,} rows in {len(report.rows)} tables; indexed {report.indexed:,}.")
        if report.verify.ok:
            say(f"verify on the target: ok ({report.verify.rows_checked})")
        else:
            for p in report.verify.problems:
                say(f"verify problem: {p.table} #{p.row_id}: {p.what}")

    emit(report.to_json(), as_json, render)
    if not report.verify.ok:
        raise typer.Exit(1)
