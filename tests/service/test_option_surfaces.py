"""Every fit option is declared once (`solvers.FitOptions`); each surface offers it with the
same default and range, or says why not. Adding an option there fails here until it is
offered everywhere."""

from __future__ import annotations

import inspect
import typing

import pytest

import solvers
from service.cli import build_parser
from service.schemas.jobs import SERVICE_OWNED, FitSpec
from solvers.estimator import SparseDictionaryLearning

SPECS = {spec.name: spec for spec in solvers.option_specs()}
# not offered, and why: the service and the estimator own their checkpoints
NOT_ON = {"cli": {"checkpoint_interval"}, "estimator": {"checkpoint_interval"}}


def _subcommand(name: str):  # type: ignore[no-untyped-def]
    commands = next(a for a in build_parser()._actions if a.dest == "command")
    return commands.choices[name]  # type: ignore[union-attr]


def test_the_job_schema_offers_every_option_with_its_default_and_range() -> None:
    assert set(FitSpec.model_fields) == set(SPECS) - SERVICE_OWNED
    for name, field in FitSpec.model_fields.items():
        spec = SPECS[name]
        assert field.default == spec.default, name
        bounds = {
            b: getattr(m, b) for m in field.metadata for b in ("gt", "ge", "le") if hasattr(m, b)
        }
        expected = {b: getattr(spec, b) for b in ("gt", "ge", "le") if getattr(spec, b) is not None}
        assert bounds == expected, name
        if spec.choices is not None and name != "init":  # init: also a model id
            annotation = field.annotation
            if typing.get_origin(annotation) is not typing.Literal:  # Literal[...] | None
                annotation = next(a for a in typing.get_args(annotation) if a is not type(None))
            assert typing.get_args(annotation) == spec.choices, name


def test_the_estimator_takes_every_option_with_its_default() -> None:
    parameters = inspect.signature(SparseDictionaryLearning).parameters
    names = SparseDictionaryLearning.OPTION_NAMES
    # callback is solvers.fit's argument beside the options, not one of them
    not_options = ("n_components", "callback")
    offered = {names.get(p, p): parameters[p].default for p in parameters if p not in not_options}
    assert set(offered) == set(SPECS) - NOT_ON["estimator"]
    for name, default in offered.items():
        assert default == SPECS[name].default, name


@pytest.mark.parametrize("command", ["fit", "submit"])
def test_both_command_lines_take_every_option_with_its_default(command: str) -> None:
    parser = _subcommand(command)
    defaults = {a.dest: a.default for a in parser._actions}
    for name, spec in SPECS.items():
        if name in NOT_ON["cli"]:
            assert name not in defaults
            continue
        assert defaults[name] == spec.default, f"{command} --{name}"
    args = parser.parse_args(["data.npy", "-k", "4", "--seed", "7", "--positive-codes"])
    assert args.random_state == 7 and args.positive_codes is True


@pytest.mark.parametrize("spec", list(SPECS.values()), ids=list(SPECS))
def test_each_declared_bound_is_enforced(spec: solvers.OptionSpec) -> None:
    """Just past each bound (and a value of the wrong kind) is refused, naming the option."""
    # (init may also be an array, which the fit checks against the data)
    cases: list[object] = [] if spec.name == "init" else ["x" if spec.kind is not str else 3]
    if spec.choices is not None:
        cases.append("none-of-these")
    if spec.gt is not None:
        cases.append(spec.gt)
    if spec.ge is not None:
        cases.append(spec.ge - 1)
    if spec.le is not None:
        cases.append(spec.le * 2 if spec.kind is float else spec.le + 1)
    for value in cases:
        with pytest.raises(solvers.InvalidInputError, match=rf"^{spec.name} must be"):
            solvers.validate_options(2, solvers.DEFAULTS.replace(**{spec.name: value}))
    solvers.validate_options(2, solvers.DEFAULTS)


def test_the_progress_schema_is_the_solver_record() -> None:
    """A job's progress is `solvers.Progress` as the fit reported it, stored as it is; the
    API's `ProgressPublic` shows the same fields."""
    import dataclasses

    from service.schemas.jobs import ProgressPublic

    fields = [f.name for f in dataclasses.fields(solvers.Progress)]
    assert list(ProgressPublic.model_fields) == fields
