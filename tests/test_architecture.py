"""The domain never imports the UI (STYLE: harlequin's contract, checked in a subprocess)."""

import subprocess
import sys


def test_domain_imports_no_ui():
    code = (
        "import sys\n"
        "import p2pmarket.services.accounts, p2pmarket.services.shops, p2pmarket.services.demo\n"
        "import p2pmarket.db, p2pmarket.models, p2pmarket.money\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('textual', 'typer')"
        " or m.startswith(('p2pmarket.tui', 'p2pmarket.cli'))]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""
