"""Exceptions of the numerical core, free of any HTTP notion (the service maps them)."""

from __future__ import annotations


class InvalidInputError(ValueError):
    """Data or an option is unusable; the message names the problem and where it is."""


class FitWarning(UserWarning):
    """A fit that runs but whose result is unlikely to be what was meant; the message says
    why and what to change."""


class ConvergenceWarning(FitWarning):
    """Codes came back short of their certificate (an iteration cap stopped some rows first);
    the message says how many rows and how far. The scikit-learn estimators raise it as
    scikit-learn's ConvergenceWarning too."""


class BackendUnavailableError(RuntimeError):
    """A backend was asked for that this machine cannot run; `available` lists those it can."""

    def __init__(self, name: str, reason: str, available: list[str]) -> None:
        self.name = name
        self.reason = reason
        self.available = available
        super().__init__(
            f"backend {name!r} is not available here ({reason}); available: {', '.join(available)}"
        )
