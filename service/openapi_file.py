"""The committed OpenAPI description, `openapi/openapi.json`, rendered from the app.

    python -m service.openapi_file [OUT]     # what scripts/generate-openapi runs

Lives above `service.app` (it builds an app), so that `service.api.openapi`, which the app
imports, never imports the app back.
"""

from __future__ import annotations

import json
import sys
import tempfile
from pathlib import Path

from .app import create_app
from .settings import Settings


def render_openapi() -> str:
    """The committed form of the description: sorted keys, indent 2, trailing newline.

    Built from an app on neutral settings; creating the app starts nothing (no database, no
    Dask), only its lifespan would.
    """
    with tempfile.TemporaryDirectory() as tmp:
        settings = Settings(data_dir=Path(tmp) / "data", api_keys=None, dask_scheduler=None)
        schema = create_app(settings).openapi()
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def main(argv: list[str] | None = None) -> int:
    """Write the description to OUT (default stdout)."""
    args = sys.argv[1:] if argv is None else argv
    text = render_openapi()
    if args:
        Path(args[0]).write_text(text, encoding="utf-8")
    else:
        sys.stdout.write(text)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
