"""The optional ``rate_limits:`` section of a tenant configuration."""

from __future__ import annotations

import yaml

from tests.support.parts import RULES
from tests.tenancy.helpers import demo_config
from tests.tenancy.test_config_validation import SOURCE, problems_of
from vaxport.tenancy.loader import config_document, config_hash
from vaxport.tenancy.validation import validate_text


def test_a_tenant_may_override_some_classes_and_dimensions() -> None:
    data = demo_config()
    data["rate_limits"] = {
        "login": {"ip": "10/minute;100/hour", "account": "5/minute"},
        "public_search": {"ip": "unlimited"},
    }
    config = validate_text(yaml.safe_dump(data), source=SOURCE, rules=RULES)
    assert config.rate_limits is not None
    assert config.rate_limits.as_rules() == {
        "login": {"ip": "10/minute;100/hour", "account": "5/minute"},
        "public_search": {"ip": "unlimited"},
    }


def test_bad_rules_unknown_classes_and_dimensions_are_refused_on_their_field() -> None:
    data = demo_config()
    data["rate_limits"] = {
        "login": {"ip": "ten a minute"},
        "write": {"account": "0/minute"},
        "default": {"ip": "5/month"},
        "logins": {"ip": "1/second"},
        "verification": {"phone": "1/second"},
        "public_search": {"ip": 10},
    }
    problems = problems_of(data)
    assert "is not a rate limit" in problems["rate_limits.login.ip"]
    assert "between 1 and" in problems["rate_limits.write.account"]
    assert "longer than a day" in problems["rate_limits.default.ip"]
    assert "rate_limits.logins" in problems
    assert "rate_limits.verification.phone" in problems
    assert "rate_limits.public_search.ip" in problems


def test_configurations_without_the_section_keep_their_hash() -> None:
    data = demo_config()
    config = validate_text(yaml.safe_dump(data), source=SOURCE, rules=RULES)
    assert "rate_limits" not in config_document(config)
    data["rate_limits"] = {"login": {"ip": "1/minute"}}
    other = validate_text(yaml.safe_dump(data), source=SOURCE, rules=RULES)
    assert config_hash(config_document(other)) != config_hash(config_document(config))
