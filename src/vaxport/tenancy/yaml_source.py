"""Reading configuration YAML safely, keeping the line of every field for error messages.

Differences from ``yaml.safe_load``, each closing a trap of YAML 1.1 in hand-written files:
duplicate keys are an error (not "last one wins"); only ``true``/``false`` are booleans, so
a region coded ``NO`` or ``ON`` stays text; a number with a leading zero (``0114``, a
Swedish municipality) stays text instead of becoming octal 76, and ``10:30`` is not the
base-60 number 630; alias expansion is bounded.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

_BOOL_TAG = "tag:yaml.org,2002:bool"
_INT_TAG = "tag:yaml.org,2002:int"
MAX_NODES = 500_000


# libyaml's parser when PyYAML was built with it: ~15x faster on a large region tree. Type
# resolution stays in Python (the resolver below) either way.
_SafeLoader: type[yaml.SafeLoader] = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


class _Loader(_SafeLoader):  # type: ignore[valid-type,misc]
    """SafeLoader with YAML 1.2 booleans and plain decimal integers."""


_Loader.yaml_implicit_resolvers = {
    first: [(tag, rx) for tag, rx in resolvers if tag != _BOOL_TAG]
    for first, resolvers in _SafeLoader.yaml_implicit_resolvers.items()
}
for _first, _resolvers in _Loader.yaml_implicit_resolvers.items():
    _Loader.yaml_implicit_resolvers[_first] = [(t, rx) for t, rx in _resolvers if t != _INT_TAG]
_Loader.add_implicit_resolver(
    _BOOL_TAG, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF")
)
_Loader.add_implicit_resolver(
    _INT_TAG, re.compile(r"^(?:[-+]?(?:0|[1-9][0-9_]*)|0x[0-9a-fA-F_]+)$"), list("-+0123456789")
)


@dataclass
class ParsedYaml:
    """The document, the line of each dotted path, and any structural problems."""

    data: Any = None
    lines: dict[str, int] = field(default_factory=dict)
    problems: list[tuple[str, str, int | None]] = field(default_factory=list)

    def line_of(self, path: str) -> int | None:
        """The line of ``path`` or of its nearest ancestor present in the file."""
        while True:
            if path in self.lines:
                return self.lines[path]
            if "." not in path:
                return None
            path = path.rsplit(".", 1)[0]


def _join(prefix: str, key: object) -> str:
    return f"{prefix}.{key}" if prefix else str(key)


class _Walker:
    def __init__(self, parsed: ParsedYaml) -> None:
        self.parsed = parsed
        self.count = 0

    def walk(self, node: Node, path: str) -> None:
        self.count += 1
        if self.count > MAX_NODES:
            raise _TooLargeError
        if isinstance(node, MappingNode):
            first_line: dict[str, int] = {}
            for key_node, value_node in node.value:
                if key_node.tag == "tag:yaml.org,2002:merge":
                    self.walk(value_node, path)
                    continue
                key = key_node.value if isinstance(key_node, ScalarNode) else "?"
                child = _join(path, key)
                line = key_node.start_mark.line + 1
                if key in first_line:
                    self.parsed.problems.append(
                        (child, f"duplicate key (first given on line {first_line[key]})", line)
                    )
                else:
                    first_line[key] = line
                    self.parsed.lines.setdefault(child, line)
                self.walk(value_node, child)
        elif isinstance(node, SequenceNode):
            for i, item in enumerate(node.value):
                child = _join(path, i)
                self.parsed.lines.setdefault(child, item.start_mark.line + 1)
                self.walk(item, child)


class _TooLargeError(Exception):
    pass


def parse(text: str) -> ParsedYaml:
    """Parse one YAML document; syntax errors come back as problems with their line."""
    parsed = ParsedYaml()
    loader = _Loader(text)
    try:
        node = loader.get_single_node()
        if node is None:
            parsed.problems.append(("(document)", "the file is empty", None))
            return parsed
        _Walker(parsed).walk(node, "")
        parsed.data = loader.construct_document(node)
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        line = mark.line + 1 if mark else None
        where = f"line {line}, column {mark.column + 1}: " if mark else ""
        what = " ".join(str(p) for p in (exc.context, exc.problem) if p)
        parsed.problems.append(("(syntax)", f"{where}{what}", line))
    except yaml.YAMLError as exc:
        parsed.problems.append(("(syntax)", str(exc), None))
    except _TooLargeError:
        parsed.problems.append(
            ("(document)", f"more than {MAX_NODES} values (are aliases expanding?)", None)
        )
    except RecursionError:
        parsed.problems.append(("(document)", "nested too deeply", None))
    finally:
        loader.dispose()
    return parsed
