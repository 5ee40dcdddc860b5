"""The domain never imports the UI (STYLE: harlequin's contract, checked in a subprocess)."""

import subprocess
import sys


def test_domain_imports_no_ui():
    code = (
        "import sys\n"
        "import p2pmarket.services.trust.accounts, p2pmarket.services.market.shops\n"
        "import p2pmarket.services.market.demo\n"
        "import p2pmarket.store.engine, p2pmarket.models, p2pmarket.money\n"
        "bad = [m for m in sys.modules if m.split('.')[0] in ('textual', 'typer')"
        " or m.startswith(('p2pmarket.tui', 'p2pmarket.cli'))]\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == ""


# Cycles allowed for now (none): a known one would be listed here as a set of modules.
KNOWN_CYCLES: list[set[str]] = []


def _cycles(graph) -> list[set[str]]:
    """Strongly connected groups of more than one module (Tarjan), imports that run only."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[set[str]] = []

    def visit(module: str) -> None:
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for imported in graph.find_modules_directly_imported_by(module):
            if imported not in graph.modules or not imported.startswith("p2pmarket"):
                continue
            if imported not in index:
                visit(imported)
                low[module] = min(low[module], low[imported])
            elif imported in on_stack:
                low[module] = min(low[module], index[imported])
        if low[module] == index[module]:
            group = set()
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.add(member)
                if member == module:
                    break
            if len(group) > 1:
                found.append(group)

    for module in sorted(graph.modules):
        if module not in index:
            visit(module)
    return found


def test_no_import_cycle_between_files():
    import grimp

    graph = grimp.build_graph("p2pmarket", exclude_type_checking_imports=True)
    assert [c for c in _cycles(graph) if c not in KNOWN_CYCLES] == []


def test_the_cycle_check_finds_a_cycle():
    """A graph with a -> b -> a is reported, so the test above can fail."""
    import grimp

    graph = grimp.ImportGraph()
    for module in ("p2pmarket.a", "p2pmarket.b", "p2pmarket.c"):
        graph.add_module(module)
    graph.add_import(importer="p2pmarket.a", imported="p2pmarket.b")
    graph.add_import(importer="p2pmarket.b", imported="p2pmarket.a")
    graph.add_import(importer="p2pmarket.c", imported="p2pmarket.a")
    assert _cycles(graph) == [{"p2pmarket.a", "p2pmarket.b"}]
