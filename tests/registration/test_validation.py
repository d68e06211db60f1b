"""One member checked against the tenant configuration: every field, every error at once."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tests.registration.helpers import member
from tests.support.parts import RULES
from vaxport.core import clock
from vaxport.core.errors import ValidationFailed
from vaxport.registration.schemas import MemberIn, MemberUpdate
from vaxport.registration.validation import match_key, validate_member, validate_update
from vaxport.tenancy.checksums import luhn_check_digit, verhoeff_check_digit
from vaxport.tenancy.config import RegistrationSettings, TenantConfig
from vaxport.tenancy.validation import validate_file

ROOT = Path(__file__).resolve().parents[2]
TODAY = dt.date(2026, 11, 27)


@pytest.fixture(scope="module")
def demo() -> TenantConfig:
    return validate_file(ROOT / "countries" / "demo.yaml", rules=RULES)


@pytest.fixture(scope="module")
def india() -> TenantConfig:
    return validate_file(ROOT / "countries" / "example-in.yaml", rules=RULES)


def check(config: TenantConfig, **changes: Any) -> Any:
    return validate_member(MemberIn.model_validate(member(**changes)), config=config, today=TODAY)


def fields(exc: pytest.ExceptionInfo[ValidationFailed]) -> dict[str, str]:
    return {e["field"]: e["reason"] for e in exc.value.errors}


def test_a_valid_member_comes_back_normalised(demo: TenantConfig) -> None:
    out = check(
        demo,
        given_name="  Ada   Augusta ",
        documents=[{"id_type": "national-id", "number": "850 412 307-9"}],
        phone="(613) 555-0199",
        email="Ada@Example.ORG",
        preferred_locale="fr",
    )
    assert out.given_name == "Ada Augusta"
    assert out.documents[0].number == "8504123079"
    assert out.phone == "+16135550199"
    assert out.email == "ada@example.org"
    assert out.birth_year == 1985
    assert out.match == "lovelace|ada augusta|1985-12-10"


def test_every_bad_field_is_reported_at_once_and_never_echoes_the_value(
    demo: TenantConfig,
) -> None:
    with pytest.raises(ValidationFailed) as exc:
        check(
            demo,
            sex="robot",
            birth_date="2030-01-01",
            documents=[
                {"id_type": "national-id", "number": "8504123070"},
                {"id_type": "driving-licence", "number": "X1"},
            ],
            phone="12",
            email="not-an-email",
            region_code="CEN",
            preferred_locale="de",
            guardian_relation="uncle",
        )
    errors = fields(exc)
    assert set(errors) == {
        "sex",
        "birth_date",
        "documents.0.number",
        "documents.1.id_type",
        "phone",
        "email",
        "region_code",
        "preferred_locale",
        "guardian_relation",
    }
    assert "check digit" in errors["documents.0.number"]
    assert "most precise" in errors["region_code"]
    assert all("8504123070" not in r for r in errors.values())
    assert exc.value.status == 422


def test_unknown_region_and_prefix_for_nested_documents(demo: TenantConfig) -> None:
    body = MemberIn.model_validate(member(region_code="ATLANTIS"))
    with pytest.raises(ValidationFailed) as exc:
        validate_member(body, config=demo, today=TODAY, prefix="rows.3.")
    assert fields(exc) == {"rows.3.region_code": "unknown region"}


def test_birth_date_in_the_future_or_too_old_is_refused(demo: TenantConfig) -> None:
    with pytest.raises(ValidationFailed) as exc:
        check(demo, birth_date="1890-01-01")
    assert "130 years" in fields(exc)["birth_date"]
    with pytest.raises(ValidationFailed) as exc:
        check(demo, birth_date=None, birth_year=1985)
    assert fields(exc) == {"birth_date": "is required"}


def test_a_year_only_tenant_accepts_a_birth_year(demo: TenantConfig) -> None:
    config = demo.model_copy(update={"registration": RegistrationSettings(birth="year")})
    assert config.birth_precision == "year"
    out = check(config, birth_date=None, birth_year=1990)
    assert out.birth_date is None
    assert out.birth_year == 1990
    assert out.match.endswith("|1990")
    with pytest.raises(ValidationFailed) as exc:
        check(config, birth_date="1990-05-01", birth_year=1991)
    assert fields(exc) == {"birth_year": "does not match the date of birth"}


def test_id_type_age_limits_follow_the_birth_date(demo: TenantConfig) -> None:
    # National IDs from 16, birth certificates up to 17 (the day before the 18th birthday).
    with pytest.raises(ValidationFailed) as exc:
        check(demo, birth_date="2012-01-01")
    assert "from the age of 16 years" in fields(exc)["documents.0.id_type"]
    child = [{"id_type": "birth-certificate", "number": "BC-2019-000123"}]
    assert check(demo, birth_date="2008-11-28", documents=child).documents[0].number == (
        "BC2019000123"
    )
    with pytest.raises(ValidationFailed) as exc:
        check(demo, birth_date="2008-11-27", documents=child)
    assert "up to the age of 17 years" in fields(exc)["documents.0.id_type"]


def test_the_same_id_type_twice_and_unaccepted_types_are_refused(demo: TenantConfig) -> None:
    kinds = [
        t.model_copy(update={"accepted_for_registration": t.code != "passport"})
        for t in demo.id_types
    ]
    config = demo.model_copy(update={"id_types": kinds})
    config.__dict__.pop("id_types_by_code", None)
    docs = [
        {"id_type": "national-id", "number": "8504123079"},
        {"id_type": "national-id", "number": "9201175545"},
        {"id_type": "passport", "number": "DL1234567"},
    ]
    with pytest.raises(ValidationFailed) as exc:
        check(config, documents=docs)
    assert fields(exc) == {
        "documents.1.id_type": "is given more than once: give each ID document once",
        "documents.2.id_type": "is not accepted for registration: choose another ID document",
    }


def test_the_request_model_refuses_unknown_fields_and_missing_documents() -> None:
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        MemberIn.model_validate(member(account_id="x"))
    with pytest.raises(ValidationError):
        MemberIn.model_validate(member(documents=[]))
    with pytest.raises(ValidationError):
        MemberUpdate.model_validate({"facility_id": "x"})


def test_an_update_checks_only_what_it_sends(demo: TenantConfig) -> None:
    out = validate_update(MemberUpdate(region_code="SOU-01-02", phone=None), config=demo)
    assert out == {"region_code": "SOU-01-02", "phone": None}
    with pytest.raises(ValidationFailed) as exc:
        validate_update(MemberUpdate.model_validate({"sex": None, "email": "nobody"}), config=demo)
    assert set(fields(exc)) == {"sex", "email"}


def test_match_key_folds_accents_case_and_spaces() -> None:
    a = match_key("Éloïse  Dupont", "MARIE", dt.date(2000, 1, 2), 2000)
    assert a == match_key("eloise dupont", "marie", dt.date(2000, 1, 2), 2000)


# Property-based: the registration door accepts exactly the checksum-valid numbers.

payloads = st.text(alphabet="0123456789", min_size=9, max_size=9)


@settings(max_examples=60, deadline=None)
@given(payloads, st.integers(min_value=1, max_value=9))
def test_luhn_national_ids_are_accepted_valid_and_refused_with_one_digit_wrong(
    demo: TenantConfig, payload: str, delta: int
) -> None:
    good = payload + luhn_check_digit(payload)
    assert check(demo, documents=[{"id_type": "national-id", "number": good}]).documents
    bad = payload + str((int(good[-1]) + delta) % 10)
    with pytest.raises(ValidationFailed) as exc:
        check(demo, documents=[{"id_type": "national-id", "number": bad}])
    assert "check digit" in fields(exc)["documents.0.number"]


@settings(max_examples=60, deadline=None)
@given(
    st.text(alphabet="23456789", min_size=1, max_size=1),
    st.text(alphabet="0123456789", min_size=10, max_size=10),
    st.integers(min_value=1, max_value=9),
)
def test_verhoeff_aadhaar_numbers_accepted_valid_refused_with_a_wrong_check_digit(
    india: TenantConfig, first: str, rest: str, delta: int
) -> None:
    payload = first + rest
    good = payload + verhoeff_check_digit(payload)
    spaced = f"{good[:4]} {good[4:8]} {good[8:]}"
    doc = [{"id_type": "aadhaar", "number": spaced}]
    body = member(documents=doc, region_code=next(iter(india.region_leaves)), preferred_locale=None)
    assert (
        validate_member(MemberIn.model_validate(body), config=india, today=TODAY)
        .documents[0]
        .number
        == good
    )
    body["documents"] = [
        {"id_type": "aadhaar", "number": payload + str((int(good[-1]) + delta) % 10)}
    ]
    with pytest.raises(ValidationFailed):
        validate_member(MemberIn.model_validate(body), config=india, today=TODAY)


def test_a_birth_is_in_the_future_by_the_tenants_date_not_utcs(
    demo: TenantConfig, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 20:00 UTC on 7 December is 01:30 on the 8th in Kolkata and 15:00 on the 7th in
    # Toronto: a baby born in Kolkata tonight is born today there.
    monkeypatch.setattr(clock, "utcnow", lambda: dt.datetime(2026, 12, 7, 20, 0, tzinfo=dt.UTC))
    kolkata = demo.model_copy(update={"timezone": "Asia/Kolkata"})
    toronto = demo.model_copy(update={"timezone": "America/Toronto"})
    papers = [{"id_type": "birth-certificate", "number": "BC2026000123"}]
    newborn = MemberIn.model_validate(member(birth_date="2026-12-08", documents=papers))

    assert validate_member(newborn, config=kolkata).birth_date == dt.date(2026, 12, 8)
    with pytest.raises(ValidationFailed) as exc:
        validate_member(newborn, config=toronto)
    assert "future" in fields(exc)["birth_date"]
