"""Settings: the original project's variable names, defaults, and the start-up checks."""

import json
from pathlib import Path

import pytest
from fastapi import FastAPI
from pydantic import AliasChoices, ValidationError

from app.config import ConfigurationError, Environment, Settings, load_settings
from app.main import create_app
from tests.conftest import KeyPems, SettingsFactory


def _setting_env_names() -> set[str]:
    names: set[str] = set()
    for field_name, field in Settings.model_fields.items():
        names.add(field_name.upper())
        alias = field.validation_alias
        if isinstance(alias, AliasChoices):
            names.update(str(choice).upper() for choice in alias.choices)
    return names


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test sees only the variables it sets, whatever the outer environment holds."""
    for name in _setting_env_names():
        monkeypatch.delenv(name, raising=False)
        monkeypatch.delenv(name.lower(), raising=False)


def set_original_keys(monkeypatch: pytest.MonkeyPatch, key_pems: KeyPems) -> None:
    monkeypatch.setenv("ACCESSTOKENPRIVATEKEY", key_pems.access_private)
    monkeypatch.setenv("ACCESSTOKENPUBLICKEY", key_pems.access_public)
    monkeypatch.setenv("REFRESHTOKENPRIVATEKEY", key_pems.refresh_private)
    monkeypatch.setenv("REFRESHTOKENPUBLICKEY", key_pems.refresh_public)


# --- the original project's names ----------------------------------------------------


def test_original_key_variable_names_are_read(
    monkeypatch: pytest.MonkeyPatch, key_pems: KeyPems
) -> None:
    set_original_keys(monkeypatch, key_pems)

    settings = Settings(_env_file=None)

    assert settings.access_token_private_key == key_pems.access_private
    assert settings.access_token_public_key == key_pems.access_public
    assert settings.refresh_token_private_key == key_pems.refresh_private
    assert settings.refresh_token_public_key == key_pems.refresh_public
    assert settings.has_configured_keys


def test_new_key_variable_names_are_read(
    monkeypatch: pytest.MonkeyPatch, key_pems: KeyPems
) -> None:
    monkeypatch.setenv("ACCESS_TOKEN_PRIVATE_KEY", key_pems.access_private)
    monkeypatch.setenv("ACCESS_TOKEN_PUBLIC_KEY", key_pems.access_public)
    monkeypatch.setenv("REFRESH_TOKEN_PRIVATE_KEY", key_pems.refresh_private)
    monkeypatch.setenv("REFRESH_TOKEN_PUBLIC_KEY", key_pems.refresh_public)

    settings = Settings(_env_file=None)

    assert settings.access_token_private_key == key_pems.access_private
    assert settings.refresh_token_public_key == key_pems.refresh_public


def test_mongo_and_mail_variables_are_read(monkeypatch: pytest.MonkeyPatch) -> None:
    values = {
        "MONGO_USER": "mongo-user",
        "MONGO_PASS": "mongo-pass",
        "MONGO_HOST": "mongo.internal",
        "MONGO_PORT": "27017",
        "DB_NAME": "accounts",
        "SMTP_USER": "mailer@example.com",
        "SMTP_PASSWORD": "smtp-secret",
        "EMAILS_FROM_EMAIL": "noreply@example.com",
        "EMAILS_FROM_NAME": "Example Team",
    }
    for name, value in values.items():
        monkeypatch.setenv(name, value)

    settings = Settings(_env_file=None)

    assert settings.mongo_user == "mongo-user"
    assert settings.mongo_pass == "mongo-pass"
    assert settings.mongo_host == "mongo.internal"
    assert settings.mongo_port == 27017
    assert settings.db_name == "accounts"
    assert settings.smtp_user == "mailer@example.com"
    assert settings.smtp_password == "smtp-secret"
    assert settings.emails_from_email == "noreply@example.com"
    assert settings.emails_from_name == "Example Team"


def test_plain_settings_are_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENVIRONMENT", "test")
    monkeypatch.setenv("ACCESS_TOKEN_TTL_SECONDS", "120")
    monkeypatch.setenv("PORT", "9000")
    monkeypatch.setenv("AUTH_REQUIRE_VERIFIED_EMAIL", "true")
    monkeypatch.setenv("DATABASE_URL", "postgresql+asyncpg://u:p@db/app")

    settings = Settings(_env_file=None)

    assert settings.environment is Environment.TEST
    assert settings.access_token_ttl_seconds == 120
    assert settings.port == 9000
    assert settings.auth_require_verified_email is True
    assert settings.database_url == "postgresql+asyncpg://u:p@db/app"


def test_the_env_file_is_read(tmp_path: Path, key_pems: KeyPems) -> None:
    env_file = tmp_path / ".env"
    env_file.write_text(
        "MONGO_HOST=from-file\n"
        f"ACCESSTOKENPRIVATEKEY={json.dumps(key_pems.access_private)}\n"
        f"ACCESSTOKENPUBLICKEY={json.dumps(key_pems.access_public)}\n"
    )

    settings = Settings(_env_file=env_file)

    assert settings.mongo_host == "from-file"
    assert settings.access_token_private_key == key_pems.access_private
    assert settings.access_token_public_key == key_pems.access_public


# --- BACKEND_CORS_ORIGINS ----------------------------------------------------------------


def test_cors_origins_comma_separated(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "BACKEND_CORS_ORIGINS", " http://localhost:3000 , https://app.example.com/ ,, "
    )

    settings = Settings(_env_file=None)

    assert settings.backend_cors_origins == ["http://localhost:3000", "https://app.example.com"]


def test_cors_origins_json_list(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "BACKEND_CORS_ORIGINS", '["http://localhost:3000", "https://app.example.com"]'
    )

    settings = Settings(_env_file=None)

    assert settings.backend_cors_origins == ["http://localhost:3000", "https://app.example.com"]


def test_cors_origins_json_list_is_normalised_like_the_comma_form(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("BACKEND_CORS_ORIGINS", '["https://app.example.com/", " http://a.test "]')

    settings = Settings(_env_file=None)

    assert settings.backend_cors_origins == ["https://app.example.com", "http://a.test"]


def test_cors_origins_unset_or_empty_is_an_empty_list(monkeypatch: pytest.MonkeyPatch) -> None:
    assert Settings(_env_file=None).backend_cors_origins == []

    monkeypatch.setenv("BACKEND_CORS_ORIGINS", "")

    assert Settings(_env_file=None).backend_cors_origins == []


def test_cors_origins_accept_a_python_list() -> None:
    settings = Settings(_env_file=None, backend_cors_origins=["http://a.test"])

    assert settings.backend_cors_origins == ["http://a.test"]


# --- defaults ----------------------------------------------------------------------------


def test_defaults() -> None:
    settings = Settings(_env_file=None)

    assert settings.project_name == "oop-fastapi-backend"
    assert settings.environment is Environment.DEVELOPMENT
    assert settings.database_url == "sqlite+aiosqlite:///./data/app.db"
    assert settings.data_dir == Path("./data")
    assert settings.access_token_ttl_seconds == 900
    assert settings.refresh_token_ttl_seconds == 1_209_600
    assert settings.refresh_reuse_grace_seconds == 10
    assert settings.jwt_issuer == "oop-fastapi-backend"
    assert settings.jwt_audience == "oop-fastapi-backend"
    assert settings.access_token_private_key is None
    assert settings.access_token_public_key is None
    assert settings.refresh_token_private_key is None
    assert settings.refresh_token_public_key is None
    assert settings.auth_require_verified_email is True
    assert settings.first_superuser_email is None
    assert settings.first_superuser_password is None
    assert settings.password_hash_concurrency is None
    assert settings.backend_cors_origins == []
    assert settings.host == "127.0.0.1"
    assert settings.port == 8000
    assert settings.mongo_user is None
    assert settings.mongo_pass is None
    assert settings.mongo_host is None
    assert settings.mongo_port is None
    assert settings.db_name == "app"
    assert settings.smtp_user is None
    assert settings.smtp_password is None
    assert settings.emails_from_email == "noreply@example.com"
    assert settings.emails_from_name is None
    assert settings.is_production is False
    assert settings.has_configured_keys is False
    assert settings.production_problems() != []  # no keys: not fit for production


# --- invalid values ----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "value"),
    [
        ("ACCESS_TOKEN_TTL_SECONDS", "abc"),
        ("ACCESS_TOKEN_TTL_SECONDS", "10"),
        ("ACCESS_TOKEN_TTL_SECONDS", "86401"),
        ("REFRESH_TOKEN_TTL_SECONDS", "59"),
        ("REFRESH_REUSE_GRACE_SECONDS", "-1"),
        ("PORT", "0"),
        ("PORT", "65536"),
        ("MONGO_PORT", "not-a-port"),
        ("PASSWORD_HASH_CONCURRENCY", "0"),
        ("ENVIRONMENT", "staging"),
        ("DATABASE_URL", "data/app.db"),
        ("AUTH_REQUIRE_VERIFIED_EMAIL", "perhaps"),
        ("BACKEND_CORS_ORIGINS", '["unterminated'),
        # Longer than an unlock token lives: the limit could refuse the owner one.
        ("RATE_LIMIT_EMAIL_PER_ADDRESS", "5/day"),
        ("LOGIN_ACCOUNT_GUESSES_PER_HOUR", "101"),
        ("OTP_GUESSES_PER_HOUR", "1"),
    ],
)
def test_invalid_value_raises_configuration_error_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch, name: str, value: str
) -> None:
    monkeypatch.setenv(name, value)

    with pytest.raises(ConfigurationError, match=f"{name}:") as caught:
        load_settings(_env_file=None)

    assert str(caught.value).startswith("Invalid settings: ")


def test_every_invalid_setting_is_named_in_one_message(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ACCESS_TOKEN_TTL_SECONDS", "abc")
    monkeypatch.setenv("PORT", "0")

    with pytest.raises(ConfigurationError) as caught:
        load_settings(_env_file=None)

    assert "ACCESS_TOKEN_TTL_SECONDS:" in str(caught.value)
    assert "PORT:" in str(caught.value)


def test_load_settings_applies_overrides() -> None:
    settings = load_settings(_env_file=None, port=1234, environment="test")

    assert settings.port == 1234
    assert settings.environment is Environment.TEST


@pytest.mark.parametrize(
    ("override", "name"), [({"port": 0}, "PORT"), ({"jwt_issuer": ""}, "JWT_ISSUER")]
)
def test_load_settings_rejects_a_bad_override_naming_it(
    override: dict[str, object], name: str
) -> None:
    with pytest.raises(ConfigurationError, match=f"{name}:"):
        load_settings(_env_file=None, **override)


def test_empty_variables_fall_back_to_defaults(monkeypatch: pytest.MonkeyPatch) -> None:
    # An original `.env` often carries empty placeholders such as `MONGO_PORT=`.
    monkeypatch.setenv("MONGO_PORT", "")
    monkeypatch.setenv("PORT", "")
    monkeypatch.setenv("JWT_ISSUER", "")

    settings = load_settings(_env_file=None)

    assert settings.mongo_port is None
    assert settings.port == 8000
    assert settings.jwt_issuer == "oop-fastapi-backend"


@pytest.mark.parametrize(
    ("variable", "token_kind"),
    [
        ("ACCESSTOKENPRIVATEKEY", "ACCESS_TOKEN"),
        ("ACCESS_TOKEN_PUBLIC_KEY", "ACCESS_TOKEN"),
        ("REFRESHTOKENPRIVATEKEY", "REFRESH_TOKEN"),
        ("REFRESH_TOKEN_PUBLIC_KEY", "REFRESH_TOKEN"),
    ],
)
def test_half_a_key_pair_is_refused(
    monkeypatch: pytest.MonkeyPatch, key_pems: KeyPems, variable: str, token_kind: str
) -> None:
    monkeypatch.setenv(variable, key_pems.access_private)

    with pytest.raises(ConfigurationError) as caught:
        load_settings(_env_file=None)

    message = str(caught.value)
    assert f"{token_kind}_PRIVATE_KEY" in message
    assert f"{token_kind}_PUBLIC_KEY" in message


def test_private_key_without_public_key_fails_settings_validation(key_pems: KeyPems) -> None:
    with pytest.raises(ValidationError, match="must be set together"):
        Settings(_env_file=None, access_token_private_key=key_pems.access_private)


# --- production start-up checks ----------------------------------------------------------


def test_production_refuses_to_start_without_keys(
    make_settings: SettingsFactory,
) -> None:
    settings = make_settings(
        environment="production",
        access_token_private_key=None,
        access_token_public_key=None,
        refresh_token_private_key=None,
        refresh_token_public_key=None,
    )

    with pytest.raises(ConfigurationError, match="ACCESS_TOKEN_PRIVATE_KEY"):
        create_app(settings)


def test_production_refuses_to_start_with_only_access_keys(
    make_settings: SettingsFactory,
) -> None:
    settings = make_settings(
        environment="production", refresh_token_private_key=None, refresh_token_public_key=None
    )

    with pytest.raises(ConfigurationError, match="REFRESH_TOKEN_PRIVATE_KEY"):
        create_app(settings)


@pytest.mark.parametrize("password", ["changethis", "ChangeThis", "changeme", "password"])
def test_production_refuses_a_placeholder_superuser_password(
    make_settings: SettingsFactory, password: str
) -> None:
    settings = make_settings(environment="production", first_superuser_password=password)

    with pytest.raises(ConfigurationError, match="FIRST_SUPERUSER_PASSWORD"):
        create_app(settings)


@pytest.mark.parametrize("origins", [["*"], ["https://app.example.com", "*"]])
def test_production_refuses_wildcard_cors(
    make_settings: SettingsFactory, origins: list[str]
) -> None:
    settings = make_settings(environment="production", backend_cors_origins=origins)

    with pytest.raises(ConfigurationError, match="BACKEND_CORS_ORIGINS"):
        create_app(settings)


def test_production_lists_every_problem(make_settings: SettingsFactory) -> None:
    settings = make_settings(
        environment="production",
        access_token_private_key=None,
        access_token_public_key=None,
        first_superuser_password="changethis",
        backend_cors_origins=["*"],
    )

    with pytest.raises(ConfigurationError) as caught:
        create_app(settings)

    message = str(caught.value)
    assert message.startswith("Refusing to start in production")
    assert "ACCESS_TOKEN_PRIVATE_KEY" in message
    assert "FIRST_SUPERUSER_PASSWORD" in message
    assert "BACKEND_CORS_ORIGINS" in message


def test_placeholder_password_and_wildcard_are_allowed_outside_production(
    make_settings: SettingsFactory,
) -> None:
    settings = make_settings(
        environment="development",
        first_superuser_password="changethis",
        backend_cors_origins=["*"],
    )

    app = create_app(settings)

    assert isinstance(app, FastAPI)
    app.state.container.hasher.close()


async def test_production_starts_with_keys_set(make_settings: SettingsFactory) -> None:
    settings = make_settings(
        environment="production",
        backend_cors_origins=["https://app.example.com"],
        email_backend="smtp",
        argon2_memory_kib=19_456,
        argon2_time_cost=2,
    )
    assert settings.production_problems() == []

    app = create_app(settings)
    async with app.router.lifespan_context(app):
        keys = app.state.container.keys
        assert keys.access[0].kid
        assert keys.refresh[0].kid

    assert not (settings.data_dir / "keys").exists()  # no development keys or secret


@pytest.mark.parametrize(
    ("url", "expected"),
    [
        ("postgres://u:p@db:5432/app", "postgresql+asyncpg://u:p@db:5432/app"),
        ("postgresql://u:p@db/app", "postgresql+asyncpg://u:p@db/app"),
        ("sqlite:///./x.db", "sqlite+aiosqlite:///./x.db"),
        ("mongodb://db:27017/app", "mongodb://db:27017/app"),
    ],
)
def test_database_url_names_the_async_driver(url: str, expected: str) -> None:
    assert load_settings(_env_file=None, database_url=url).database_url == expected


@pytest.mark.parametrize(
    "url",
    ["not a url", "mysql://db/app", "postgresql://db", "mongodb://", "mongodb://db:notaport/x"],
)
def test_malformed_database_url_refuses_to_start_naming_the_setting(url: str) -> None:
    with pytest.raises(ConfigurationError, match="DATABASE_URL"):
        load_settings(_env_file=None, database_url=url)


def test_mongodb_is_selected_by_the_original_variables(monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in {
        "MONGO_HOST": "mongo.internal",
        "MONGO_PORT": "27018",
        "MONGO_USER": "app user",
        "MONGO_PASS": "p@ss:word/1",
        "DB_NAME": "accounts",
    }.items():
        monkeypatch.setenv(name, value)

    settings = Settings(_env_file=None)

    assert (
        settings.mongo_url == "mongodb://app+user:p%40ss%3Aword%2F1@mongo.internal:27018/accounts"
    )
    assert settings.mongo_database == "accounts"


def test_sql_url_does_not_select_mongodb() -> None:
    settings = load_settings(_env_file=None, database_url="sqlite+aiosqlite:///x.db")
    assert settings.mongo_url is None


async def test_a_weak_first_superuser_password_refuses_to_start(
    make_settings: SettingsFactory,
) -> None:
    app = create_app(
        make_settings(
            first_superuser_email="boss@example.com", first_superuser_password="password1"
        )
    )
    with pytest.raises(ConfigurationError, match="FIRST_SUPERUSER_PASSWORD"):
        async with app.router.lifespan_context(app):
            pass  # pragma: no cover - start-up must fail
    app.state.container.hasher.close()


def test_a_short_first_superuser_password_is_a_bad_setting() -> None:
    with pytest.raises(ConfigurationError, match="FIRST_SUPERUSER_PASSWORD"):
        load_settings(_env_file=None, first_superuser_password="short")
