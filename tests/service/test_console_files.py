"""The console's files as the service serves them (the browser test drives the page itself)."""

from __future__ import annotations

import httpx
import pytest
from service_testing import assert_problem, in_process_client

pytestmark = pytest.mark.anyio


async def test_the_console_is_served_without_a_key(app) -> None:  # type: ignore[no-untyped-def]
    async with in_process_client(app, key=None) as anonymous:
        root = await anonymous.get("/")
        assert root.status_code == 307 and root.headers["location"] == "/console"
        page = await anonymous.get("/console")
        assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
        assert (
            "/console/console.js" in page.text
            and "default-src 'self'" in page.headers["content-security-policy"]
        )
        script = await anonymous.get("/console/console.js")
        assert script.headers["content-type"].startswith("text/javascript")
        assert "Authorization" in script.text  # it sends the key the user signs in with
        style = await anonymous.get("/console/console.css")
        assert style.headers["content-type"].startswith("text/css")
        assert_problem(await anonymous.get("/console/secrets.txt"), 404)
        assert_problem(await anonymous.get("/console/..%2Fapp.py"), 404)
        # the API behind it still wants a key
        assert_problem(await anonymous.get("/v1/datasets"), 401)


async def test_the_console_is_not_part_of_the_api_description(client: httpx.AsyncClient) -> None:
    paths = (await client.get("/openapi.json")).json()["paths"]
    assert not [path for path in paths if path == "/" or path.startswith("/console")]
