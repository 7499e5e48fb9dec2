"""Domain errors. Services raise these; the HTTP layer maps them to problem responses."""


class DomainError(Exception):
    """Base of every error the business layer reports to a caller."""

    code = "domain_error"
    message = "The request could not be completed."

    def __init__(self, message: str | None = None) -> None:
        super().__init__(message or self.message)
        self.message = message or self.message


class EmailTakenError(DomainError):
    code = "email_taken"
    message = "An account with this email already exists."


class InvalidCredentialsError(DomainError):
    code = "invalid_credentials"
    message = "Incorrect email or password."


class AccountDisabledError(DomainError):
    code = "account_disabled"
    message = "This account is disabled."


class EmailNotVerifiedError(DomainError):
    code = "email_not_verified"
    message = "The email address of this account is not verified."


class InvalidTokenError(DomainError):
    code = "invalid_token"
    message = "The token is invalid, expired or revoked."


class NotAuthenticatedError(DomainError):
    code = "not_authenticated"
    message = "Authentication is required."


class PermissionDeniedError(DomainError):
    code = "permission_denied"
    message = "You do not have permission to perform this action."


class NotFoundError(DomainError):
    code = "not_found"
    message = "The resource was not found."


class ConflictError(DomainError):
    code = "conflict"
    message = "The request conflicts with the current state of the resource."


class InvalidCursorError(DomainError):
    code = "invalid_cursor"
    message = "The pagination cursor is malformed."


class InvalidInputError(DomainError):
    """A repository refused a value before the database saw it (a NUL character)."""

    code = "invalid_input"
    message = "The input holds a character that cannot be stored."


class StorageUnavailableError(DomainError):
    code = "service_unavailable"
    message = "The database is unavailable; try again shortly."


class IncorrectPasswordError(DomainError):
    code = "incorrect_password"
    message = "The current password is incorrect."


class SelfManagementError(ConflictError):
    code = "self_management_forbidden"
    message = "Use your own profile endpoints; the admin API cannot disable, demote or delete you."


class LastSuperadminError(ConflictError):
    code = "last_superadmin"
    message = (
        "This is the last active superadmin; promote another account before demoting, "
        "disabling or deleting it."
    )


class InvalidCodeError(DomainError):
    code = "invalid_code"
    message = "The code is wrong, expired or already used."


class TooManyRequestsError(DomainError):
    """Refused for now; ``retry_after`` says in how many seconds to try again."""

    code = "rate_limited"
    message = "Too many requests; try again later."

    def __init__(self, retry_after: int, message: str | None = None) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class WeakPasswordError(DomainError):
    code = "weak_password"
    message = "The password is too easy to guess."


class AccountLockedError(TooManyRequestsError):
    code = "account_locked"
    message = "Too many failed logins; the account is locked for a while."


class UnlockRequiredError(TooManyRequestsError):
    """The account's budget of wrong passwords is spent; this client must prove the mailbox."""

    code = "unlock_required"
    message = (
        "Too many failed logins for this account. Ask for an unlock link by email "
        "(POST /api/v1/auth/request-unlock), or wait and try again later."
    )


class CodeGuessesExhaustedError(TooManyRequestsError):
    code = "too_many_code_attempts"
    message = "Too many wrong codes for this address; try again later."
