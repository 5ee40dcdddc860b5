"""The store's code loads once, uncollected (p2pmarket/loading.py)."""

import subprocess
import sys


def test_the_market_code_loads_uncollected_and_stays_out_of_later_collections():
    # What a store command and the TUI's startup worker load (cli/context.py, tui/app.py).
    code = (
        "import gc, sys\n"
        "from p2pmarket.loading import load\n"
        "frozen = gc.get_freeze_count()\n"
        "load('p2pmarket.market')\n"
        "print('p2pmarket.market' in sys.modules, gc.isenabled(),"
        " gc.get_freeze_count() > frozen + 10_000)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True", "True", "True"]


def test_loading_waits_for_a_load_started_in_the_background(tmp_path):
    # `run` starts the market's code loading while the terminal answers (loading.start); the
    # startup worker's `load` then gets the whole module, not the half another thread made.
    (tmp_path / "slow_module.py").write_text(
        "import builtins, time\nbuiltins.slow_started.set()\ntime.sleep(0.3)\nfinished = True\n"
    )
    code = (
        "import builtins, sys, threading\n"
        f"sys.path.insert(0, {str(tmp_path)!r})\n"
        "builtins.slow_started = threading.Event()\n"
        "from p2pmarket import loading\n"
        "loading.start('slow_module')\n"
        "builtins.slow_started.wait(5)\n"
        "print(getattr(loading.load('slow_module'), 'finished', False))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["True"]
