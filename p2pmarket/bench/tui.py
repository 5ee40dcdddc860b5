"""`p2pmarket bench tui`: time to the first screen, and search-as-you-type at a large market.

Lives in the TUI package because it drives the real app headless with Pilot.
"""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

from p2pmarket.bench.payments import demo_home, load_since, percentiles

# The home frame has its section titles before any data; the filled home names the user.
FRAME_TEXT = b"Orders"
FILLED_TEXT = b"My shop"


def _cpu_so_far(pid: int) -> float | None:
    """The CPU seconds a running process has used (Linux's /proc; None elsewhere)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")  # utime + stime


def _run_in_terminal(home: str, handle: str, passphrase: str, timeout: float = 20.0):
    """`p2pmarket run --user` in a pseudo-terminal: seconds until the frame, and the data, show,
    then from ctrl+q until the process has ended; and the CPU seconds the process used until
    its data showed (where the system tells: else until it ended).

    What a person waits for: the command's own imports and passphrase check, Textual's
    start and the bytes written to a real terminal (120×34).
    """
    import fcntl
    import os
    import pty
    import resource
    import select
    import struct
    import termios

    env = {**os.environ, "P2PMARKET_PASSPHRASE": passphrase, "TERM": "xterm-256color"}
    command = [sys.executable, "-m", "p2pmarket", "--home", home, "run", "--user", handle]
    started = time.perf_counter()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    pid, fd = pty.fork()
    if pid == 0:  # the child: become the command
        os.execve(sys.executable, command, env)
    fcntl.ioctl(fd, termios.TIOCSWINSZ, struct.pack("HHHH", 34, 120, 0, 0))
    seen, frame, filled, cpu = b"", None, None, None
    try:
        while filled is None and time.perf_counter() - started < timeout:
            if not select.select([fd], [], [], 0.05)[0]:
                continue
            try:
                seen += os.read(fd, 1 << 16)
            except OSError:  # the command ended
                break
            now = time.perf_counter() - started
            if frame is None and FRAME_TEXT in seen:
                frame = now
            if FILLED_TEXT in seen:
                filled, cpu = now, _cpu_so_far(pid)
        quitting = time.perf_counter()
        os.write(fd, b"\x11")  # ctrl+q
        deadline = quitting + 5
        while os.waitpid(pid, os.WNOHANG) == (0, 0):
            if time.perf_counter() > deadline:
                os.kill(pid, 9)
            time.sleep(0.005)
        quit_s = time.perf_counter() - quitting
    finally:
        os.close(fd)
    if frame is None or filled is None:
        raise RuntimeError(f"p2pmarket run showed no home screen: {seen[-400:]!r}")
    if cpu is None:
        ended = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = sum(getattr(ended, f) - getattr(children, f) for f in ("ru_utime", "ru_stime"))
    return frame, filled, quit_s, cpu


# The app's own section keys, each timed from key press to its screen shown with its data.
SECTIONS = {
    "s": "Search",
    "o": "Orders",
    "c": "Chat",
    "r": "Credit",
    "l": "Inbox",
    "P": "Plan",
    "p": "Privacy",
    "t": "Contacts",
    "h": "Home",
}


def time_to_first_screen(repeat: int = 3) -> dict:
    """`p2pmarket run --user` → home frame on the terminal (p50_ms), then filled (ready), and
    ctrl+q → the process gone (quit)."""
    from p2pmarket.services.market import demo

    samples, ready, quits = [], [], []
    with tempfile.TemporaryDirectory(prefix="p2pmarket-tui-bench-") as tmp:
        demo_home(tmp)
        for _ in range(repeat):
            frame, filled, quit_s, _cpu = _run_in_terminal(
                tmp, demo.DEMO_USER, demo.demo_data()["passphrase"]
            )
            samples.append(frame * 1000)
            ready.append(filled * 1000)
            quits.append(quit_s * 1000)
    return {
        "samples_ms": [round(s, 1) for s in samples],
        **percentiles(samples),
        "ready_samples_ms": [round(s, 1) for s in ready],
        "ready": percentiles(ready),
        "quit": percentiles(quits),
    }


async def _leave_text_field(app, pilot) -> None:
    """A text field (Search's box, Chat's) types the section letters: a person leaves it
    for the screen's list first (ctrl+l, tab), a key of its own: its restyle, repaint and
    footer change are not the switch's."""
    from textual.widgets import DataTable, Input

    if isinstance(app.focused, Input):
        lists = (w for w in app.screen.focus_chain if isinstance(w, DataTable))
        app.set_focus(next(lists, None))
        await pilot.pause()


async def switch_through(app, rounds: int, timeout: float = 10.0) -> dict[str, list[tuple]]:
    """Per section key: (wall ms, CPU ms) from the key press until its screen is on top,
    drawn, with its workers (the store reads) done. The first round opens each screen for
    the first time; later rounds show the kept screens again.

    Wall time ends at the screen's last paint before it settled: Pilot's wait for an idle
    process polls in 20 ms steps after it, which nobody at a terminal waits for. CPU time
    runs until it settled (the headless driver writes no bytes to a terminal). Text
    fields' cursors hold still, as in the snapshots: a blink is a paint no key caused.
    """
    from textual.widgets import Input

    Input.cursor_blink._default = False  # this process only drives benches
    painted: list[float] = []
    display = app._display

    def _display(screen, renderable) -> None:
        display(screen, renderable)
        if renderable is not None and screen is app.screen:
            painted.append(time.perf_counter())

    app._display = _display
    async with app.run_test(size=(120, 34)) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        times: dict[str, list[tuple]] = {key: [] for key in SECTIONS}
        for _ in range(rounds):
            for key in SECTIONS:
                await _leave_text_field(app, pilot)
                before = app.screen
                painted.clear()
                started, cpu = time.perf_counter(), time.process_time()
                await pilot.press(key)
                while app.screen is before:
                    if time.perf_counter() - started > timeout:
                        raise RuntimeError(f"{key!r} did not open {SECTIONS[key]}")
                    await pilot.pause()
                await app.workers.wait_for_complete()
                await pilot.pause()
                cpu = time.process_time() - cpu
                times[key].append(((painted[-1] - started) * 1000, cpu * 1000))
        return times


def screen_switches(rounds: int = 4) -> dict:
    """Each section key on the demo market, a few rounds: wall p50/p95 per screen shown
    again and overall (with CPU time), and the first opening of each apart."""
    from p2pmarket import config as config_mod
    from p2pmarket.clock import SystemClock
    from p2pmarket.services.market import demo
    from p2pmarket.tui.app import MarketApp

    load = os.getloadavg()[0]
    with tempfile.TemporaryDirectory(prefix="p2pmarket-tui-bench-") as tmp:
        demo_home(tmp)
        app = MarketApp(
            config=config_mod.resolve(home=Path(tmp)), clock=SystemClock(), user=demo.DEMO_USER
        )
        times = asyncio.run(switch_through(app, rounds))
    again = [t for samples in times.values() for t in samples[1:]]
    first = [samples[0] for samples in times.values()]
    return {
        "screens": {
            SECTIONS[key]: percentiles([wall for wall, _cpu in samples[1:]])
            for key, samples in times.items()
        },
        **percentiles([wall for wall, _cpu in again]),
        "cpu": percentiles([cpu for _wall, cpu in again]),
        "first_open": percentiles([wall for wall, _cpu in first]),
        "first_open_cpu": percentiles([cpu for _wall, cpu in first]),
        "load": load_since(load),
    }


async def _type_and_wait(app, keys: str, timeout: float = 10.0) -> tuple[list, list, list]:
    """Per key press: ms until its results are painted, and until their prices are compared;
    and the process's CPU ms for the key (every thread, both passes: Pilot's press returns
    only once the process is idle, so the first pass's paint is long past by then).

    The clock starts before the key is sent and stops when the table's refresh after the
    update has run, so key handling, the worker, the table and the paint all count.
    """
    from p2pmarket.bench.timed import TimedSearch

    async with app.run_test(size=(120, 34)) as pilot:
        screen = TimedSearch()
        app.open(screen)
        await app.workers.wait_for_complete()
        await pilot.pause()
        shown, priced, cpu = [], [], []
        for key in keys:
            # Every character typed into the box is one Input.Changed: one generation.
            wanted = screen._generation + 1
            started, cpu_started = time.perf_counter(), time.process_time()
            await pilot.press("space" if key == " " else key)
            while screen.shown_generation < wanted:
                screen.painted.clear()
                await asyncio.wait_for(screen.painted.wait(), timeout)
            cpu.append((time.process_time() - cpu_started) * 1000)
            while screen.priced_generation < wanted:
                screen.painted.clear()
                await asyncio.wait_for(screen.painted.wait(), timeout)
            painted = [(t, p) for (g, p), t in screen.painted_at.items() if g >= wanted]
            # Rows with their prices compared are rows too: the first paint of either counts.
            shown.append((min(t for t, _p in painted) - started) * 1000)
            priced.append((min(t for t, p in painted if p) - started) * 1000)
        return shown, priced, cpu


def search_as_you_type(config, clock, *, listings: int, words: str, progress=None) -> dict:
    """Each keystroke of `words` in the search box: ms until its results are on screen; and
    `p2pmarket run --user` on that market until its home is filled."""
    import os

    from p2pmarket.bench import search as search_bench
    from p2pmarket.services.market import demo
    from p2pmarket.services.trust import accounts
    from p2pmarket.tui.app import MarketApp

    store, seeded = search_bench.bench_market(config, clock, listings, progress=progress)
    home = store.config
    with store.read() as session:
        handle = accounts.list_users(session, limit=1)[0].handle
    store.close()
    load = os.getloadavg()[0]
    app = MarketApp(config=home, clock=clock, user=handle)
    shown, priced, cpu = asyncio.run(_type_and_wait(app, words))
    typed = load_since(load)
    # The bench market's people have the demo passphrase.
    runs = [
        _run_in_terminal(str(home.home), handle, demo.demo_data()["passphrase"], timeout=60)
        for _ in range(3)
    ]
    return {
        "listings": listings,
        "seeded": seeded,
        "words": words,
        "per_key_ms": [round(s, 1) for s in shown],
        **percentiles(shown),
        "cpu_per_key_ms": [round(c, 1) for c in cpu],
        "cpu": percentiles(cpu),
        "load": typed,
        # The why's "12% under the suggested price" follows in a second pass.
        "priced_per_key_ms": [round(s, 1) for s in priced],
        "priced": percentiles(priced),
        # Its home, `p2pmarket run --user` in a terminal: frame, then filled, and CPU.
        "home": {
            "frame": percentiles([frame * 1000 for frame, *_ in runs]),
            "filled": percentiles([filled * 1000 for _, filled, *_ in runs]),
            "cpu": percentiles([cpu * 1000 for *_, cpu in runs]),
        },
    }


def bench_tui(config, clock, *, listings: int, words: str = "piano lessons", progress=None):
    return {
        "first_screen": time_to_first_screen(),
        "screen_switch": screen_switches(),
        "search_as_you_type": search_as_you_type(
            config, clock, listings=listings, words=words, progress=progress
        ),
    }
