"""The house rules of the layout, read from the code's own imports (docs/architecture.md).

core < technicians < dispatch < simulation < web: a module may import its own layer and the ones below it,
never one above. routing is pure (numpy + OR-Tools): any layer may use it, and it imports nothing
of the project. No
product module imports the benchmarks, and no import cycle exists among product modules,
counting imports made inside functions (a late import is how a loop hides).
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCT = ("core", "technicians", "dispatch", "routing", "simulation", "web")
LAYER = {"core": 0, "technicians": 1, "dispatch": 2, "simulation": 3, "web": 4}
PROJECT = (*PRODUCT, "bench", "tests", "migrations")


def module_name(path: Path, root: Path) -> str:
    parts = list(path.relative_to(root).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules(root: Path, packages: tuple[str, ...] = PRODUCT) -> dict[str, Path]:
    return {module_name(p, root): p for pkg in packages for p in sorted((root / pkg).rglob("*.py"))}


def imports_of(name: str, path: Path, known: set[str]) -> set[str]:
    """The project modules `name` imports anywhere in its file (top level or inside functions),
    each resolved to the most specific module that exists: `from dispatch import kpis` is
    dispatch.kpis, `from dispatch.planning import load_day` is the package dispatch.planning."""
    package = name if path.name == "__init__.py" else name.rpartition(".")[0]
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text(), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")[: len(package.split(".")) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            targets = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for target in targets:
            while target and target not in known:
                target = target.rpartition(".")[0]
            if target and target.split(".")[0] in PROJECT and target != name:
                found.add(target)
                break  # the most specific existing module of this name
    return found


def import_graph(root: Path) -> dict[str, set[str]]:
    mods = modules(root)
    known = set(mods) | set(modules(root, ("bench",)))
    return {name: imports_of(name, path, known) for name, path in mods.items()}


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan), each sorted."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        on_stack.add(v)
        for w in graph.get(v, ()):
            if w not in graph:
                continue
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in on_stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                on_stack.discard(w)
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def layer_violations(graph: dict[str, set[str]]) -> list[str]:
    bad = []
    for name, targets in sorted(graph.items()):
        top = name.split(".")[0]
        for target in sorted(targets):
            other = target.split(".")[0]
            if other == "bench":
                bad.append(f"{name} imports the benchmark module {target}")
            elif top == "routing" and other != "routing":
                bad.append(f"{name} (routing is pure) imports {target}")
            elif top in LAYER and other in LAYER and LAYER[other] > LAYER[top]:
                bad.append(f"{name} ({top}) imports {target} from the higher layer {other}")
    return bad


def pages_importing_the_api(graph: dict[str, set[str]]) -> list[str]:
    """web/ translates HTTP for two audiences side by side: a page that needs what an API view
    has takes it from a neutral web module or from the domain, never from the API module."""
    return [
        f"{name} imports {target}"
        for name, targets in sorted(graph.items())
        if name.startswith("web.pages")
        for target in sorted(targets)
        if target == "web.api" or target.startswith("web.api.")
    ]


def test_no_product_module_imports_a_higher_layer_or_the_benchmarks():
    assert layer_violations(import_graph(ROOT)) == []


def test_no_import_cycle_among_product_modules_counting_late_imports():
    assert cycles(import_graph(ROOT)) == []


def test_no_page_imports_an_api_module():
    assert pages_importing_the_api(import_graph(ROOT)) == []


def test_no_benchmark_module_lives_in_a_product_package():
    stray = [str(p.relative_to(ROOT)) for pkg in PRODUCT for p in (ROOT / pkg).rglob("*bench*")]
    assert stray == []


# The checks themselves must be able to fail: a small tree with a loop hidden in a function
# and an import from a lower layer into a higher one.


@pytest.fixture
def bad_tree(tmp_path: Path) -> Path:
    files = {
        "core/__init__.py": "",
        "core/a.py": "def f():\n    from core import b  # late, to dodge the loop\n",
        "core/b.py": "from core.a import f\nfrom web.views import page\n",
        "technicians/__init__.py": "",
        "dispatch/__init__.py": "",
        "routing/__init__.py": "from dispatch import x\n",
        "web/__init__.py": "",
        "web/views.py": "page = 1\n",
        "web/api/__init__.py": "",
        "web/api/kpis.py": "def table():\n    return []\n",
        "web/pages/__init__.py": "",
        "web/pages/kpis.py": "def page():\n    from web.api.kpis import table  # late, still an import\n",
        "web/pages/orders.py": "from web.api import kpis\nfrom web.views import page\n",
    }
    for rel, text in files.items():
        (tmp_path / rel).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / rel).write_text(text)
    return tmp_path


def test_the_checks_find_a_late_import_loop_and_upward_imports(bad_tree: Path):
    graph = import_graph(bad_tree)
    assert cycles(graph) == [["core.a", "core.b"]]
    assert layer_violations(graph) == [
        "core.b (core) imports web.views from the higher layer web",
        "routing (routing is pure) imports dispatch",
    ]


def test_the_check_finds_pages_importing_the_api(bad_tree: Path):
    assert pages_importing_the_api(import_graph(bad_tree)) == [
        "web.pages.kpis imports web.api.kpis",
        "web.pages.orders imports web.api.kpis",
    ]
