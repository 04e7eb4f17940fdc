"""The small error vocabulary shared by the CLI and the API.

Each error carries an HTTP status for the API and an exit code for the CLI. Messages say
what was expected and how to fix it; they never contain personal data from a post.
"""

from __future__ import annotations


class QiuzhuError(Exception):
    """Base of every error qiuzhu reports to a person."""

    status = 500
    exit_code = 1

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class ConfigError(QiuzhuError):
    """A setting, file or installed part is missing or wrong."""

    status = 500
    exit_code = 2


class InvalidInput(QiuzhuError):
    """A request, query, file or parameter is not of the expected form."""

    status = 400
    exit_code = 2


class NotAuthenticated(QiuzhuError):
    """No valid login or token."""

    status = 401
    exit_code = 2


class Forbidden(QiuzhuError):
    """The role may not do this."""

    status = 403
    exit_code = 2


class NotFound(QiuzhuError):
    """The thing asked for does not exist."""

    status = 404
    exit_code = 4


class Conflict(QiuzhuError):
    """Someone else changed or holds it first (edit conflict, lock held)."""

    status = 409
    exit_code = 5


class Unavailable(QiuzhuError):
    """A service qiuzhu needs (Elasticsearch, a source) did not answer."""

    status = 503
    exit_code = 3


class TooManyRequests(QiuzhuError):
    """Too many failed attempts: wait before trying again."""

    status = 429
    exit_code = 5

    def __init__(self, message: str, retry_after: int) -> None:
        super().__init__(message)
        self.retry_after = retry_after
