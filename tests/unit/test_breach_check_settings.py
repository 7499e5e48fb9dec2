"""PASSWORD_BREACH_CHECK_URL: off by default, an http(s) URL when set, and production's
stance when it is empty (a warning from `serve`, not a refusal)."""

import pytest

from app.cli.serve import _warnings
from app.config import ConfigurationError, load_settings
from tests.conftest import SettingsFactory

PWNED_PASSWORDS = "https://api.pwnedpasswords.com"
# Everything else production asks for; the test settings already hold keys and a secret.
PRODUCTION = {
    "environment": "production",
    "email_backend": "smtp",
    "argon2_memory_kib": 19_456,
    "argon2_time_cost": 2,
}


def test_the_check_is_off_by_default() -> None:
    assert load_settings(_env_file=None).password_breach_check_url == ""


def test_a_trailing_slash_is_dropped() -> None:
    settings = load_settings(_env_file=None, password_breach_check_url=PWNED_PASSWORDS + "/")
    assert settings.password_breach_check_url == PWNED_PASSWORDS


@pytest.mark.parametrize("url", ["api.pwnedpasswords.com", "ftp://example.com", "range"])
def test_anything_but_an_http_url_is_a_bad_setting(url: str) -> None:
    with pytest.raises(ConfigurationError, match="PASSWORD_BREACH_CHECK_URL"):
        load_settings(_env_file=None, password_breach_check_url=url)


@pytest.mark.parametrize("seconds", [0, -1, 31])
def test_the_timeout_is_bounded(seconds: float) -> None:
    with pytest.raises(ConfigurationError, match="PASSWORD_BREACH_CHECK_TIMEOUT_SECONDS"):
        load_settings(_env_file=None, password_breach_check_timeout_seconds=seconds)


def test_production_without_the_check_starts_with_a_warning(
    make_settings: SettingsFactory,
) -> None:
    settings = make_settings(**PRODUCTION)
    assert settings.production_problems() == []
    [warning] = [w for w in _warnings(settings) if "PASSWORD_BREACH_CHECK_URL" in w]
    assert PWNED_PASSWORDS in warning


def test_production_with_the_check_has_no_warning(make_settings: SettingsFactory) -> None:
    settings = make_settings(**PRODUCTION, password_breach_check_url=PWNED_PASSWORDS)
    assert not [w for w in _warnings(settings) if "PASSWORD_BREACH_CHECK_URL" in w]


def test_outside_production_an_empty_url_is_no_warning(make_settings: SettingsFactory) -> None:
    assert not [w for w in _warnings(make_settings()) if "PASSWORD_BREACH_CHECK_URL" in w]
