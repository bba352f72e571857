"""The layers hold: the service uses only what `solvers` exports, `solvers` never reaches into
the service, and only the backend module touches CuPy (read from the source, so a new import
anywhere fails here)."""

from __future__ import annotations

import ast
from pathlib import Path

import solvers

ROOT = Path(__file__).resolve().parents[1]


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
