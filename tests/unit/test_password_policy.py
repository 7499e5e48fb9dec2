"""The password policy: no common password, no email local part; and the list it ships."""

from pathlib import Path

import pytest

from app.models.errors import WeakPasswordError
from app.services.password_policy import PasswordPolicy, load_common_passwords

DATA_FILE = (
    Path(__file__).resolve().parents[2] / "app" / "services" / "data" / "common_passwords.txt"
)
STRONG = "violet-Harbour-7-kettle"


@pytest.fixture(scope="module")
def policy() -> PasswordPolicy:
    return PasswordPolicy.from_bundled_list()


def _accepts(policy: PasswordPolicy, password: str, email: str) -> bool:
    try:
        policy.check(password, email)
    except WeakPasswordError:
        return False
    return True


def _refusal(policy: PasswordPolicy, password: str, email: str) -> WeakPasswordError:
    with pytest.raises(WeakPasswordError) as caught:
        policy.check(password, email)
    return caught.value


def test_the_data_file_is_a_pure_list_of_10000_unique_lower_case_passwords() -> None:
    text = DATA_FILE.read_text(encoding="utf-8")
    lines = text.splitlines()
    assert text.endswith("\n")
    assert "\r" not in text
    assert len(lines) == 10_000
    assert len(set(lines)) == 10_000
    assert all(line and line == line.strip() for line in lines)
    assert all(line == line.lower() for line in lines)
    assert not [line for line in lines if line.startswith("#")]


def test_the_list_is_in_rank_order() -> None:
    lines = DATA_FILE.read_text(encoding="utf-8").splitlines()
    assert lines[:5] == ["password", "123456", "12345678", "1234", "qwerty"]


def test_the_loader_reads_the_bundled_list() -> None:
    common = load_common_passwords()
    assert len(common) == 10_000
    assert {"password", "123456", "qwerty", "iloveyou", "michael"} <= common
    assert STRONG.lower() not in common


@pytest.mark.parametrize("password", ["password", "12345678", "qwerty", "baseball", "iloveyou"])
def test_refuses_a_common_password(policy: PasswordPolicy, password: str) -> None:
    _refusal(policy, password, "someone@example.com")


@pytest.mark.parametrize("password", ["PASSWORD", "Password", "QwErTy", "BaseBall", "ILoveYou"])
def test_refuses_a_common_password_in_another_letter_case(
    policy: PasswordPolicy, password: str
) -> None:
    _refusal(policy, password, "someone@example.com")


@pytest.mark.parametrize(
    "password",
    ["john.smith", "john.smith2024!", "my-JOHN.SMITH-pass", "John.Smith", "xxJoHn.SmItHxx"],
)
def test_refuses_a_password_equal_to_or_containing_the_email_local_part(
    policy: PasswordPolicy, password: str
) -> None:
    _refusal(policy, password, "john.smith@example.com")


def test_refuses_the_local_part_when_the_email_is_in_upper_case(policy: PasswordPolicy) -> None:
    _refusal(policy, "horsebattery-alice-staple", "ALICE@EXAMPLE.COM")


def test_the_domain_of_the_email_is_not_checked(policy: PasswordPolicy) -> None:
    assert _accepts(policy, "example-correct-horse", "alice@example.com")
    _refusal(policy, "xx-alice-yy-zz", "alice@example.com")


def test_accepts_a_strong_password(policy: PasswordPolicy) -> None:
    assert _accepts(policy, STRONG, "john.smith@example.com")


def test_accepts_a_password_containing_a_local_part_shorter_than_three(
    policy: PasswordPolicy,
) -> None:
    assert _accepts(policy, "fabulous-abacus-42", "ab@x.com")


def test_a_local_part_of_exactly_three_characters_is_checked(policy: PasswordPolicy) -> None:
    _refusal(policy, "fabulous-abc-42-zz", "abc@x.com")


@pytest.mark.parametrize(
    ("password", "email"),
    [("Sunshine", "someone@example.com"), ("john.smith2024!", "john.smith@example.com")],
)
def test_the_error_does_not_echo_the_password(
    policy: PasswordPolicy, password: str, email: str
) -> None:
    error = _refusal(policy, password, email)
    assert error.code == "weak_password"
    assert error.message
    for text in (error.message, str(error)):
        assert password not in text
        assert password.lower() not in text.lower()


def test_the_two_refusals_give_different_reasons(policy: PasswordPolicy) -> None:
    common = _refusal(policy, "password", "someone@example.com")
    local = _refusal(policy, "john.smith2024!", "john.smith@example.com")
    assert common.message != local.message
    assert "common" in common.message
    assert "email" in local.message


def test_an_injected_set_replaces_the_bundled_list() -> None:
    assert {"password", "qwertyuiop"} <= load_common_passwords()
    tiny = PasswordPolicy({"Tr0ub4dor&3", "hunter2hunter2"})
    _refusal(tiny, "tr0ub4dor&3", "someone@example.com")
    _refusal(tiny, "HUNTER2HUNTER2", "someone@example.com")
    assert _accepts(tiny, "password", "someone@example.com")
    assert _accepts(tiny, "qwertyuiop", "someone@example.com")


def test_an_injected_empty_set_still_refuses_the_local_part() -> None:
    empty = PasswordPolicy(frozenset())
    assert _accepts(empty, "password", "someone@example.com")
    _refusal(empty, "someone-1234", "someone@example.com")
