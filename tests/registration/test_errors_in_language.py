"""Errors people read: in their language, naming the field by its label, saying what to do.

API clients that send ``Accept-Language`` get ``detail`` and each error's ``reason`` and
``message`` translated, while ``field`` and ``code`` stay the same in every language.
Pages name languages and ID documents by their names, and staff choose a centre by its
code within their reach only.
"""

from __future__ import annotations

import html
from typing import Any

import httpx

from tests.facilities.helpers import body as facility_body
from tests.registration.conftest import citizen_token, make_facility, staff_token
from tests.registration.helpers import member, national_id
from tests.registration.review.review_support import add_citizen, web_session
from vaxport.core.cache import Cache
from vaxport.core.db import Database
from vaxport.settings import Settings
from vaxport.tenancy.schemas import TenantInfo

HTML = {"accept": "text/html"}
CSRF = "c" * 40


def walk_ins(tenant: TenantInfo) -> str:
    return f"/api/v1/{tenant.code}/beneficiaries/walk-ins"


async def test_a_french_client_reads_the_problem_in_french_with_the_fields_label(
    client: httpx.AsyncClient, clean_db: Database, settings: Settings, tenant: TenantInfo
) -> None:
    regional = await staff_token(
        client, clean_db, settings, tenant, "vaccinator", region_code="NOR"
    )
    body = member(region_code="NOR-01-01")
    fr = await client.post(
        walk_ins(tenant),
        json=body,
        headers=regional.headers | {"Accept-Language": "fr-SN, en;q=0.5"},
    )
    assert fr.status_code == 422, fr.text
    assert fr.headers["content-language"] == "fr"
    problem = fr.json()
    assert problem["title"] == "Échec de la validation"
    assert problem["detail"] == (
        "Centre de vaccination : est obligatoire : choisissez le centre où se trouve la personne."
    )
    [error] = problem["errors"]
    assert error["field"] == "facility_id"
    assert error["reason"] == "est obligatoire : choisissez le centre où se trouve la personne"

    en = await client.post(walk_ins(tenant), json=body, headers=regional.headers)
    assert en.headers["content-language"] == "en"
    assert en.json()["detail"] == (
        "Vaccination centre: is required: choose the centre where the person is."
    )
    # What programs read does not change with the language.
    assert [(e["field"], e["code"]) for e in en.json()["errors"]] == [
        (error["field"], error["code"])
    ]
    assert error["code"] == "is-required-choose-the-centre-where-the-person-is"


async def test_framework_validation_errors_are_translated_and_keep_pydantics_code(
    client: httpx.AsyncClient, clean_db: Database, settings: Settings, tenant: TenantInfo
) -> None:
    admin = await staff_token(client, clean_db, settings, tenant, "national_admin")
    body = member()
    del body["given_name"]
    r = await client.post(
        f"/api/v1/{tenant.code}/beneficiaries",
        json=body,
        headers=admin.headers | {"Accept-Language": "fr"},
    )
    assert r.status_code == 422
    [error] = r.json()["errors"]
    assert (error["field"], error["code"]) == ("given_name", "missing")
    assert error["message"] == "Prénom : est obligatoire : remplissez-le"
    assert r.json()["detail"] == "Prénom : est obligatoire : remplissez-le."


async def test_ages_read_as_words_in_the_readers_language(
    client: httpx.AsyncClient, clean_db: Database, settings: Settings, tenant: TenantInfo
) -> None:
    admin = await staff_token(client, clean_db, settings, tenant, "national_admin")
    child = member(birth_date="2020-03-01")  # a national ID card is issued from 16y
    url = f"/api/v1/{tenant.code}/beneficiaries"
    en = await client.post(url, json=child, headers=admin.headers)
    fr = await client.post(url, json=child, headers=admin.headers | {"Accept-Language": "fr"})
    assert en.status_code == fr.status_code == 422
    assert "from the age of 16 years: choose another ID document" in en.json()["detail"]
    assert "16y" not in en.json()["detail"]
    assert fr.json()["errors"][0]["message"] == (
        "Type de pièce d\u2019identité : n\u2019est délivré qu\u2019à partir de 16 ans : "
        "choisissez une autre pièce d\u2019identité"
    )


async def _staff_page_session(
    client: httpx.AsyncClient, db: Database, settings: Settings, tenant: TenantInfo, **scope: str
) -> None:
    from tests.identity.helpers import make_staff

    staff = await make_staff(db, settings, tenant, role="vaccinator", **scope)
    client.cookies.set("vaxport_session", await web_session(db, settings, tenant, staff.id))
    client.cookies.set("vaxport_csrf", CSRF)


def _walk_in_form(facility: str) -> dict[str, str]:
    return {
        "csrf_token": CSRF,
        "facility_id": facility,
        "given_name": "Mary",
        "family_name": "Somerville",
        "sex": "female",
        "birth_date": "1980-12-26",
        "id_type": "national-id",
        "number": national_id(),
        "region_code": "NOR-01-01",
    }


async def test_staff_choose_a_centre_by_code_and_only_within_their_reach(
    client: httpx.AsyncClient,
    clean_db: Database,
    cache: Cache,
    settings: Settings,
    tenant: TenantInfo,
) -> None:
    await make_facility(clean_db, cache, tenant, code="NOR-HC-1", region_code="NOR-01-01")
    await make_facility(clean_db, cache, tenant, code="SOU-HC-1", region_code="SOU-01-01")
    await _staff_page_session(client, clean_db, settings, tenant, region_code="NOR")
    url = f"/{tenant.code}/staff/walk-in"

    form = await client.get(url, headers=HTML | {"accept-language": "fr"})
    assert form.status_code == 200
    assert 'value="NOR-HC-1"' in form.text  # the list holds what is in reach, by code...
    assert "SOU-HC-1" not in form.text  # ...and nothing beyond it
    assert '<optgroup label="' in form.text

    outside = await client.post(url, data=_walk_in_form("SOU-HC-1"), headers=HTML)
    unknown = await client.post(url, data=_walk_in_form("NOPE-1"), headers=HTML)
    assert outside.status_code == unknown.status_code == 422
    said = "Vaccination centre: is not a centre you can choose: pick one from the list"
    assert said in html.unescape(outside.text)
    assert said in html.unescape(unknown.text)

    made = await client.post(url, data=_walk_in_form("nor-hc-1"), headers=HTML)  # any case
    assert made.status_code == 200, made.text


async def test_pages_name_languages_and_id_documents_instead_of_codes(
    client: httpx.AsyncClient, clean_db: Database, settings: Settings, tenant: TenantInfo
) -> None:
    citizen = await add_citizen(clean_db, tenant)
    client.cookies.set("vaxport_session", await web_session(clean_db, settings, tenant, citizen))
    r = await client.get(f"/{tenant.code}/family/add?lang=fr", headers=HTML)
    assert r.status_code == 200
    page = html.unescape(r.text)
    assert '<option value="en">Anglais</option>' in page
    assert '<option value="fr">Français</option>' in page
    assert ">Carte nationale d'identité</option>" in page
    assert '<option value="en">en</option>' not in page


async def test_every_contexts_refusals_read_in_french_and_name_the_field_by_its_label(
    client: httpx.AsyncClient, clean_db: Database, settings: Settings, tenant: TenantInfo
) -> None:
    """One failing request of each kind a person makes, sent with and without
    ``Accept-Language: fr``: the French answer differs from the English one, is French,
    and each field error starts with the field's French label."""
    admin = await staff_token(client, clean_db, settings, tenant, "national_admin")
    citizen = await citizen_token(clean_db, settings, tenant)
    person = await client.post(
        f"/api/v1/{tenant.code}/beneficiaries", json=member(), headers=admin.headers
    )
    assert person.status_code == 201, person.text
    api = f"/api/v1/{tenant.code}"
    cases: list[tuple[str, str, dict[str, Any], dict[str, str], str | None, str]] = [
        # (name, url, body, headers, field, its French label); the field None: no field
        (
            "a centre named in a language the tenant does not offer",
            f"{api}/facilities",
            facility_body(code="FR-001", name={"en": "Hillcrest", "de": "Hügelkamm"}),
            admin.headers,
            "name.de",
            "Nom",
        ),
        (
            "a centre offering a vaccine the catalogue does not know",
            f"{api}/facilities",
            facility_body(code="FR-002", vaccines=["no-such-vaccine"]),
            admin.headers,
            "vaccines.0",
            "Vaccins",
        ),
        (
            "a staff invitation with a role that does not exist",
            f"{api}/staff",
            {"username": "sam.lee", "role": "superuser", "display_name": "Sam Lee"},
            admin.headers,
            "role",
            "Rôle",
        ),
        (
            "a correction of an ID number without its document type",
            f"{api}/beneficiaries/{person.json()['id']}/corrections",
            {"field": "id_number", "value": national_id(), "reason": "typing mistake"},
            admin.headers,
            "id_type",
            "Type de pièce d\u2019identité",
        ),
        (
            "a password too short",
            f"{api}/me/password",
            {"current_password": "whatever it is", "new_password": "short"},
            admin.headers,
            "new_password",
            "Nouveau mot de passe",
        ),
        (
            "a claim with a wrong claim code",
            f"{api}/beneficiaries/claims",
            {"id_type": "national-id", "number": national_id(), "code": "K7QF-2MXD"},
            citizen.headers,
            None,
            "",
        ),
    ]
    for name, url, body, headers, field, label in cases:
        en = await client.post(url, json=body, headers=headers)
        fr = await client.post(url, json=body, headers=headers | {"Accept-Language": "fr"})
        assert 400 <= fr.status_code < 500, (name, fr.text)
        assert fr.status_code == en.status_code, name
        assert fr.headers["content-language"] == "fr", name
        french, english = fr.json(), en.json()
        assert french["detail"] != english["detail"], (name, french["detail"])
        assert french["title"] != english["title"], name
        if field is None:
            assert not french.get("errors"), name
            continue
        [error] = [e for e in french["errors"] if e["field"] == field]
        [same] = [e for e in english["errors"] if e["field"] == field]
        assert error["code"] == same["code"], name  # what programs read stays put
        assert error["message"].startswith(f"{label} : "), (name, error["message"])
        assert error["reason"] != same["reason"], (name, error["reason"])
        assert error["message"] in french["detail"] or french["status"] != 422, name
