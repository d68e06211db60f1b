"""Floors: core knows no domain (checked on the source, deferred imports included)."""

from __future__ import annotations

import ast
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src" / "vaxport"
CORE = SRC / "core"
# What core may not import: the contexts, the web layer and the entry floor.
FORBIDDEN = (
    "tenancy",
    "identity",
    "registration",
    "facilities",
    "notifications",
    "audit",
    "scheduling",
    "immunization",
    "certificates",
    "web",
    "app",
    "cli",
    "wiring",
    "demo",
    "all_models",
    "all_handlers",
    "migrations",
)


def _imports(tree: ast.AST) -> list[tuple[int, str]]:
    """Every absolute module a file imports, at any depth (deferred imports included)."""
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
            if node.module == "vaxport":  # from vaxport import tenancy
                found += [(node.lineno, f"vaxport.{alias.name}") for alias in node.names]
    return found


def _is_forbidden(module: str) -> bool:
    parts = module.split(".")
    return len(parts) > 1 and parts[0] == "vaxport" and parts[1] in FORBIDDEN


def upward_imports_of_core() -> list[str]:
    """``file:line module`` for every import of a domain or entry module from core."""
    bad = []
    for path in sorted(CORE.rglob("*.py")):
        rel = path.relative_to(SRC).as_posix()
        for line, module in _imports(ast.parse(path.read_text(encoding="utf-8"))):
            if _is_forbidden(module):
                bad.append(f"{rel}:{line} {module}")
    return bad


def test_core_imports_no_context_web_or_entry_module() -> None:
    assert upward_imports_of_core() == []


def test_the_check_sees_deferred_and_package_imports() -> None:
    tree = ast.parse(
        "def f():\n"
        "    from vaxport.identity.access.edge import CurrentActor\n"
        "    import vaxport.all_models\n"
        "from vaxport import tenancy\n"
        "from vaxport.core import db\n"
    )
    modules = sorted(m for _, m in _imports(tree) if _is_forbidden(m))
    assert modules == ["vaxport.all_models", "vaxport.identity.access.edge", "vaxport.tenancy"]
