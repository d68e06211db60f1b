"""The checkable rules of the house (DESIGN.md, "Checkable forms"), read from the source.

Import direction between packages is checked by ``lint-imports`` (pyproject.toml);
these are the rules import contracts cannot say.
"""

from __future__ import annotations

import ast
import tomllib
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
SRC = ROOT / "src" / "vaxport"
UNIT_OF_WORK = SRC / "core" / "db.py"


def _modules() -> Iterator[tuple[Path, ast.Module]]:
    for path in sorted(SRC.rglob("*.py")):
        yield path, ast.parse(path.read_text(), filename=str(path))


def _where(path: Path, node: ast.AST) -> str:
    return f"{path.relative_to(ROOT)}:{getattr(node, 'lineno', '?')}"


def _commit_references(tree: ast.Module) -> Iterator[ast.AST]:
    """Every way this module could reach a ``commit``: ``x.commit`` (any receiver, called
    or not), a bare ``commit`` name or import, and ``"commit"`` passed to a call
    (``getattr(session, "commit")``, ``methodcaller("commit")``)."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute):
            name = node.attr
        elif isinstance(node, ast.Name):
            name = node.id
        elif isinstance(node, ast.alias):
            name = node.name.rsplit(".", 1)[-1]
        else:
            name = ""
        if name == "commit":
            yield node
        if isinstance(node, ast.Call):
            for arg in [*node.args, *(k.value for k in node.keywords)]:
                if isinstance(arg, ast.Constant) and arg.value == "commit":
                    yield node


def _imported_packages(tree: ast.Module) -> Iterator[tuple[ast.AST, str]]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from ((node, a.name.split(".")[0]) for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            yield node, node.module.split(".")[0]


def test_commit_appears_only_in_the_unit_of_work() -> None:
    offenders = [
        _where(path, node)
        for path, tree in _modules()
        if path != UNIT_OF_WORK
        for node in _commit_references(tree)
    ]
    assert offenders == [], "commit only in src/vaxport/core/db.py (the unit of work)"
    # The walk sees the commits that are allowed: it is not vacuous.
    assert list(_commit_references(ast.parse(UNIT_OF_WORK.read_text())))


def test_the_commit_rule_catches_what_the_banned_api_rule_cannot() -> None:
    caught = [
        "uow.session.commit()",
        "await conn.commit()",
        "engine.sync_engine.commit",
        "getattr(session, 'commit')()",
        "operator.methodcaller('commit')(s)",
        "from x import commit as c",
        "commit()",
    ]
    for source in caught:
        assert list(_commit_references(ast.parse(source))), source
    for source in ["uow.after_commit(drop)", "invalidate_after_commit(uow)", "'committed'"]:
        assert not list(_commit_references(ast.parse(source))), source


def test_the_banned_api_rule_is_kept() -> None:
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())
    banned = config["tool"]["ruff"]["lint"]["flake8-tidy-imports"]["banned-api"]
    assert "sqlalchemy.orm.Session.commit" in banned
    assert "TID" in config["tool"]["ruff"]["lint"]["select"]


def test_routes_and_pages_never_import_sqlalchemy() -> None:
    offenders = [
        _where(path, node)
        for path, tree in _modules()
        if path.name == "api.py"
        or path.name.endswith("_api.py")
        or path.relative_to(SRC).parts[0] == "web"
        for node, package in _imported_packages(tree)
        if package == "sqlalchemy"
    ]
    assert offenders == [], "routes and pages reach the database through services only"


def test_services_never_import_the_web_framework() -> None:
    offenders = [
        _where(path, node)
        for path, tree in _modules()
        if path.name == "service.py"
        for node, package in _imported_packages(tree)
        if package in {"fastapi", "starlette"}
    ]
    assert offenders == [], "a use case never knows it is called over HTTP"


SPREADSHEET = SRC / "core" / "spreadsheet.py"
_WRITERS = {("csv", "writer"), ("csv", "DictWriter"), ("openpyxl", "Workbook")}


def _writer_references(tree: ast.Module) -> Iterator[ast.AST]:
    """``csv.writer``, ``csv.DictWriter``, ``openpyxl.Workbook``, as attributes or imports."""
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Name):
            pairs = [(node.value.id, node.attr)]
        elif isinstance(node, ast.ImportFrom):
            pairs = [(node.module or "", a.name) for a in node.names]
        else:
            continue
        if any(pair in _WRITERS for pair in pairs):
            yield node


def test_csv_and_workbooks_are_written_only_through_the_spreadsheet_helper() -> None:
    # Issue 12: every file we produce must neutralise cells a spreadsheet would run as
    # formulas; core/spreadsheet.py does, a writer made elsewhere would not.
    offenders = [
        _where(path, node)
        for path, tree in _modules()
        if path != SPREADSHEET
        for node in _writer_references(tree)
    ]
    assert offenders == [], "write CSV through vaxport.core.spreadsheet.CsvWriter"
    assert list(_writer_references(ast.parse("import csv\nw = csv.writer(out)")))


# What people read goes through the catalogs (docs/registration.md, "Errors people read"):
# a problem's detail and a field error's reason are message ids marked with ``N_`` and
# filled from named parameters, never text built on the spot. Operators' tools (CLI,
# tenant configuration files, the person export) and machine-to-machine callbacks speak
# English to operators and are left out.
_MESSAGE_ARG = {  # callable -> position of its message argument
    "field_error": 1,
    "invalid": 1,
    "refused": 0,
    **dict.fromkeys(
        (
            "Problem",
            "BadRequest",
            "Unauthorized",
            "Forbidden",
            "NotFound",
            "Conflict",
            "Gone",
            "ValidationFailed",
            "TooManyRequests",
            "ServiceUnavailable",
        ),
        0,
    ),
}
_OPERATOR_PATHS = (
    "cli.py",
    "cli/",
    "demo.py",
    "identity/bench.py",
    "registration/person.py",
    "tenancy/validation.py",
    "tenancy/config.py",
    "notifications/callbacks.py",
    "core/errors.py",  # the mechanism itself
)


def _spoken_to_operators(path: Path) -> bool:
    where = "/" + path.relative_to(SRC).as_posix()
    return any(where.endswith("/" + p) or f"/{p}" in where for p in _OPERATOR_PATHS)


def _callee(call: ast.Call) -> str:
    func = call.func
    return func.id if isinstance(func, ast.Name) else getattr(func, "attr", "")


def _is_marked(node: ast.expr) -> bool:
    return isinstance(node, ast.Call) and _callee(node) == "N_"


def _unmarked_constants(tree: ast.Module) -> set[str]:
    """Names this module binds to bare or built text (a message id must be ``N_(...)``)."""
    return {
        target.id
        for node in ast.walk(tree)
        if isinstance(node, ast.Assign)
        and (
            isinstance(node.value, ast.JoinedStr)
            or (isinstance(node.value, ast.Constant) and isinstance(node.value.value, str))
        )
        for target in node.targets
        if isinstance(target, ast.Name)
    }


def _unmarked_messages(path: Path, tree: ast.Module) -> Iterator[str]:
    bare = _unmarked_constants(tree)
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or _callee(node) not in _MESSAGE_ARG:
            continue
        position = _MESSAGE_ARG[_callee(node)]
        if len(node.args) <= position:
            continue
        arg = node.args[position]
        if _callee(node) == "ValidationFailed" and any(k.arg == "errors" for k in node.keywords):
            continue  # its detail is rebuilt from its field errors wherever it is read
        built = isinstance(arg, ast.JoinedStr | ast.BinOp) or (
            isinstance(arg, ast.Call) and _callee(arg) in ("format", "str", "join")
        )
        literal = isinstance(arg, ast.Constant) and isinstance(arg.value, str)
        named = isinstance(arg, ast.Name) and arg.id in bare
        if built or literal or named:
            yield f"{_where(path, node)}: {ast.unparse(arg)[:60]}"


def test_messages_people_read_are_marked_message_ids_not_built_text() -> None:
    offenders = [
        where
        for path, tree in _modules()
        if not _spoken_to_operators(path)
        for where in _unmarked_messages(path, tree)
    ]
    assert not offenders, "mark these with N_ and pass parameters by name:\n" + "\n".join(offenders)
