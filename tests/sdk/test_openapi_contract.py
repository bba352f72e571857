"""The committed OpenAPI description is the app's, and it describes every operation fully."""

from __future__ import annotations

import json

import httpx
from server_process import REPO, Server

from service.openapi_file import render_openapi

COMMITTED = REPO / "openapi" / "openapi.json"
STALE = "openapi/openapi.json is stale: run scripts/generate-openapi"


def test_committed_description_is_the_apps() -> None:
    assert COMMITTED.read_text(encoding="utf-8") == render_openapi(), STALE


def test_served_description_is_the_committed_one(server: Server) -> None:
    served = httpx.get(f"{server.url}/openapi.json", timeout=10).raise_for_status().json()
    assert served == json.loads(COMMITTED.read_text(encoding="utf-8")), STALE


def test_every_operation_is_fully_described() -> None:
    spec = json.loads(COMMITTED.read_text(encoding="utf-8"))
    ids = []
    for path, operations in spec["paths"].items():
        for method, op in operations.items():
            where = f"{method.upper()} {path}"
            ids.append(op["operationId"])
            assert op["operationId"].isidentifier(), where
            assert op.get("summary") and op.get("description") and op.get("tags"), where
            for status, response in op["responses"].items():
                assert response.get("description"), (where, status)
                if status != "204" and not (status == "202" and "cancel" in path):
                    assert response.get("content"), (where, status)
                for media, content in response.get("content", {}).items():
                    assert content.get("schema"), (where, status, media)
                if int(status) >= 400:
                    assert list(response["content"]) == ["application/problem+json"], where
            if path.startswith("/v1/"):
                assert op["security"] == [{"ApiKey": []}], where
                assert "401" in op["responses"], where
            body = op.get("requestBody", {}).get("content", {})
            if "application/json" in body:
                json_body = body["application/json"]
                ref = json_body["schema"].get("$ref", "")
                named = spec["components"]["schemas"].get(ref.rsplit("/", 1)[-1], {})
                assert "example" in json_body or named.get("examples"), where
    assert len(ids) == len(set(ids))
    assert "HTTPValidationError" not in spec["components"]["schemas"]


def test_binary_bodies_are_described() -> None:
    spec = json.loads(COMMITTED.read_text(encoding="utf-8"))
    paths = spec["paths"]
    binary = {"type": "string", "format": "binary"}
    upload = paths["/v1/datasets"]["post"]["requestBody"]["content"]
    assert upload["application/x-npy"]["schema"] == binary
    for path in ("/v1/models/{model_id}/dictionary", "/v1/jobs/{job_id}/codes"):
        content = paths[path]["get"]["responses"]["200"]["content"]
        assert content["application/x-npy"]["schema"] == binary
        matrix = {"$ref": "#/components/schemas/MatrixPublic"}
        assert content["application/json"]["schema"] == matrix
