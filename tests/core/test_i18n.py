"""Locale negotiation and the message catalogs."""

from __future__ import annotations

from pathlib import Path

import pytest
from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from hypothesis import given
from hypothesis import strategies as st

from vaxport.core import i18n
from vaxport.core.i18n import (
    CatalogError,
    describe,
    installation_languages,
    match,
    negotiate,
    normalize,
    parse_accept_language,
    translations_for,
)

ROOT = Path(__file__).resolve().parents[2]
POT = i18n.LOCALES_DIR / "messages.pot"


def test_installation_speaks_english_french_and_spanish() -> None:
    assert installation_languages()[0] == "en"
    assert {"en", "fr", "es"} <= set(installation_languages())


@pytest.mark.parametrize(
    ("tag", "expected"),
    [
        ("fr", "fr"),
        ("FR", "fr"),
        ("pt_br", "pt-BR"),
        ("zh-hant-tw", "zh-Hant-TW"),
        ("x", None),
        ("en-", None),
        ("<script>", None),
        ("fr;q=1", None),
        ("", None),
    ],
)
def test_normalize(tag: str, expected: str | None) -> None:
    assert normalize(tag) == expected


def test_accept_language_is_ordered_by_quality_then_position() -> None:
    header = "de;q=0.5, fr-CH, fr;q=0.9, en;q=0.9, *;q=0.1, es;q=0, it;q=2, nl;level=1"
    assert parse_accept_language(header) == ["fr-CH", "fr", "en", "de"]


def test_match_prefers_exact_then_same_language() -> None:
    assert match("fr-CA", ["en", "fr"]) == "fr"
    assert match("fr", ["en", "fr-SN"]) == "fr-SN"
    assert match("pt-BR", ["pt-PT", "pt-BR"]) == "pt-BR"
    assert match("de", ["en", "fr"]) is None


def test_negotiation_precedence() -> None:
    avail = ["en", "fr", "es"]
    full = {"explicit": "es", "cookie": "fr", "accept_language": "en"}
    assert negotiate(available=avail, default="en", **full).locale == "es"
    assert negotiate(available=avail, default="en", **full).explicit
    assert (
        negotiate(available=avail, default="en", cookie="fr", accept_language="es").locale == "fr"
    )
    assert negotiate(available=avail, default="en", accept_language="es").locale == "es"
    assert negotiate(available=avail, default="fr").locale == "fr"
    # A choice that is not offered falls through to the next source, never past the list.
    bad = negotiate(available=avail, default="en", explicit="de", cookie="it", accept_language="es")
    assert (bad.locale, bad.explicit) == ("es", False)
    assert negotiate(available=["sw"], default="en").locale == "sw"


@given(
    explicit=st.one_of(st.none(), st.text(max_size=40)),
    cookie=st.one_of(st.none(), st.text(max_size=40)),
    header=st.one_of(st.none(), st.text(max_size=300)),
)
def test_negotiation_never_fails_and_only_returns_offered_languages(
    explicit: str | None, cookie: str | None, header: str | None
) -> None:
    avail = ["fr", "en"]
    choice = negotiate(
        available=avail, default="fr", explicit=explicit, cookie=cookie, accept_language=header
    )
    assert choice.locale in avail


def test_regional_locale_uses_the_language_catalog() -> None:
    assert translations_for("fr-SN").gettext("Home") == "Accueil"
    assert translations_for("es").gettext("Home") == "Inicio"
    assert translations_for("en").gettext("Home") == "Home"
    assert translations_for("sw").gettext("Home") == "Home"


def test_languages_are_named_in_themselves_with_direction() -> None:
    assert describe("fr").name == "Français"
    assert describe("es").name == "Español"
    assert describe("ar").rtl is True
    assert describe("en").rtl is False
    assert describe("qq-zz").name == "qq-zz"


def _source_msgids() -> set[str]:
    with (ROOT / "babel.cfg").open() as fh:
        method_map, options_map = parse_mapping_cfg(fh)
    ids: set[str] = set()
    for _file, _line, message, _comments, _ctx in extract_from_dir(
        str(ROOT), method_map, options_map
    ):
        ids.add(message if isinstance(message, str) else message[0])
    return ids


def test_template_catalog_is_up_to_date_with_the_sources() -> None:
    with POT.open("rb") as fh:  # a plural message is known by its singular
        pot_ids = {m.id if isinstance(m.id, str) else m.id[0] for m in read_po(fh) if m.id}
    assert pot_ids == _source_msgids(), "run `make messages` and translate the new strings"


@pytest.mark.parametrize("lang", ["fr", "es"])
def test_catalog_translates_every_string_without_fuzzy_entries(lang: str) -> None:
    with POT.open("rb") as fh:
        pot_ids = {m.id for m in read_po(fh) if m.id}
    po = i18n.LOCALES_DIR / lang / "LC_MESSAGES" / "messages.po"
    with po.open("rb") as fh:
        catalog = read_po(fh, locale=lang)
    translated = {
        m.id
        for m in catalog
        if m.id and m.string and not m.fuzzy and (isinstance(m.string, str) or all(m.string))
    }
    assert pot_ids - translated == set()
    assert list(catalog.check()) == []


def test_broken_catalogs_refuse_to_compile(tmp_path: Path) -> None:
    bad_placeholder = tmp_path / "bad.po"
    bad_placeholder.write_text(
        'msgid ""\nmsgstr "Content-Type: text/plain; charset=utf-8\\n"\n\n'
        '#, python-format\nmsgid "Hello %(name)s"\nmsgstr "Bonjour %(nom)s"\n'
    )
    with pytest.raises(CatalogError, match="placeholder"):
        i18n._compile(bad_placeholder, "fr")
    garbage = tmp_path / "garbage.po"
    garbage.write_text('msgid "a"\nmsgstr "b"\nthis is not po syntax\n')
    with pytest.raises(CatalogError):
        i18n._compile(garbage, "fr")
