"""Validating a configuration file: every problem, each as ``FILE: path.to.field: reason``.

Three passes, all of which run so that one bad field never hides another:
1. YAML syntax and duplicate keys;
2. the pydantic schema (types, ranges, per-object rules) and the cross-object checks below,
   which read the raw document defensively and so work even when other parts are invalid;
3. on a valid config: every declared language is complete or has a declared fallback
   (:mod:`.languages`), and the checks of other contexts, given as :class:`ConfigRules`.

Tenancy imports no other context: the composition root (``wiring.py``) collects their
checks, and how to name schema errors inside the sections they own, into the
:class:`ConfigRules` every caller passes.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any

from pydantic import ValidationError

from vaxport.core.errors import ValidationFailed, field_error
from vaxport.tenancy import yaml_source
from vaxport.tenancy.config import TenantConfig
from vaxport.tenancy.config_schedule import schedule_checks
from vaxport.tenancy.config_types import canonical_locale
from vaxport.tenancy.languages import language_problems
from vaxport.tenancy.raw_document import duplicate_values as _duplicates
from vaxport.tenancy.raw_document import items_at as _items

MAX_FILE_BYTES = 20 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class ConfigProblem:
    """One thing wrong with a configuration: where (dotted path) and why."""

    field: str
    reason: str
    line: int | None = None

    @property
    def text(self) -> str:
        """The reason with its line, when known and not already in the reason."""
        if self.line is None or self.reason.startswith("line "):
            return self.reason
        return f"{self.reason} (line {self.line})"

    def render(self, source: str) -> str:
        """``FILE: path.to.field: reason``."""
        return f"{source}: {self.field}: {self.text}"


class ConfigInvalid(ValidationFailed):
    """A configuration was refused; carries every problem found."""

    slug, title = "invalid-configuration", "Invalid tenant configuration"

    def __init__(self, source: str, problems: list[ConfigProblem]) -> None:
        self.source = source
        self.problems = problems
        super().__init__(
            f"{len(problems)} problem(s) in {source}",
            errors=[field_error(p.field, p.text) for p in problems],
        )

    def lines(self) -> list[str]:
        """Every problem as ``FILE: path.to.field: reason``."""
        return [p.render(self.source) for p in self.problems]


ConfigCheck = Callable[[TenantConfig], Iterable[ConfigProblem]]
# (error location below the section, pydantic's reason, section name) -> (path, reason).
Locator = Callable[[Sequence[int | str], str, str], tuple[str, str]]


@dataclass(frozen=True, slots=True)
class ConfigRules:
    """What the contexts above tenancy check in a configuration.

    ``checks`` run on every valid configuration and yield problems; ``locators`` name a
    schema error inside a section another context owns (it knows its union tags).
    """

    checks: tuple[ConfigCheck, ...] = ()
    locators: Mapping[str, Locator] = field(default_factory=lambda: MappingProxyType({}))


def validate_file(path: Path, *, rules: ConfigRules) -> TenantConfig:
    """Read and validate a configuration file; raises :class:`ConfigInvalid`."""
    source = str(path)
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise ConfigInvalid(
                source, [ConfigProblem("(file)", f"larger than {MAX_FILE_BYTES} bytes")]
            )
        text = path.read_bytes().decode("utf-8")
    except OSError as exc:
        raise ConfigInvalid(source, [ConfigProblem("(file)", exc.strerror or str(exc))]) from exc
    except UnicodeDecodeError as exc:
        raise ConfigInvalid(
            source, [ConfigProblem("(file)", f"not UTF-8 text (byte {exc.start})")]
        ) from exc
    return validate_text(text, source=source, rules=rules)


def validate_text(text: str, *, source: str, rules: ConfigRules) -> TenantConfig:
    """Validate configuration YAML; raises :class:`ConfigInvalid` listing every problem."""
    parsed = yaml_source.parse(text)
    problems = [ConfigProblem(f, r, line) for f, r, line in parsed.problems]
    if parsed.data is None:
        raise ConfigInvalid(source, problems or [ConfigProblem("(document)", "no content")])
    raw = parsed.data
    config: TenantConfig | None = None
    found: list[tuple[str, str]] = []
    try:
        config = TenantConfig.model_validate(raw, context=_locale_context(raw))
    except ValidationError as exc:
        found.extend(_pydantic_problems(exc, rules.locators))
    found.extend(cross_checks(raw))
    if config is not None and not found and not problems:
        found.extend(language_problems(config))
        for check in rules.checks:
            found.extend((p.field, p.reason) for p in check(config))
    problems.extend(ConfigProblem(f, r, parsed.line_of(f)) for f, r in _unique(found))
    if problems:
        problems.sort(key=lambda p: p.line if p.line is not None else 1 << 30)
        raise ConfigInvalid(source, problems)
    assert config is not None
    return config


def _unique(items: list[tuple[str, str]]) -> list[tuple[str, str]]:
    return list(dict.fromkeys(items))


def _locale_context(raw: Any) -> dict[str, Any]:
    """The tenant's locales as far as they are valid, so localized texts can be checked."""
    if not isinstance(raw, dict) or not isinstance(raw.get("locales"), list):
        return {}
    locales: set[str] = set()
    for value in raw["locales"]:
        try:
            locales.add(canonical_locale(value))
        except (ValueError, AttributeError):
            return {}
    context: dict[str, Any] = {"locales": locales}
    default = raw.get("default_locale")
    try:
        if isinstance(default, str) and canonical_locale(default) in locales:
            context["default_locale"] = canonical_locale(default)
    except ValueError:
        pass
    return context


_REASONS = {
    "extra_forbidden": "unknown field",
    "missing": "required field is missing",
}


def _pydantic_problems(
    exc: ValidationError, locators: Mapping[str, Locator]
) -> Iterator[tuple[str, str]]:
    for err in exc.errors(include_url=False):
        path = ".".join(str(p) for p in err["loc"]) or "(document)"
        reason = _REASONS.get(err["type"]) or str(err["msg"]).removeprefix("Value error, ")
        locate = locators.get(str(err["loc"][0])) if err["loc"] else None
        if locate is not None:
            # The context owning that section knows its union tags.
            path, reason = locate(err["loc"][1:], reason, str(err["loc"][0]))
        value = err.get("input")
        if err["type"] == "string_type" and isinstance(value, int | float | bool | dt.date):
            reason += f"; write {value!r} in quotes if it is meant as text"
        yield path, reason


def cross_checks(raw: Any) -> Iterator[tuple[str, str]]:
    """Checks across objects, run on the raw document so they work beside other errors."""
    if not isinstance(raw, dict):
        return
    context = _locale_context(raw)
    default = raw.get("default_locale")
    if context and isinstance(default, str) and "default_locale" not in context:
        try:
            canonical_locale(default)
            yield "default_locale", f"{default!r} is not one of locales"
        except ValueError:
            pass  # the schema already reports an unknown locale
    yield from _region_checks(raw)
    products = _items(raw, "vaccines")
    yield from _duplicates(products, "id", "vaccines", "product id")
    known = {p["id"] for _, p in products if isinstance(p.get("id"), str)}
    for i, product in products:
        follows = product.get("may_follow")
        for j, ref in enumerate(follows if isinstance(follows, list) else []):
            if isinstance(ref, str) and ref not in known:
                yield f"vaccines.{i}.may_follow.{j}", f"unknown product {ref!r}"
    yield from _duplicates(_items(raw, "id_types"), "code", "id_types", "ID type")
    yield from _duplicates(
        _items(raw, "notifications", "channels"), "name", "notifications.channels", "channel"
    )
    yield from schedule_checks(raw)


def _region_checks(raw: dict[str, Any]) -> Iterator[tuple[str, str]]:
    tree = raw.get("regions")
    if not isinstance(tree, dict):
        return
    items = _items(raw, "regions", "items")
    levels = tree.get("levels")
    bands = tree.get("age_bands", [])
    yield from _duplicates(items, "code", "regions.items", "region code")
    parents: dict[str, str | None] = {}
    position: dict[str, int] = {}
    for i, item in items:
        code, parent = item.get("code"), item.get("parent")
        if not isinstance(code, str) or code in parents:
            continue
        parents[code] = parent if isinstance(parent, str) else None
        position[code] = i
        population = item.get("population")
        if isinstance(bands, list) and isinstance(population, dict):
            for band in population:
                if band not in bands:
                    yield (
                        f"regions.items.{i}.population.{band}",
                        f"age band {band!r} is not listed in regions.age_bands",
                    )
    for code, parent in parents.items():
        if parent is not None and parent not in parents:
            yield f"regions.items.{position[code]}.parent", f"unknown parent region {parent!r}"
    depth: dict[str, int | None] = {}
    for code in parents:
        yield from _walk_up(code, parents, position, depth)
    if isinstance(levels, list) and levels:
        for code, d in depth.items():
            if d is not None and d > len(levels):
                yield (
                    f"regions.items.{position[code]}",
                    f"region {code!r} is at level {d} but regions.levels names only {len(levels)}",
                )


def _walk_up(
    start: str,
    parents: dict[str, str | None],
    position: dict[str, int],
    depth: dict[str, int | None],
) -> Iterator[tuple[str, str]]:
    """Fill ``depth`` for ``start`` and its ancestors (None when not rooted); report cycles."""
    chain: list[str] = []
    code: str | None = start
    while code is not None and code in parents and code not in depth:
        if code in chain:
            cycle = chain[chain.index(code) :]
            first = min(cycle, key=position.__getitem__)
            k = cycle.index(first)
            ordered = [*cycle[k:], *cycle[:k], first]
            yield (
                f"regions.items.{position[first]}.parent",
                f"region tree has a cycle: {' -> '.join(ordered)}",
            )
            for member in chain:
                depth[member] = None
            return
        chain.append(code)
        code = parents[code]
    base: int | None
    if code is None:
        base = 0
    elif code in depth:
        base = depth[code]
    else:
        base = None  # unknown parent, reported above
    for member in reversed(chain):
        base = None if base is None else base + 1
        depth[member] = base
