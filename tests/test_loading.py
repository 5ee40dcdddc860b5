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
