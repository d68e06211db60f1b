"""Load-time checks of a tenant's ``notifications:`` section.

``validate_notification_config`` is the validator the tenancy context runs when a
country file is loaded: it parses the section, compiles every template, renders each
(event, locale, kind) the tenant can send with the event's sample values, and checks
SMS length against ``sms_max_segments``. Problems come back as ``path: reason``; an
empty list means the section is usable.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pydantic import TypeAdapter, ValidationError

from vaxport.notifications.sms import first_non_gsm7, sms_segments
from vaxport.notifications.templates import (
    EVENTS,
    TemplateError,
    TemplateKind,
    TemplateSet,
    compile_sources,
    normalize_locale,
)
from vaxport.tenancy.service import CHANNEL_TYPES, LocaleTemplates, NotificationsConfig

_SUBPATH = re.compile(r"^[a-z_]+(\.[A-Za-z0-9_-]+)+$")
_SOURCES: TypeAdapter[dict[str, dict[str, LocaleTemplates]]] = TypeAdapter(
    dict[str, dict[str, LocaleTemplates]]
)


@dataclass(slots=True)
class ConfigReport:
    """Problems refuse the configuration; warnings are shown to the operator."""

    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    config: NotificationsConfig | None = None


def _loc(prefix: str, loc: Sequence[int | str]) -> str:
    parts: list[str] = [prefix] if prefix else []
    previous: int | str | None = None
    for item in loc:
        # The discriminated union adds the channel type after the list index; drop it.
        if isinstance(previous, int) and item in CHANNEL_TYPES:
            previous = item
            continue
        parts.append(str(item))
        previous = item
    return ".".join(parts)


def locate(loc: Sequence[int | str], reason: str, *, prefix: str) -> tuple[str, str]:
    """(dotted path, reason) of a pydantic error inside a ``notifications:`` section.

    Drops the channel type pydantic inserts after a list index (discriminated union),
    and joins the sub-path a cross-field check names (``routes.sms: ...``) onto the path.
    """
    reason = reason.removeprefix("Value error, ")
    where = _loc(prefix, loc)
    head, sep, rest = reason.partition(": ")
    if sep and _SUBPATH.match(head):
        where, reason = f"{where}.{head}", rest
    return where, reason


def _pydantic_problems(exc: ValidationError, prefix: str) -> list[str]:
    out = []
    for err in exc.errors(include_url=False, include_input=False):
        where, reason = locate(err["loc"], str(err["msg"]), prefix=prefix)
        out.append(f"{where}: {reason}")
    return out


def check_notification_config(
    section: Mapping[str, Any] | NotificationsConfig | None,
    *,
    default_locale: str = "en",
    locales: Iterable[str] = (),
    path: str = "notifications",
    complete: Iterable[str] = (),
) -> ConfigReport:
    """Every problem (and warning) of a ``notifications:`` section.

    Each locale of ``complete`` (a tenant's languages without a declared fallback) must
    have every event's templates in that language, the tenant's or shipped ones: a
    message in another language than the one the person reads is a gap, not a fallback.
    """
    report = ConfigReport()
    if isinstance(section, NotificationsConfig):
        cfg = section
    else:
        try:
            cfg = NotificationsConfig.model_validate(section or {})
        except ValidationError as exc:
            report.problems.extend(_pydantic_problems(exc, path))
            report.problems.extend(_template_syntax_problems(section, path))
            return report
    report.config = cfg
    compiled, problems = compile_sources(cfg.templates, prefix=f"{path}.templates")
    report.problems.extend(problems)
    _check_event_names(report, cfg, path)
    if report.problems:
        return report
    templates = TemplateSet._from_compiled(compiled, default_locale)
    wanted = {normalize_locale(x) for x in (*locales, default_locale) if x}
    for event, spec in sorted(EVENTS.items()):
        for locale in sorted(wanted | set(cfg.templates.get(event, {}))):
            for kind in ("sms", "email"):
                where = f"{path}.templates.{event}.{locale}.{kind}"
                _check_render(
                    report,
                    templates,
                    cfg,
                    where=where,
                    event=event,
                    locale=locale,
                    kind=kind,
                    sample=spec.sample,
                )
    _check_complete(report, templates, complete, path)
    return report


def _check_complete(
    report: ConfigReport, templates: TemplateSet, complete: Iterable[str], path: str
) -> None:
    for locale in sorted({normalize_locale(x) for x in complete if x}):
        language = locale.split("-", 1)[0]
        for event in sorted(EVENTS):
            for kind in ("sms", "email"):
                try:
                    _, used, _ = templates.resolve(event=event, locale=locale, kind=kind)
                except TemplateError:
                    continue  # reported by the render check
                if used.split("-", 1)[0] != language:
                    report.problems.append(
                        f"{path}.templates.{event}.{locale}.{kind}: no template in "
                        f"{locale!r} (the message would go out in {used!r}): add one, or "
                        f"declare language_fallbacks for {locale!r}"
                    )


def _template_syntax_problems(section: Mapping[str, Any] | None, path: str) -> list[str]:
    """Syntax errors of the templates, reported even when another part is invalid."""
    if not isinstance(section, Mapping) or "templates" not in section:
        return []
    try:
        sources = _SOURCES.validate_python(section["templates"])
    except ValidationError:
        return []  # already reported by the full validation
    return compile_sources(sources, prefix=f"{path}.templates")[1]


def _check_event_names(report: ConfigReport, cfg: NotificationsConfig, path: str) -> None:
    for event in cfg.templates:
        if event not in EVENTS:
            report.problems.append(
                f"{path}.templates.{event}: unknown event (known: {', '.join(sorted(EVENTS))})"
            )
    for channel in cfg.channels:
        if channel.type != "webhook":
            continue
        for event in channel.options.events:
            if event not in EVENTS:
                report.warnings.append(
                    f"{path}.channels.{channel.name}.options.events: {event!r} has no "
                    "templates registered yet"
                )


def _check_render(
    report: ConfigReport,
    templates: TemplateSet,
    cfg: NotificationsConfig,
    *,
    where: str,
    event: str,
    locale: str,
    kind: TemplateKind,
    sample: Mapping[str, Any],
) -> None:
    try:
        source, used, _ = templates.resolve(event=event, locale=locale, kind=kind)
        rendered = templates.render(event=event, locale=locale, kind=kind, context=sample)
    except TemplateError as exc:
        report.problems.append(f"{where}: {exc.reason}")
        return
    if used.split("-")[0] != locale.split("-", maxsplit=1)[0]:
        report.warnings.append(f"{where}: no template in this language; falls back to {used}")
    if kind != "sms":
        return
    enc, segments, units = sms_segments(rendered.text)
    if segments > cfg.sms_max_segments:
        report.problems.append(
            f"{where}: {segments} SMS parts ({units} {enc} units) with sample values; "
            f"the limit is {cfg.sms_max_segments}"
        )
    elif enc == "UCS-2" and source == "templates":
        report.warnings.append(
            f"{where}: character {first_non_gsm7(rendered.text)!r} forces UCS-2 "
            f"(70 characters per part); {segments} part(s) with sample values"
        )


def validate_notification_config(
    section: Mapping[str, Any] | NotificationsConfig | None,
    *,
    default_locale: str = "en",
    locales: Iterable[str] = (),
    path: str = "notifications",
    complete: Iterable[str] = (),
) -> list[str]:
    """The problems (``path: reason``) of a ``notifications:`` section; empty when usable."""
    return check_notification_config(
        section, default_locale=default_locale, locales=locales, path=path, complete=complete
    ).problems
