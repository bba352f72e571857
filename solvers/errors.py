"""Exceptions of the numerical core, free of any HTTP notion (the service maps them)."""

from __future__ import annotations


class InvalidInputError(ValueError):
    """Data or an option is unusable; the message names the problem and where it is."""


class FitWarning(UserWarning):
    """A fit that runs but whose result is unlikely to be what was meant; the message says
    why and what to change."""


class BackendUnavailableError(RuntimeError):
    """A backend was asked for that this machine cannot run; `available` lists those it can."""

    def __init__(self, name: str, reason: str, available: list[str]) -> None:
        self.name = name
        self.reason = reason
        self.available = available
        super().__init__(
            f"backend {name!r} is not available here ({reason}); available: {', '.join(available)}"
        )
