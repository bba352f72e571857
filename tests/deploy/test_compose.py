"""docker-compose.yml and the Dockerfiles: valid against the Compose Specification's schema,
every command one this project installs, the README's install step, and no secret in them."""

from __future__ import annotations

import argparse
import json
import re
import tomllib
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from service import serve
from service.cli import build_parser
from service.runner.worker_info import GPU_RESOURCE
from service.settings import Settings

ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
SDK = "-e openapi/clients/python"
INSTALL = f"python3 -m venv .venv && .venv/bin/pip install -e . {SDK}"


@pytest.fixture(scope="module")
def compose() -> dict[str, Any]:
    return yaml.safe_load((ROOT / "docker-compose.yml").read_text())


@pytest.fixture(scope="module")
def pyproject() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _interpolate(value: str) -> str:
    """Compose's ${VAR:-default} → default and ${VAR:?message} → a placeholder."""
    value = re.sub(r"\$\{[A-Z0-9_]+:-([^}]*)\}", r"\1", value)
    return re.sub(r"\$\{[A-Z0-9_]+:\?[^}]*\}", "placeholder", value)


def test_compose_file_follows_the_compose_specification(compose: dict[str, Any]) -> None:
    schema = json.loads((HERE / "compose_spec.json").read_text())
    validator = jsonschema.Draft201909Validator(schema)
    errors = [f"{list(e.path)}: {e.message}" for e in validator.iter_errors(compose)]
    assert not errors


def test_services_share_the_data_volume_and_have_healthchecks(compose: dict[str, Any]) -> None:
    services = compose["services"]
    assert {"api", "scheduler", "worker", "gpu-worker"} <= set(services)
    assert "data" in compose["volumes"]
    for name, service in services.items():
        assert service["healthcheck"]["test"][0] == "CMD", name
        if name != "scheduler":
            assert "data:/data" in service["volumes"], name


def test_every_command_exists_in_the_project(
    compose: dict[str, Any], pyproject: dict[str, Any]
) -> None:
    dask_commands = {ep.name: ep for ep in entry_points(group="dask_cli")}
    depends = {re.split(r"[<>=!~ \[]", d)[0] for d in pyproject["project"]["dependencies"]}
    subcommands = build_parser()._subparsers._group_actions[0].choices  # type: ignore[union-attr]
    for name, service in compose["services"].items():
        argv = [_interpolate(str(arg)) for arg in service["command"]]
        if argv[0] == "sparsecoding":
            assert pyproject["project"]["scripts"]["sparsecoding"] == "service.cli:main"
            assert argv[1] in subcommands, name
            assert argv[1] == "serve"
            serve_parser = argparse.ArgumentParser(exit_on_error=False)
            serve.add_arguments(serve_parser)
            args = serve_parser.parse_args(argv[2:])
            assert args.host == "0.0.0.0" and args.data_dir == Path("/data")
        elif argv[0] == "dask":
            entry = dask_commands[argv[1]]
            assert entry.dist is not None and entry.dist.name == "distributed", name
            assert "distributed" in depends
            command = entry.load()
            command.make_context(f"dask {argv[1]}", argv[2:])  # rejects unknown options
        else:
            pytest.fail(f"service {name} runs {argv[0]!r}, which this project does not install")


def test_api_reaches_the_scheduler_and_takes_its_keys_from_the_environment(
    compose: dict[str, Any],
) -> None:
    services = compose["services"]
    environment = services["api"]["environment"]
    port = services["scheduler"]["command"][services["scheduler"]["command"].index("--port") + 1]
    assert environment["SPARSECODING_DASK_SCHEDULER"] == f"tcp://scheduler:{port}"
    fields = {f"SPARSECODING_{name.upper()}" for name in Settings.model_fields}
    assert set(environment) <= fields
    for name, service in services.items():
        worker_args = [str(arg) for arg in service["command"]]
        if "worker" in worker_args:
            assert f"tcp://scheduler:{port}" in worker_args, name
        for key, value in (service.get("environment") or {}).items():
            if re.search("KEY|SECRET|TOKEN|PASSWORD", key):
                assert re.fullmatch(r"\$\{[A-Z0-9_]+:\?[^}]+\}", str(value)), (name, key)


def test_gpu_worker_has_a_device_and_the_gpu_resource(compose: dict[str, Any]) -> None:
    gpu = compose["services"]["gpu-worker"]
    assert gpu["profiles"] == ["gpu"]
    (device,) = gpu["deploy"]["resources"]["reservations"]["devices"]
    assert device["driver"] == "nvidia" and "gpu" in device["capabilities"]
    argv = gpu["command"]
    assert argv[argv.index("--resources") + 1] == f"{GPU_RESOURCE}=1"
    assert gpu["build"]["dockerfile"] == "Dockerfile.gpu"
    for name, service in compose["services"].items():
        if name != "gpu-worker":
            assert "profiles" not in service and "--resources" not in service["command"]


def test_images_install_with_the_readme_command(pyproject: dict[str, Any]) -> None:
    readme = (ROOT / "README.md").read_text()
    ci = (ROOT / ".ci" / "run").read_text()
    assert INSTALL in readme
    assert "python3 -m venv .venv && .venv/bin/pip install" in ci
    cpu = (ROOT / "Dockerfile").read_text()
    gpu = (ROOT / "Dockerfile.gpu").read_text()
    assert f"RUN {INSTALL}\n" in cpu
    gpu_install = INSTALL.replace(" -e . ", " -e '.[gpu]' ")
    assert f"RUN {gpu_install}\n" in gpu
    assert "gpu" in pyproject["project"]["optional-dependencies"]
    for text in (cpu, gpu):
        assert not re.search(r"(?i)(api_keys|secret|password|token)\s*=", text)


def _dockerfile(name: str) -> str:
    return (ROOT / name).read_text()


def test_images_are_built_from_a_base_given_as_an_argument() -> None:
    """The base is a build argument (a slim Python image by default, NVIDIA's CUDA runtime for
    the GPU); both also build from a plain Debian, which has no Python (the RUN that installs
    it when missing), and both compile the kernels into the image and check them."""
    defaults = {"Dockerfile": "python:3.11-slim", "Dockerfile.gpu": "nvidia/cuda:12."}
    for name, default in defaults.items():
        text = _dockerfile(name)
        assert re.search(rf"^ARG BASE_IMAGE={re.escape(default)}", text, re.M), name
        assert re.search(r"^FROM \$\{BASE_IMAGE\}$", text, re.M), name
        assert "apt-get install" in text and "python3 python3-venv" in text, name
        assert "sparsecoding compile-kernels" in text and "kernels_cached()" in text, name
    assert "cupy-cuda12x[ctk]" in _dockerfile("Dockerfile.gpu")  # NVIDIA's wheels where needed
    gpu = _dockerfile("Dockerfile.gpu")
    assert "runtimeGetVersion()" in gpu and "// 1000 == 12" in gpu  # CuPy of CUDA 12, checked


def test_images_run_as_one_unprivileged_user_with_a_healthcheck() -> None:
    uids = set()
    for name in ("Dockerfile", "Dockerfile.gpu"):
        text = _dockerfile(name)
        (uid,) = re.findall(r"^ARG APP_UID=(\d+)$", text, re.M)
        uids.add(uid)
        assert int(uid) >= 1000, name
        users = re.findall(r"^USER (\S+)$", text, re.M)
        assert users and users[-1] == "sparsecoding", name
        assert re.search(r"^HEALTHCHECK .*\n\s+CMD \[", text, re.M), name
    assert len(uids) == 1, "the images share /data: one user id for both"


def test_the_build_context_is_an_allowlist() -> None:
    """.dockerignore excludes everything, then lets in what the images copy: never .env."""
    lines = [
        line
        for line in (ROOT / ".dockerignore").read_text().splitlines()
        if line and not line.startswith("#")
    ]
    assert lines[0] == "*"
    allowed = {line[1:] for line in lines if line.startswith("!")}
    copied = set()
    for name in ("Dockerfile", "Dockerfile.gpu"):
        for source in re.findall(r"^COPY (?!--from)(\S+)", _dockerfile(name), re.M):
            copied.add(source.rstrip("/"))
    for source in copied:
        assert any(source == a or source.startswith(a + "/") for a in allowed), source


def test_only_the_api_is_published_and_on_loopback_by_default(compose: dict[str, Any]) -> None:
    for name, service in compose["services"].items():
        assert service.get("init") is True, name
        if name == "api":
            (port,) = service["ports"]
            assert _interpolate(port) == "127.0.0.1:8000:8000"
        else:
            assert "ports" not in service, name
    assert compose["services"]["worker"]["deploy"]["replicas"] == 2
