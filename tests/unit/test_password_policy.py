"""The password policy on the real zxcvbn estimator and a local breached-password service:
the score, the context words, the advice, the breaches, and failing open."""

import logging
from collections.abc import AsyncIterator, Iterator

import httpx
import pytest

from app.models.errors import WeakPasswordError
from app.services.password_policy import PasswordPolicy, context_words
from app.utils.metrics import DisabledPasswordPolicyMetrics, PrometheusMetrics
from app.utils.pwned_passwords import DisabledBreachCheck, PwnedPasswordsChecker
from app.utils.zxcvbn_estimator import ZxcvbnStrengthEstimator
from tests.pwned_passwords_server import Behaviour, RangeApiServer, sha1_hex
from tests.smtp_server import free_port

STRONG = "violet-Harbour-7-kettle"
SOMEONE = "someone@example.com"
PRODUCT = "oop-fastapi-backend"


@pytest.fixture(scope="module")
def estimator() -> Iterator[ZxcvbnStrengthEstimator]:
    estimator = ZxcvbnStrengthEstimator()
    yield estimator
    estimator.close()


def policy_of(
    estimator: ZxcvbnStrengthEstimator, min_score: int, product_words: tuple[str, ...] = ()
) -> PasswordPolicy:
    """The policy without a breach check (see the end of this file for one)."""
    return PasswordPolicy(
        estimator, DisabledBreachCheck(), DisabledPasswordPolicyMetrics(), min_score, product_words
    )


@pytest.fixture
def policy(estimator: ZxcvbnStrengthEstimator) -> PasswordPolicy:
    return policy_of(estimator, min_score=3, product_words=(PRODUCT,))


async def accepts(
    policy: PasswordPolicy, password: str, email: str = SOMEONE, full_name: str | None = None
) -> bool:
    try:
        await policy.check(password, email, full_name)
    except WeakPasswordError:
        return False
    return True


async def refusal(
    policy: PasswordPolicy, password: str, email: str = SOMEONE, full_name: str | None = None
) -> WeakPasswordError:
    with pytest.raises(WeakPasswordError) as caught:
        await policy.check(password, email, full_name)
    error = caught.value
    assert error.code == "weak_password"
    for text in (error.message, str(error)):
        assert password.casefold() not in text.casefold(), "the refusal repeats the password"
    return error


# --- the score ----------------------------------------------------------------------


@pytest.mark.parametrize(
    "password",
    # All of 8 characters or more: the length rule does not stop them.
    ["password123", "Password1", "qwertyuiop", "iloveyou1", "baseball", "1q2w3e4r5t", "P@ssw0rd!"],
)
async def test_refuses_a_common_password(policy: PasswordPolicy, password: str) -> None:
    error = await refusal(policy, password)
    assert "too easy to guess" in error.message


async def test_the_refusal_explains_itself_with_the_estimators_advice(
    policy: PasswordPolicy, estimator: ZxcvbnStrengthEstimator
) -> None:
    estimate = await estimator.estimate("password123", [])
    assert estimate.score < 3
    assert estimate.warning
    assert estimate.suggestions
    error = await refusal(policy, "password123")
    assert f"scores {estimate.score} of 4" in error.message
    assert "3 is required" in error.message
    assert estimate.warning in error.message
    for suggestion in estimate.suggestions:
        assert suggestion in error.message


@pytest.mark.parametrize(
    "password", [STRONG, "correct-horse-battery", "a-brand-new-passphrase", "Zq7!mT#w-Kb4%nR9@"]
)
async def test_accepts_a_strong_password(policy: PasswordPolicy, password: str) -> None:
    assert await accepts(policy, password, "john.smith@example.com", "John Smith")


async def test_the_minimum_score_is_the_one_configured(
    estimator: ZxcvbnStrengthEstimator,
) -> None:
    password = "rV9-qm%Tz"  # nine characters, scored 3 by zxcvbn 4.5.0
    assert (await estimator.estimate(password, [])).score == 3
    assert await accepts(policy_of(estimator, min_score=3), password)
    stricter = await refusal(policy_of(estimator, min_score=4), password)
    # zxcvbn gives no advice above score 2; the refusal still says what to do.
    assert "scores 3 of 4" in stricter.message
    assert "Add another word or two" in stricter.message
    assert await accepts(policy_of(estimator, min_score=0), "password123")


@pytest.mark.parametrize("min_score", [-1, 5])
def test_a_score_outside_zero_to_four_is_refused(
    estimator: ZxcvbnStrengthEstimator, min_score: int
) -> None:
    with pytest.raises(ValueError, match="min_score"):
        policy_of(estimator, min_score=min_score)


# --- the account's own words ---------------------------------------------------------


@pytest.mark.parametrize(
    "password",
    [
        "john.smith",
        "john.smith2024!",
        "my-JOHN.SMITH-pass",
        "xxJoHn.SmItHxx",
        # The local part with other separators, or none, is still the local part.
        "John-Smith-1990!",
        "johnsmith-rules-ok",
    ],
)
async def test_refuses_a_password_containing_the_email_local_part(
    policy: PasswordPolicy, password: str
) -> None:
    error = await refusal(policy, password, "john.smith@example.com")
    assert "email address" in error.message


@pytest.mark.parametrize("password", ["OscarWilde", "oscar.wilde.1854", "x-OSCAR WILDE-x"])
async def test_refuses_a_password_containing_the_full_name(
    policy: PasswordPolicy, password: str
) -> None:
    error = await refusal(policy, password, "ow@example.com", "Oscar Wilde")
    assert "your name" in error.message
    # Without the name, the same password is only judged on its strength.
    assert "your name" not in (await refusal_or_none(policy, password, "ow@example.com"))


async def refusal_or_none(policy: PasswordPolicy, password: str, email: str) -> str:
    try:
        await policy.check(password, email)
    except WeakPasswordError as exc:
        return exc.message
    return ""


async def test_the_name_in_another_order_is_caught_by_the_context_words(
    policy: PasswordPolicy,
) -> None:
    """Not contained as written, but zxcvbn knows both words from the account."""
    password = "QuixbyZoltan"
    assert await accepts(policy, password, "z.q@example.com")
    error = await refusal(policy, password, "z.q@example.com", "Zoltan Quixby")
    assert "too easy to guess" in error.message


async def test_the_email_domain_is_a_context_word(policy: PasswordPolicy) -> None:
    password = "Brightwaterlabs"
    assert await accepts(policy, password, "ops@example.com")
    await refusal(policy, password, "ops@brightwaterlabs.io")


async def test_the_product_name_is_a_context_word(estimator: ZxcvbnStrengthEstimator) -> None:
    without = policy_of(estimator, min_score=3)
    with_product = policy_of(estimator, min_score=3, product_words=(PRODUCT,))
    # Its words, through zxcvbn.
    assert await accepts(without, "fastapibackend")
    error = await refusal(with_product, "fastapibackend")
    assert "too easy to guess" in error.message
    # The whole name, contained: zxcvbn alone would see only "oop-fastapi-back".
    assert await accepts(without, "my-OOP-FastAPI-Backend")
    error = await refusal(with_product, "my-OOP-FastAPI-Backend")
    assert "name of this service" in error.message


async def test_words_shorter_than_three_are_not_checked(policy: PasswordPolicy) -> None:
    assert await accepts(policy, "fabulous-abacus-42", "ab@x.com", "Al")
    await refusal(policy, "fabulous-abc-42-zz", "abc@x.com")


async def test_the_policy_is_about_the_accounts_own_email(policy: PasswordPolicy) -> None:
    assert await accepts(policy, "mallory.smith-is-not-me-7", "oscar.wilde@example.com")
    await refusal(policy, "mallory.smith-is-not-me-7", "mallory.smith@example.com")


def test_context_words_split_the_email_and_the_names() -> None:
    words = context_words("Jean-Luc.Picard@Star_Fleet.org", "Jean-Luc Picard", [PRODUCT])
    assert words == [
        "jean-luc.picard",
        "jean",
        "luc",
        "picard",
        "star_fleet.org",
        "star",
        "fleet",
        "org",
        "jean-luc picard",
        PRODUCT,
        "oop",
        "fastapi",
        "backend",
    ]
    assert context_words("ab@x.io", None, []) == ["x.io"]


# --- breached passwords ---------------------------------------------------------------

# Strong by zxcvbn's measure, but "breached" on the local service.
BREACHED = "Quartz-Otter-41-lamp"
PADDED = "listed-only-as-padding-7"
BREACH_TIMEOUT_SECONDS = 0.5
FAILURES = "password_breach_check_failures_total"


@pytest.fixture
def range_api() -> Iterator[RangeApiServer]:
    with RangeApiServer({BREACHED: 3, "password123": 250_000}, padded=[PADDED]) as server:
        yield server


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient() as client:
        yield client


def checked_policy(
    estimator: ZxcvbnStrengthEstimator,
    http: httpx.AsyncClient,
    url: str,
    metrics: PrometheusMetrics | None = None,
) -> PasswordPolicy:
    checker = PwnedPasswordsChecker(http, url, BREACH_TIMEOUT_SECONDS)
    return PasswordPolicy(estimator, checker, metrics or PrometheusMetrics(), min_score=3)


async def test_refuses_a_breached_password_that_scores_well(
    estimator: ZxcvbnStrengthEstimator, http: httpx.AsyncClient, range_api: RangeApiServer
) -> None:
    assert (await estimator.estimate(BREACHED, [])).score >= 3
    error = await refusal(checked_policy(estimator, http, range_api.url), BREACHED)
    assert error.message == (
        "This password has appeared in a data breach, so attackers try it early; "
        "choose a different one."
    )
    assert [path for path, _ in range_api.requests] == [f"/range/{sha1_hex(BREACHED)[:5]}"]


async def test_accepts_a_clean_or_padding_only_password(
    estimator: ZxcvbnStrengthEstimator, http: httpx.AsyncClient, range_api: RangeApiServer
) -> None:
    policy = checked_policy(estimator, http, range_api.url)
    assert await accepts(policy, STRONG)
    assert await accepts(policy, PADDED)
    assert len(range_api.requests) == 2


async def test_a_password_refused_on_strength_is_not_looked_up(
    estimator: ZxcvbnStrengthEstimator, http: httpx.AsyncClient, range_api: RangeApiServer
) -> None:
    error = await refusal(checked_policy(estimator, http, range_api.url), "password123")
    assert "too easy to guess" in error.message
    assert range_api.requests == []


@pytest.mark.parametrize("failure", ["unreachable", "timeout", "bad_response"])
async def test_an_unanswered_check_lets_the_password_through_counted_and_logged(
    estimator: ZxcvbnStrengthEstimator,
    http: httpx.AsyncClient,
    range_api: RangeApiServer,
    caplog: pytest.LogCaptureFixture,
    failure: str,
) -> None:
    url = range_api.url
    if failure == "unreachable":
        url = f"http://127.0.0.1:{free_port()}"
    range_api.behaviour = {"timeout": Behaviour.HANG, "bad_response": Behaviour.GARBAGE}.get(
        failure, Behaviour.ANSWER
    )
    metrics = PrometheusMetrics()
    caplog.set_level(logging.DEBUG)

    assert await accepts(checked_policy(estimator, http, url, metrics), BREACHED)

    assert metrics.registry.get_sample_value(FAILURES, {"reason": failure}) == 1
    [warning] = [r for r in caplog.records if r.name == "app.services.password_policy"]
    assert warning.levelno == logging.WARNING
    assert failure in warning.getMessage()
    digest = sha1_hex(BREACHED)
    for secret in (BREACHED, digest[:5], digest[5:]):
        assert secret not in caplog.text
