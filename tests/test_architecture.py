"""The layout's rules, checked on the imports themselves (docs/architecture.md).

- ``tufindex`` (the contract) imports neither tool;
- ``tufpip`` and ``repo_sign`` never import each other;
- no import cycle among the project's modules.

Imports are read with ``ast`` from every module, wherever they stand (inside
functions too: a lazy import is still a dependency), except those under
``if TYPE_CHECKING:``, which exist for annotations only.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = {"tufpip": "client", "repo_sign": "repo_tools", "tufindex": "contract"}
FORBIDDEN = {
    "tufindex": {"tufpip", "repo_sign"},
    "tufpip": {"repo_sign"},
    "repo_sign": {"tufpip"},
}


def _modules() -> dict[str, Path]:
    modules = {}
    for package, folder in PACKAGES.items():
        for path in sorted((ROOT / folder / package).rglob("*.py")):
            parts = path.relative_to(ROOT / folder).with_suffix("").parts
            name = ".".join(parts[:-1] if parts[-1] == "__init__" else parts)
            modules[name] = path
    return modules


def _type_checking_nodes(tree: ast.AST) -> set[ast.AST]:
    skipped: set[ast.AST] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            skipped.update(ast.walk(node))
    return skipped


def _imports(module: str, path: Path, known: set[str]) -> Iterator[str]:
    """The project modules that ``module`` imports."""
    tree = ast.parse(path.read_text())
    skipped = _type_checking_nodes(tree)
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    for node in ast.walk(tree):
        if node in skipped:
            continue
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.rsplit(".", node.level - 1)[0] if node.level > 1 else package
                base = f"{anchor}.{base}".rstrip(".")
            names = [f"{base}.{alias.name}" for alias in node.names] + [base]
        else:
            continue
        for name in names:
            while name and name not in known:
                name = name.rpartition(".")[0]
            if name and name != module:
                yield name


def _graph() -> dict[str, set[str]]:
    modules = _modules()
    return {name: set(_imports(name, path, set(modules))) for name, path in modules.items()}


def test_roots_import_only_what_they_may() -> None:
    wrong = [
        f"{module} imports {imported}"
        for module, imports in _graph().items()
        for imported in imports
        if imported.split(".")[0] in FORBIDDEN[module.split(".")[0]]
    ]
    assert wrong == []


def test_no_import_cycles() -> None:
    graph = _graph()
    cycles = []
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(node: str) -> None:
        state[node] = 1
        path.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(" -> ".join([*path[path.index(nxt) :], nxt]))
            elif nxt not in state:
                visit(nxt)
        path.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert cycles == []


def test_the_graph_is_read() -> None:
    """The checks above see real edges (a parser that read nothing would pass them)."""
    graph = _graph()
    assert "tufindex.targetpaths" in graph["tufpip.session"]
    assert "tufindex.targetpaths" in graph["repo_sign.index"]
