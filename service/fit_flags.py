"""Command-line flags of the fit options, built from their one declaration
(`solvers.option_specs`): `sparsecoding fit` and `sparsecoding submit` take the same flags
with the same defaults, and an option added to `solvers.FitOptions` appears on both."""

from __future__ import annotations

import argparse
from typing import Any

import solvers

# a shorter name kept for an option, besides its own (--random-state)
ALIASES = {"random_state": ("--seed",)}


def add_fit_flags(
    parser: argparse.ArgumentParser, *, exclude: frozenset[str] = frozenset(), init_help: str = ""
) -> None:
    """One flag per fit option not in `exclude`, named after the option (`--max-iter`)."""
    for spec in solvers.option_specs():
        if spec.name in exclude:
            continue
        flags = [f"--{spec.name.replace('_', '-')}", *ALIASES.get(spec.name, ())]
        if spec.kind is bool:
            parser.add_argument(
                *flags,
                dest=spec.name,
                action=argparse.BooleanOptionalAction,
                default=spec.default,
                help=spec.help,
            )
            continue
        choices = spec.choices
        text = spec.help
        if spec.name == "init" and init_help:
            choices, text = None, init_help  # also a model id, on the service
        default = "" if spec.default is None else f" (default {spec.default})"
        parser.add_argument(
            *flags,
            dest=spec.name,
            type=spec.kind,
            choices=choices,
            default=spec.default,
            help=text + default,
        )


def fit_options(args: argparse.Namespace, *, changed_only: bool = False) -> dict[str, Any]:
    """The fit options the flags of `args` give (`changed_only`: those not at their default,
    so that a service applies its own defaults to the rest)."""
    options = {}
    for spec in solvers.option_specs():
        if hasattr(args, spec.name):
            value = getattr(args, spec.name)
            if not changed_only or value != spec.default:
                options[spec.name] = value
    return options
