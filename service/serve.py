"""`sparsecoding serve`: run the API with uvicorn (and its embedded Dask cluster).

    python -m service.serve [--host 127.0.0.1] [--port 8000] [--data-dir DIR] [--workers N]

Settings come from `SPARSECODING_*` variables; the flags override them. When no API key is
configured, one is created for tenant `default`, stored hashed in `<data-dir>/api_keys`, and
printed once with the URL.
"""

from __future__ import annotations

import argparse
import os
import secrets
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from .settings import Settings, hash_key


def ensure_api_key(settings: Settings) -> str | None:
    """Create a key for tenant `default` when none is configured; return it (else None)."""
    if settings.key_hashes():
        return None
    key = secrets.token_urlsafe(32)
    path = settings.keys_file
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as f:
        f.write(f"# tenant:sha256:<hex of the key>, one per line\ndefault:sha256:{hash_key(key)}\n")
    return key


def build_settings(
    host: str | None = None,
    port: int | None = None,
    data_dir: Path | None = None,
    workers: int | None = None,
) -> Settings:
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
    return Settings(**overrides)


def serve(
    host: str | None = None,
    port: int | None = None,
    data_dir: Path | None = None,
    workers: int | None = None,
) -> None:
    """Start the service and block until it is stopped (Ctrl-C or SIGTERM)."""
    import uvicorn

    from .app import create_app

    settings = build_settings(host, port, data_dir, workers)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    key = ensure_api_key(settings)
    url = f"http://{settings.host}:{settings.port}"
    print(f"sparsecoding service on {url} (data in {settings.data_dir.resolve()})", flush=True)
    if key is not None:
        print(f"API key for tenant 'default' (shown once, stored hashed): {key}", flush=True)
    else:
        print(f"API keys from SPARSECODING_API_KEYS / {settings.keys_file}", flush=True)
    uvicorn.run(
        create_app(settings),
        host=settings.host,
        port=settings.port,
        log_level="info",
        access_log=settings.access_log,
        timeout_graceful_shutdown=10,
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", help="interface to bind (default 127.0.0.1)")
    parser.add_argument("--port", type=int, help="TCP port (default 8000)")
    parser.add_argument(
        "--data-dir", type=Path, help="database, arrays, checkpoints (default ./data)"
    )
    parser.add_argument("--workers", type=int, help="Dask worker processes (default 2)")


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="sparsecoding serve", description=__doc__.splitlines()[0])
    add_arguments(parser)
    args = parser.parse_args(argv)
    serve(args.host, args.port, args.data_dir, args.workers)
    return 0


if __name__ == "__main__":
    sys.exit(main())
