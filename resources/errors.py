"""The seed's error hierarchy, shared by every stage.

Each error has a stable ``code``, a human ``message`` and structured ``details``. The CLI
prints ``str(error)`` as one line and exits non-zero; assets attach ``as_dict()`` to run
metadata. Never put secrets (database passwords, apprise URLs) in a message or details.
"""

from __future__ import annotations

from typing import Any


class ServiceError(Exception):
    code = "SERVICE_ERROR"
    exit_code = 1

    def __init__(self, message: str, *, details: dict[str, Any] | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.details = details or {}

    def __str__(self) -> str:
        return f"{self.code}: {self.message}"

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "details": self.details}


class ValidationError(ServiceError):
    code = "VALIDATION_ERROR"
    exit_code = 2


class NotFoundError(ServiceError):
    code = "NOT_FOUND"
    exit_code = 3


class DuplicateError(ServiceError):
    code = "DUPLICATE"
    exit_code = 4


class OperationError(ServiceError):
    code = "OPERATION_ERROR"
    exit_code = 5


class DatabaseUnavailable(ServiceError):
    """The PostgreSQL server is down or went away mid-command: one line saying what
    stopped and what to run, not the drivers' retry noise."""

    code = "DATABASE_UNAVAILABLE"
    exit_code = 6
