"""Draw vaxport's package-level import graph from the source (deferred imports included).

    python tools/import_graph.py          # edges with counts, cycles, upward imports
    python tools/import_graph.py --dot    # Graphviz: ... --dot | dot -Tsvg > graph.svg

A package is a top-level module of ``src/vaxport`` (the entry modules count as one,
``entry``). ``lint-imports`` enforces the rules; this shows the shape.
"""

from __future__ import annotations

import ast
import sys
from collections import Counter, defaultdict
from pathlib import Path

SRC = Path(__file__).resolve().parent.parent / "src" / "vaxport"
ENTRY = {"cli", "app", "demo", "wiring", "__main__"}
FLOOR = {"entry": 3, "web": 2, "core": 0}  # contexts are floor 1


def package_of(module: str) -> str | None:
    """The top-level package a ``vaxport.*`` module belongs to (None outside vaxport)."""
    parts = module.split(".")
    if parts[0] != "vaxport" or len(parts) < 2 or parts[1] in {"migrations", "locales"}:
        return None
    if parts[1] in ENTRY:
        return "entry"
    if parts[1] == "settings":  # configuration lives on core's floor
        return "core"
    if not ((SRC / parts[1]).is_dir() or (SRC / f"{parts[1]}.py").is_file()):
        return None  # a name from the package itself, e.g. __version__
    return parts[1]


def imports_of(path: Path) -> list[str]:
    """Every absolute module ``path`` imports, at any depth."""
    found: list[str] = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append(node.module)
            if node.module == "vaxport":
                found += [f"vaxport.{alias.name}" for alias in node.names]
    return found


def graph() -> tuple[dict[str, Counter[str]], list[str]]:
    """(package -> imported package -> count, upward imports as 'a -> b' lines)."""
    edges: dict[str, Counter[str]] = defaultdict(Counter)
    upward: list[str] = []
    for path in sorted(SRC.rglob("*.py")):
        module = ".".join(("vaxport", *path.relative_to(SRC).with_suffix("").parts))
        source = package_of(module.removesuffix(".__init__"))
        if source is None:
            continue
        for target_module in imports_of(path):
            target = package_of(target_module)
            if target is None or target == source:
                continue
            edges[source][target] += 1
            if FLOOR.get(target, 1) > FLOOR.get(source, 1):
                upward.append(f"{module} -> {target_module}")
    return edges, upward


def cycles(edges: dict[str, Counter[str]]) -> list[list[str]]:
    """Strongly connected components with more than one package (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in edges.get(v, {}):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(set(edges) | {w for targets in edges.values() for w in targets}):
        if v not in index:
            visit(v)
    return found


def main(argv: list[str]) -> int:
    edges, upward = graph()
    if "--dot" in argv:
        print("digraph vaxport {\n  rankdir=TB; node [shape=box];")
        for source, targets in sorted(edges.items()):
            for target, count in sorted(targets.items()):
                print(f'  "{source}" -> "{target}" [label="{count}"];')
        print("}")
        return 0
    for source, targets in sorted(edges.items()):
        listed = ", ".join(f"{t} ({n})" for t, n in sorted(targets.items()))
        print(f"{source} -> {listed}")
    found = cycles(edges)
    print(f"cycles between packages: {len(found)}", *(" <-> ".join(c) for c in found), sep="\n  ")
    print(f"upward imports: {len(upward)}", *upward, sep="\n  ")
    return 1 if found or upward else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
