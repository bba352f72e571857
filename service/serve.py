"""Start the sparsecoding HTTP service: the API (uvicorn), its SQLite database and an embedded
Dask cluster, all in one data directory.

    sparsecoding serve [--host 127.0.0.1] [--port 8000] [--data-dir ./data] [--workers 2]

Settings come from SPARSECODING_* environment variables (docs/service.md); these flags override
them. On the first start with no key configured, an API key for tenant `default` is created,
printed once and stored hashed in <data-dir>/api_keys; `sparsecoding new-key` makes another.
Ctrl-C or SIGTERM stops the service; jobs that were running resume at the next start.
"""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

import uvicorn
from pydantic import ValidationError

from .keys import create_key, ensure_default_key
from .settings import Settings, valid_tenant

DESCRIPTION = __doc__


_FLAGS = ("host", "port", "data_dir", "workers")  # the settings `serve` also takes as flags


class SettingsError(ValueError):
    """A setting (flag or SPARSECODING_* variable) that cannot be used; the message names it."""


def _describe(exc: ValidationError) -> str:
    parts = []
    for error in exc.errors():
        field = ".".join(str(part) for part in error["loc"])
        flag = f"--{field.replace('_', '-')} or " if field in _FLAGS else ""
        where = f"{field} ({flag}SPARSECODING_{field.upper()})" if field else "the settings"
        shown = "" if not field or "key" in field else f"; got {error.get('input')!r}"
        parts.append(f"{where}: {error['msg']}{shown}")
    return "invalid setting: " + "; ".join(parts)


def build_settings(
    host: str | None = None,
    port: int | None = None,
    data_dir: Path | None = None,
    workers: int | None = None,
) -> Settings:
    """Settings from the environment, with the given values (the flags) over them; a
    SettingsError says which one is unusable and why."""
    overrides: dict[str, Any] = {
        name: value
        for name, value in (
            ("host", host),
            ("port", port),
            ("data_dir", data_dir),
            ("workers", workers),
        )
        if value is not None
    }
    try:
        return Settings(**overrides)
    except ValidationError as exc:
        raise SettingsError(_describe(exc)) from None


def _logging_config() -> dict[str, Any]:
    """uvicorn's logging, with the service's own loggers printed the same way."""
    from uvicorn.config import LOGGING_CONFIG

    config: dict[str, Any] = {**LOGGING_CONFIG, "loggers": dict(LOGGING_CONFIG["loggers"])}
    config["loggers"]["service"] = {"handlers": ["default"], "level": "INFO", "propagate": False}
    return config


def _announce(settings: Settings, key: str | None) -> None:
    url = f"http://{settings.host}:{settings.port}"
    keys = settings.keys_file
    print(f"sparsecoding service on {url} (data in {settings.data_dir.resolve()})", flush=True)
    if key is not None:
        print(
            f"API key for tenant 'default' (shown once, stored hashed in {keys}): {key}",
            flush=True,
        )
    else:
        sources = [str(keys)] if keys.exists() else []
        if settings.api_keys is not None:
            sources.insert(0, "SPARSECODING_API_KEYS")
        print(
            f"API keys from {' and '.join(sources)} (stored hashed, cannot be shown again); a "
            f"lost key is replaced with: sparsecoding new-key --data-dir {settings.data_dir}",
            flush=True,
        )


def serve(
    host: str | None = None,
    port: int | None = None,
    data_dir: Path | None = None,
    workers: int | None = None,
) -> None:
    """Start the service and block until it is stopped (Ctrl-C or SIGTERM)."""
    from .runner.cluster import start_embedded
    from .store.layout import DataLayout
    from .warmup import begin_compiling

    settings = build_settings(host, port, data_dir, workers)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    key = ensure_default_key(settings)
    _announce(settings, key)
    # Both take a second or more: they start now, while the app is imported.
    compiling = begin_compiling()
    cluster = start_embedded(settings, DataLayout(settings.data_dir))

    from .app import Prestarted, create_app

    app = create_app(settings, Prestarted(cluster, compiling))
    config = uvicorn.Config(
        app,
        host=settings.host,
        port=settings.port,
        log_config=_logging_config(),
        access_log=settings.access_log,
        timeout_graceful_shutdown=10,
    )
    StoppingServer(config, app.state.service.begin_stop).run()


class StoppingServer(uvicorn.Server):
    """uvicorn's server that tells the app as soon as a stop signal arrives, so that open event
    streams end at once instead of holding the shutdown until its timeout."""

    def __init__(self, config: uvicorn.Config, on_stop: Callable[[], None]) -> None:
        super().__init__(config)
        self.on_stop = on_stop

    def handle_exit(self, sig: int, frame: FrameType | None) -> None:
        self.on_stop()
        super().handle_exit(sig, frame)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags of `sparsecoding serve` (the one place they are declared)."""
    defaults = Settings.model_fields
    parser.add_argument("--host", help=f"interface to bind (default {defaults['host'].default})")
    parser.add_argument("--port", type=int, help=f"TCP port (default {defaults['port'].default})")
    parser.add_argument(
        "--data-dir",
        type=Path,
        help="database, arrays, checkpoints and API keys "
        f"(default ./{defaults['data_dir'].default})",
    )
    parser.add_argument(
        "--workers",
        type=int,
        help=f"Dask worker processes (default {defaults['workers'].default})",
    )


def run(args: argparse.Namespace) -> int:
    """`sparsecoding serve` with parsed flags; the exit status."""
    try:
        serve(args.host, args.port, args.data_dir, args.workers)
    except KeyboardInterrupt:  # uvicorn re-raises Ctrl-C once it has shut down cleanly
        return 128 + signal.SIGINT
    except (SettingsError, ValueError) as exc:  # ValueError: a keys file that does not parse
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


def add_key_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--data-dir", type=Path, help="the service's data directory (default ./data)"
    )
    parser.add_argument("--tenant", default="default", help="tenant of the key (default default)")


def new_key(args: argparse.Namespace) -> int:
    """`sparsecoding new-key`: a new API key in the data directory's keys file."""
    if not valid_tenant(args.tenant):
        message = f"error: {args.tenant!r} is not a tenant name (letters, digits, _ . -)"
        print(message, file=sys.stderr)
        return 2
    try:
        settings = build_settings(data_dir=args.data_dir)
    except SettingsError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    key = create_key(settings.keys_file, args.tenant)
    print(f"API key for tenant {args.tenant!r} (stored hashed in {settings.keys_file}): {key}")
    return 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="sparsecoding serve",
        description=DESCRIPTION,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    sys.exit(main())
