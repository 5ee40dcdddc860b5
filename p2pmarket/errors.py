"""One error hierarchy. Every refusal has a code and a sentence a person can act on.

Raised by services, caught once at the edge (CLI exit code, TUI notification).
"""

from __future__ import annotations


class Superseded(Exception):
    """Work stopped part-way because whoever asked for it no longer wants it (a newer
    keystroke's search): nothing is returned, and there is nothing to tell anyone."""


class MarketError(Exception):
    exit_code = 1

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message

    def to_json(self) -> dict[str, str]:
        return {"error": self.code, "message": self.message}


class Refused(MarketError):
    """The input is fine, but a rule of the market says no."""

    exit_code = 1


class Invalid(MarketError):
    """The input itself is wrong: bad amount, unknown category, missing id."""

    exit_code = 2


class StoreFailure(MarketError):
    """The store cannot be used: locked too long, corrupt, read-only, full."""

    exit_code = 1
