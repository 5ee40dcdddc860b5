"""`p2pmarket bench …`: benchmarks with a naive baseline in the same run."""

from __future__ import annotations

import typer

app = typer.Typer(help="Benchmarks: our plan against a naive one, in the same run.")


@app.command("payments")
def payments(
    count: int = typer.Option(2000, "--count", min=10, max=1_000_000),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Committed escrow payments per second on a durable SQLite file."""
    import tempfile
    from pathlib import Path

    from p2pmarket.bench import payments as bench
    from p2pmarket.cli.context import emit, say

    with tempfile.TemporaryDirectory(prefix="p2pmarket-bench-") as tmp:
        result = bench.bench_payments(count, Path(tmp))
    emit(
        result,
        as_json,
        lambda: say(
            f"payments over {count:,}: {result['single_per_second']:,}/s one commit each, "
            f"{result['batched_per_second']:,}/s in batches of {result['batch']} (group "
            f"commit), naive {result['naive_per_second']:,}/s; ratios "
            f"{result['ratio_single_vs_naive']}× and {result['ratio_batched_vs_naive']}×; "
            f"{result['statements_per_payment']} SQL statements and "
            f"{result['cpu_ms_per_payment']} ms of CPU per payment "
            f"({result['batched_cpu_ms_per_payment']} ms batched); this disk does "
            f"{result['disk_commits_per_second']:,} durable one-row commits/s; "
            f"verify --full {result['verify']['full_ms']:,} ms over "
            f"{result['verify']['full_rows']:,} chained rows, incremental "
            f"{result['verify']['incremental_ms']:,} ms over "
            f"{result['verify']['incremental_rows']:,} new ones; "
            f"peak RSS {result['peak_rss_mb']} MB"
        ),
    )


@app.command("writers")
def writers(
    count: int = typer.Option(16, "--writers", min=2, max=64, help="Processes writing at once."),
    each: int = typer.Option(25, "--each", min=1, max=10_000, help="Payments per process."),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Many processes paying at once: each one's wait for the write lock, ours against naive."""
    from p2pmarket.bench.writers import bench_writers
    from p2pmarket.cli.context import emit, say

    result = bench_writers(count, each)

    def line(plan: str) -> str:
        r = result[plan]
        return (
            f"{plan}: wait p50 {r['p50_ms']} ms, p99 {r['p99_ms']} ms, max {r['max_ms']} ms, "
            f"{r['payments_per_second']:,} payments/s, {r['gave_up']} gave up"
        )

    emit(
        result,
        as_json,
        lambda: say(
            f"{count} writers × {each} payments, one transaction each, waiting for the write "
            f"lock — {line('ours')}; {line('naive')} (SQLite's own busy handler); "
            f"p99 {result['ratio_p99_naive_vs_ours']}× shorter"
        ),
    )


def _on_bench_market(ctx: typer.Context, as_json: bool, bench, **options) -> dict:
    """Run `bench(config, clock, progress=…, **options)` under the seeding progress bar."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from p2pmarket.cli.context import console, ctx_of

    c = ctx_of(ctx)
    bar = Progress(
        TextColumn("seeding the bench market"),
        BarColumn(),
        MofNCompleteColumn(),
        console=console,
        disable=as_json,
    )
    with bar:
        task = bar.add_task("seed", total=None)
        return bench(
            c.config,
            c.clock,
            progress=lambda done, total: bar.update(task, completed=done, total=total),
            **options,
        )


@app.command("search")
def search_(
    ctx: typer.Context,
    listings: int = typer.Option(100_000, "--listings", min=100, max=10_000_000),
    repeat: int = typer.Option(20, "--repeat", min=1, max=1000),
    as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """Nearby search: p50/p95 per query kind, ours against fetch-every-match-then-filter."""
    from p2pmarket.bench import search as search_bench
    from p2pmarket.cli.context import emit, say, table

    result = _on_bench_market(
        ctx, as_json, search_bench.bench_search, listings=listings, repeat=repeat
    )

    def render() -> None:
        if result["seeded"]:
            say(f"Seeded and indexed {listings:,} listings: {result['seeded']}")
        table(
            ["query", "ours p50", "ours p95", "naive p50", "naive p95", "× p95", "+why p95"],
            [
                [
                    name,
                    r["ours"]["p50_ms"],
                    r["ours"]["p95_ms"],
                    r["naive"]["p50_ms"],
                    r["naive"]["p95_ms"],
                    r["ratio_p95"],
                    r["with_why"]["p95_ms"],
                ]
                for name, r in result["queries"].items()
            ],
            title=f"search at {listings:,} listings (ms)",
        )
        ours, why, naive = (result[f"overall_{k}"] for k in ("ours", "with_why", "naive"))
        say(
            f"overall p95: ours {ours['p95_ms']} ms ({why['p95_ms']} ms with the why), "
            f"naive {naive['p95_ms']} ms, {result['overall_ratio_p95']}× faster; "
            f"result mismatches against naive: {result['naive_mismatches']}; "
            f"peak RSS {result['peak_rss_mb']} MB"
        )

    emit(result, as_json, render)


@app.command("price")
def price(
    ctx: typer.Context,
    listings: int = typer.Option(100_000, "--listings", min=100, max=10_000_000),
    repeat: int = typer.Option(40, "--repeat", min=1, max=1000),
    as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """Suggested prices: p50/p95, ours against reading every listing of the category."""
    from p2pmarket.bench import search as search_bench
    from p2pmarket.cli.context import emit, say

    result = _on_bench_market(
        ctx, as_json, search_bench.bench_price, listings=listings, repeat=repeat
    )
    load = result["load_average"]
    emit(
        result,
        as_json,
        lambda: say(
            f"price suggest at {listings:,} listings and {result['completed_sales']:,} "
            f"completed sales: ours p50 {result['ours']['p50_ms']} ms, "
            f"p95 {result['ours']['p95_ms']} ms (CPU p50 {result['ours_cpu']['p50_ms']} ms, "
            f"p95 {result['ours_cpu']['p95_ms']} ms); naive p50 {result['naive']['p50_ms']} ms, "
            f"p95 {result['naive']['p95_ms']} ms (×{result['ratio_p95']}); "
            f"load average {load['before']:.1f} → {load['after']:.1f} on {load['cores']} cores; "
            f"peak RSS {result['peak_rss_mb']} MB"
        ),
    )


@app.command("price-quality")
def price_quality(
    ctx: typer.Context,
    listings: int = typer.Option(20_000, "--listings", min=1_000, max=10_000_000),
    sales: int = typer.Option(4_000, "--sales", min=100, max=10_000_000),
    held_out: int = typer.Option(300, "--held-out", min=10, max=100_000),
    as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """Suggested bands against what held-out items sold for: ours beside the category's."""
    from p2pmarket.bench import prices
    from p2pmarket.cli.context import emit, say, table

    result = _on_bench_market(
        ctx, as_json, prices.price_quality, listings=listings, sales=sales, held_out=held_out
    )

    def render() -> None:
        say(
            f"{result['held_out']} held-out sales of {result['sales']:,} in a seeded market of "
            f"{listings:,} listings; {result['with_comparables_pct']}% had enough comparables."
        )
        table(
            ["band", "p50 error (median)", "inside p25-p75", "inside p10-p90", "p50 / p95 ms"],
            [
                [
                    name,
                    f"{r['mdape_pct']}%",
                    f"{r['inside_p25_p75_pct']}%",
                    f"{r['inside_p10_p90_pct']}%",
                    f"{r['p50_ms']} / {r['p95_ms']}",
                ]
                for name, r in (
                    ("ours (comparables)", result["ours"]),
                    ("category only", result["category_only"]),
                )
            ],
        )
        say(f"Our error is {result['error_ratio']}× the category-only baseline's (goal: ≤ 0.5×).")

    emit(result, as_json, render)


@app.command("cli")
def cli(
    repeat: int = typer.Option(5, "--repeat", min=1, max=100),
    as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """How long commands take to start and answer, beside `python -c pass`."""
    from p2pmarket.bench.cli import bench_cli
    from p2pmarket.cli.context import emit, say, table

    result = bench_cli(repeat)

    def render() -> None:
        table(
            ["command", "p50 ms", "p95 ms", "CPU p50 ms", "× python", "goal ms"],
            [
                [
                    name,
                    row["p50_ms"],
                    row["p95_ms"],
                    row["cpu_p50_ms"],
                    row["x_python"],
                    row.get("goal_ms", ""),
                ]
                for name, row in result["commands"].items()
            ],
        )
        load = " ".join(f"{n:.1f}" for n in result["load_average"])
        say(
            f"{result['repeat']} runs each (after one untimed), one process per run, on a demo "
            f"market; load average {load}."
        )

    emit(result, as_json, render)


@app.command("tui")
def tui(
    ctx: typer.Context,
    listings: int = typer.Option(1_000_000, "--listings", min=100, max=10_000_000),
    words: str = typer.Option("piano lessons", "--words", help="Typed one key at a time."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """Time to the first screen, and search-as-you-type latency per keystroke."""
    from p2pmarket.bench import tui as tui_bench
    from p2pmarket.cli.context import emit, say

    result = _on_bench_market(ctx, as_json, tui_bench.bench_tui, listings=listings, words=words)
    first, typing = result["first_screen"], result["search_as_you_type"]
    switch = result["screen_switch"]
    emit(
        result,
        as_json,
        lambda: say(
            f"first screen of `p2pmarket run --user` in a terminal: p50 {first['p50_ms']} ms "
            f"(target ≤ 1000), filled with the user's data p50 {first['ready']['p50_ms']} ms; "
            f"quit (ctrl+q to the process gone) p50 {first['quit']['p50_ms']} ms (target ≤ 300); "
            f"a section key to its screen with its data: p50 {switch['p50_ms']} ms, p95 "
            f"{switch['p95_ms']} ms (target ≤ 150; CPU p50 {switch['cpu']['p50_ms']} ms, p95 "
            f"{switch['cpu']['p95_ms']} ms; slowest p95: "
            f"{max(switch['screens'].items(), key=lambda kv: kv[1]['p95_ms'])[0]}), opening "
            f"it the first time p50 {switch['first_open']['p50_ms']} ms, p95 "
            f"{switch['first_open']['p95_ms']} ms (load average "
            f"{switch['load']['before']}–{switch['load']['after']} on {switch['load']['cores']} "
            "cores); "
            f"search as you type at {listings:,} listings, key press to results on screen: "
            f"p50 {typing['p50_ms']} ms, p95 {typing['p95_ms']} ms (target ≤ 100; CPU of both "
            f"passes p50 {typing['cpu']['p50_ms']} ms, p95 {typing['cpu']['p95_ms']} ms; load "
            f"{typing['load']['before']} → {typing['load']['after']} on "
            f"{typing['load']['cores']} cores); with prices compared in the why: p50 "
            f"{typing['priced']['p50_ms']} ms, p95 {typing['priced']['p95_ms']} ms; its home "
            f"filled p50 {typing['home']['filled']['p50_ms']} ms (target ≤ 1000; frame "
            f"{typing['home']['frame']['p50_ms']} ms, CPU {typing['home']['cpu']['p50_ms']} ms)"
        ),
    )


@app.command("pg")
def pg(
    ctx: typer.Context,
    db: str = typer.Option(
        None, "--db", envvar="P2PMARKET_TEST_PG", help="A PostgreSQL URL whose user may CREATEDB."
    ),
    listings: int = typer.Option(100_000, "--listings", min=100, max=10_000_000),
    repeat: int = typer.Option(20, "--repeat", min=1, max=1000),
    count: int = typer.Option(2000, "--count", min=10, max=1_000_000),
    clients: str = typer.Option(
        "1,4,16,64", "--clients", help="Client counts paying at once, comma-separated."
    ),
    scale_count: int = typer.Option(
        400, "--scale-count", min=10, max=1_000_000, help="Payments per client count, shared."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """bench search and bench payments on SQLite and PostgreSQL side by side, then many
    clients paying at once on PostgreSQL beside the old one-lock mode."""
    import tempfile
    from pathlib import Path

    from p2pmarket.bench import pg as bench_pg
    from p2pmarket.cli.context import ctx_of, emit, say, table
    from p2pmarket.errors import Invalid

    if not db or not db.startswith("postgresql"):
        raise Invalid("bench_pg_url", "bench pg needs --db postgresql+psycopg://…")
    try:
        counts = [int(n) for n in clients.split(",")]
    except ValueError:
        counts = []
    if not counts or not all(1 <= n <= 150 for n in counts):
        raise Invalid("bench_clients", "--clients is numbers from 1 to 150, e.g. 1,4,16,64.")
    c = ctx_of(ctx)
    with tempfile.TemporaryDirectory(prefix="p2pmarket-bench-") as tmp:
        result = bench_pg.bench_pg(
            c.config,
            c.clock,
            db,
            listings=listings,
            repeat=repeat,
            payments=count,
            workdir=Path(tmp),
            clients=counts,
            scale_payments=scale_count,
        )

    def render() -> None:
        s = result["search"]
        say(f"PostgreSQL {result['postgresql']}; copy {result['copy_to_postgresql']}")
        table(
            ["query", "SQLite p50", "SQLite p95", "PG p50", "PG p95", "PG +why p95"],
            [
                [
                    name,
                    r["ours"]["p50_ms"],
                    r["ours"]["p95_ms"],
                    s["postgresql"]["queries"][name]["ours"]["p50_ms"],
                    s["postgresql"]["queries"][name]["ours"]["p95_ms"],
                    s["postgresql"]["queries"][name]["with_why"]["p95_ms"],
                ]
                for name, r in s["sqlite"]["queries"].items()
            ],
            title=f"search at {listings:,} listings (ms)",
        )
        for store in ("sqlite", "postgresql"):
            p = result["payments"][store]
            say(
                f"payments on {store}: {p['single_per_second']:,}/s one commit each, "
                f"{p['batched_per_second']:,}/s batched, naive {p['naive_per_second']:,}/s; "
                f"search mismatches against naive: {s[store]['naive_mismatches']}"
            )
        rows = result["scaling"]
        one = rows[0]["payments_per_second"] or 1
        table(
            ["clients", "pay/s", "× first", "one lock", "hot wallet", "p95 ms", "one lock p95"],
            [
                [
                    r["clients"],
                    r["payments_per_second"],
                    round(r["payments_per_second"] / one, 1),
                    r["serial_payments_per_second"],
                    r["hot_wallet_per_second"],
                    round(r["payment_ms"]["p95_ms"]),
                    round(r["serial_payment_ms"]["p95_ms"]),
                ]
                for r in rows
            ],
            title="payments at once on PostgreSQL, a process per client (distinct pairs)",
        )
        table(
            ["clients", "alone", "while paying", "… one lock", "overdrafts, lost, dup"],
            [
                [
                    r["clients"],
                    round(r["chat_p95_ms_alone"]),
                    round(r["chat_p95_ms_during_payments"]),
                    round(r["chat_ms_during_serial_payments"]["p95_ms"]),
                    f"{r['overdrafts']}, {r['lost']}, {r['duplicated']}",
                ]
                for r in rows
            ],
            title="chat p95 ms beside them; the ledger afterwards",
        )
        cost = result["payment_cost"]
        table(
            ["1 client", "wall (idle)", "CPU here", "CPU server", "fsync", "trips", "at most"],
            [
                [
                    path,
                    f"{c['wall_ms']} ({c['wall_idle_ms']})",
                    c["client_cpu_ms"],
                    "?" if c["server_cpu_ms"] is None else c["server_cpu_ms"],
                    c["commit_wait_ms"],
                    c["round_trips"],
                    f"{c['payments_per_second_bound']}/s {c['bound_many_to_one_idle']}×",
                ]
                for path, c in (("unsigned", cost["bench"]), ("signed", cost["signed"]))
            ],
            title=(
                f"ms per payment; on {cost['cores']} cores many clients are at most "
                "cores × wall / CPU as fast as one (idle: less the waits for a core)"
            ),
        )
        table(
            [
                "clients",
                "pay CPU",
                "chat CPU",
                "chat queued",
                "chat's server process",
                "runnable",
            ],
            [_cost_row(r) for r in rows],
            title=(
                "ms per payment and per chat message (client / server): CPU, waiting for "
                "a core; what chat's server process was doing while they paid"
            ),
        )

    emit(result, as_json, render)


def _cost_row(row: dict) -> list:
    """One scaling row's CPU per payment and per chat message, and what chat waited on."""
    pay, chat = row["cost_ms_per_payment"], row["chat_cost_ms_during_payments"]
    waits = row["waits_during_payments"]
    top = ", ".join(f"{doing} {share:.0%}" for doing, share in list(waits["chat"].items())[:2])
    return [
        row["clients"],
        f"{pay['client_cpu_ms']} / {pay['server_cpu_ms']}",
        f"{chat['client_cpu_ms']} / {chat['server_cpu_ms']}",
        f"{chat['client_run_queue_ms']} / {chat['server_run_queue_ms']}",
        top,
        waits["runnable_mean"],
    ]


@app.command("slots")
def slots(
    past: int = typer.Option(10_000, "--past", min=0, max=1_000_000, help="Past bookings."),
    lookups: int = typer.Option(300, "--lookups", min=10, max=100_000),
    as_json: bool = typer.Option(False, "--json"),
) -> None:
    """Free-slot lookup of one listing whose seller has a long booking history."""
    import tempfile
    from pathlib import Path

    from p2pmarket.bench.slots import bench_slots
    from p2pmarket.cli.context import emit, say

    with tempfile.TemporaryDirectory(prefix="p2pmarket-bench-") as tmp:
        r = bench_slots(Path(tmp), past=past, lookups=lookups)
    emit(
        r,
        as_json,
        lambda: say(
            f"free slots for 7 days ({r['free_slots_7_days']} found) with {r['past_bookings']:,} "
            f"past and {r['live_bookings']} live bookings: ours p50 {r['ours']['p50_ms']} ms, "
            f"p95 {r['ours']['p95_ms']} ms; naive p50 {r['naive']['p50_ms']} ms, p95 "
            f"{r['naive']['p95_ms']} ms ({r['ratio_p95_naive_vs_ours']}× slower at p95); "
            f"ours in CPU time p50 {r['ours_cpu']['p50_ms']} ms, p95 {r['ours_cpu']['p95_ms']} "
            f"ms (target ≤ 5); load average {r['load_average']['before']}→"
            f"{r['load_average']['after']} on {r['load_average']['cores']} cores; "
            f"seeding took {r['seeded_s']} s"
        ),
    )


@app.command("inbox")
def inbox_(
    ctx: typer.Context,
    listings: int = typer.Option(100_000, "--listings", min=1_000, max=10_000_000),
    adds: int = typer.Option(200, "--adds", min=10, max=100_000, help="Listings written."),
    saved: int = typer.Option(1000, "--saved", min=10, max=3000, help="Saved searches."),
    reads: int = typer.Option(50, "--reads", min=5, max=10_000, help="Inbox reads timed."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """Writing a listing with and without 1,000 saved searches (ours: hits found lazily,
    when their owner looks; naive: every search matched at write time), and an inbox read."""
    from p2pmarket.bench.inbox import bench_inbox
    from p2pmarket.cli.context import emit, say

    r = _on_bench_market(
        ctx, as_json, bench_inbox, listings=listings, adds=adds, saved=saved, reads=reads
    )

    def p95(name: str) -> str:
        return f"p50 {r[name]['p50_ms']} ms, p95 {r[name]['p95_ms']} ms"

    emit(
        r,
        as_json,
        lambda: say(
            f"listing add at {listings:,} listings: without saved searches "
            f"{p95('add_without_saved')}; "
            f"with {saved:,} saved searches (ours, lazy) {p95('add_with_saved')} "
            f"({r['ratio_p95_with_vs_without']}× without); naive (matched at write) "
            f"{p95('add_naive_with_saved')} ({r['ratio_p95_naive_vs_ours']}× ours at p95); "
            f"inbox read ({r['reader_searches']} saved searches, {r['added_per_read']} new "
            f"listings since the last look) {p95('inbox_read')}; peak RSS {r['peak_rss_mb']} MB"
        ),
    )


@app.command("plan")
def plan(
    ctx: typer.Context,
    listings: int = typer.Option(100_000, "--listings", min=100, max=10_000_000),
    repeat: int = typer.Option(20, "--repeat", min=1, max=1000),
    brute: int = typer.Option(
        3, "--brute", min=1, max=100, help="Wishes also planned by brute force (slow)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON for scripts."),
) -> None:
    """A 3-leg wish: proposals p50/p95 beside brute force over the same candidates."""
    from p2pmarket.bench import plans as plans_bench
    from p2pmarket.cli.context import emit, say

    r = _on_bench_market(
        ctx, as_json, plans_bench.bench_plan, listings=listings, repeat=repeat, brute=brute
    )

    def render() -> None:
        if r["seeded"]:
            say(f"Seeded and indexed {listings:,} listings: {r['seeded']}")
        say(
            f"{r['wish']} at {listings:,} listings ("
            + (
                f"{r['listings_given_hours']:,} of them given hours now"
                if r["listings_given_hours"]
                else "their hours given by an earlier run"
            )
            + f"); plans found for {r['plans_found']} wishes."
        )
        say(
            f"ours, the whole proposal: p50 {r['ours']['p50_ms']} ms, p95 {r['ours']['p95_ms']} "
            "ms (target ≤ 200)"
        )
        if r["brute_force_fitting"]:
            fit, brute_ = r["ours_fitting_only"], r["brute_force_fitting"]
            say(
                f"fitting the same candidates: ours p95 {fit['p95_ms']} ms, brute force p95 "
                f"{brute_['p95_ms']} ms ({r['ratio_p95_brute_vs_ours_fitting']}× slower; "
                f"{r['ratio_p95_brute_vs_whole_proposal']}× our whole proposal); cheapest plan "
                f"mismatches against brute force: {r['brute_force_mismatches']}; peak RSS "
                f"{r['peak_rss_mb']} MB"
            )

    emit(r, as_json, render)


def register(root: typer.Typer) -> None:
    root.add_typer(app, name="bench")
