"""The layers hold: the service uses only what `solvers` exports, `solvers` never reaches into
the service, and only the backend module touches CuPy (read from the source, so a new import
anywhere fails here).

(Not at the top of tests/: pytest would put tests/ on sys.path, where tests/solvers and
tests/service read as namespace packages that shadow the real ones in Dask worker processes.)"""

from __future__ import annotations

import ast
from pathlib import Path

import solvers

ROOT = Path(__file__).resolve().parents[2]


def _modules(package: str) -> list[tuple[Path, ast.Module]]:
    return [(path, ast.parse(path.read_text())) for path in sorted((ROOT / package).rglob("*.py"))]


def _imports(tree: ast.Module) -> list[str]:
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.extend(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
            names.extend(f"{node.module}.{alias.name}" for alias in node.names)
    return names


def test_the_service_imports_only_what_solvers_exports() -> None:
    exported = set(solvers.__all__)
    reached: list[str] = []
    for path, tree in _modules("service"):
        for name in _imports(tree):
            parts = name.split(".")
            if parts[0] == "solvers" and len(parts) > 1 and parts[1] not in exported:
                reached.append(f"{path.relative_to(ROOT)}: {name}")
        for node in ast.walk(tree):  # solvers.<module>.<name> in expressions
            if (
                isinstance(node, ast.Attribute)
                and isinstance(node.value, ast.Name)
                and node.value.id == "solvers"
                and node.attr not in exported
            ):
                reached.append(f"{path.relative_to(ROOT)}:{node.lineno}: solvers.{node.attr}")
    assert not reached, "the service reaches past solvers/__init__:\n" + "\n".join(reached)


def test_solvers_never_imports_the_service_and_only_its_backend_module_imports_cupy() -> None:
    for path, tree in _modules("solvers"):
        roots = {name.split(".")[0] for name in _imports(tree)}
        assert not roots & {"service", "fastapi", "starlette", "uvicorn"}, path
        if path.name != "backends.py":
            assert "cupy" not in roots, f"{path} imports cupy"


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _targets(name: str, is_package: bool, node: ast.ImportFrom | ast.Import) -> list[str]:
    if isinstance(node, ast.Import):
        return [alias.name for alias in node.names]
    base = name.split(".") if is_package else name.split(".")[:-1]
    if node.level:
        base = base[: len(base) - (node.level - 1)]
    else:
        base = []
    module = ".".join([*base, *(node.module.split(".") if node.module else [])])
    return [module, *(f"{module}.{alias.name}" for alias in node.names)]


def test_no_import_cycles_in_solvers_or_service() -> None:
    """Imports inside functions count too: a lazy import back is still a cycle of design."""
    graph: dict[str, set[str]] = {}
    for package in ("solvers", "service"):
        for path, tree in _modules(package):
            name = _module_name(path)
            graph[name] = set()
            for node in ast.walk(tree):
                if isinstance(node, ast.Import | ast.ImportFrom):
                    graph[name].update(_targets(name, path.name == "__init__.py", node))
    for name in graph:
        # a package's own __init__ re-exporting its modules is not a cycle of design
        graph[name] = {t for t in graph[name] if t in graph and not name.startswith(t + ".")}
    cycles = [sorted(group) for group in _strongly_connected(graph) if len(group) > 1]
    assert not cycles, "import cycles among: " + "; ".join(", ".join(c) for c in cycles)


def _strongly_connected(graph: dict[str, set[str]]) -> list[set[str]]:
    """Tarjan's strongly connected components of `graph`."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    groups: list[set[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        for target in graph[node]:
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            group = set()
            while True:
                member = stack.pop()
                group.add(member)
                if member == node:
                    break
            groups.append(group)

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return groups
