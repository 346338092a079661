"""The OpenAPI document: valid OpenAPI 3.1, served as written, and every documented route is really there."""

from __future__ import annotations

import re

from jsonschema import Draft202012Validator
from openapi_spec_validator import validate

from conftest import ENDLESS_RECURSIVE_N, Client, load_openapi_source

METHODS = ("get", "put", "post", "delete", "patch", "head", "options", "trace")


def test_source_document_is_valid_openapi_31() -> None:
    document = load_openapi_source()
    assert document["openapi"].startswith("3.1")
    validate(document)


def test_source_document_covers_the_contract() -> None:
    document = load_openapi_source()
    routes = {(path, method) for path, item in document["paths"].items() for method in item if method in METHODS}
    assert routes == {
        ("/api/v1/tasks", "post"),
        ("/api/v1/tasks", "get"),
        ("/api/v1/tasks/{id}", "get"),
        ("/api/v1/tasks/{id}", "delete"),
        ("/api/v1/events", "get"),
        ("/api/v1/workers", "get"),
        ("/api/v1/status", "get"),
        ("/api/v1/fib/{n}", "get"),
        ("/api/v1/openapi.json", "get"),
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/metrics", "get"),
        # What the status pages read, beyond the contract.
        ("/api/v1/samples", "get"),
        ("/api/v1/groups", "get"),
    }
    for name in ("Task", "Event", "Worker", "Status", "Problem", "BatchResponse", "EventsResponse", "TaskList"):
        assert name in document["components"]["schemas"], name
    post = document["paths"]["/api/v1/tasks"]["post"]["responses"]
    assert {"200", "202", "400", "413", "415", "422", "503"} <= set(post)
    assert "Location" in post["202"]["headers"]
    responses = document["components"]["responses"]
    assert "Retry-After" in responses["QueueFull"]["headers"]
    assert "Allow" in responses["MethodNotAllowed"]["headers"]


def test_served_document_is_the_source(client: Client) -> None:
    response = client.get("/api/v1/openapi.json")
    assert response.status == 200, repr(response)
    assert response.content_type.startswith("application/json")
    assert response.json() == load_openapi_source()


def documented_statuses(document: dict, operation: dict) -> set[int]:
    codes = set()
    for code in operation["responses"]:
        if code.isdigit():
            codes.add(int(code))
    return codes


def resolve(document: dict, node: dict) -> dict:
    while "$ref" in node:
        target: dict = document
        for part in node["$ref"].removeprefix("#/").split("/"):
            target = target[part]
        node = target
    return node


def check_body(document: dict, operation: dict, response, where: str) -> None:
    """A JSON body matches the schema the document gives for its status and media type."""
    documented = resolve(document, operation["responses"][str(response.status)])
    media = response.content_type.split(";")[0].strip()
    if not media.endswith("json"):
        return
    schema = documented["content"][media]["schema"]
    validator = Draft202012Validator({"allOf": [schema], "components": document["components"]})
    errors = sorted(validator.iter_errors(response.json()), key=lambda e: list(e.path))
    assert not errors, f"{where}: body does not match its schema: " + "; ".join(
        f"{'/'.join(map(str, e.path))}: {e.message}" for e in errors[:5]
    )


def test_every_documented_route_answers(client: Client) -> None:
    document = load_openapi_source()
    done = client.submit({"n": 12}, wait="10")
    assert done["state"] == "done"
    to_cancel = client.submit({"n": ENDLESS_RECURSIVE_N - 4, "algorithm": "recursive"})
    try:
        for path, item in document["paths"].items():
            for method, operation in item.items():
                if method not in METHODS:
                    continue
                concrete = path.replace("{n}", "12")
                if "{id}" in path:
                    concrete = path.replace("{id}", to_cancel["id"] if method == "delete" else done["id"])
                body = {"n": 12} if method == "post" else None
                response = client.request(method.upper(), concrete, body=body, timeout=30)
                where = f"{method.upper()} {concrete}"
                assert response.status not in (404, 405, 501), f"{where}: {response!r}"
                assert response.status in documented_statuses(document, operation), f"{where}: {response!r}"
                media = response.content_type.split(";")[0].strip()
                documented_media = {
                    re.split(r";", key)[0].strip()
                    for key in resolve(document, operation["responses"][str(response.status)]).get("content", {})
                }
                assert media in documented_media, f"{where}: {media} not in {documented_media}"
                check_body(document, operation, response, where)
                # HEAD works wherever GET does.
                if method == "get":
                    head = client.request("HEAD", concrete, timeout=30)
                    assert head.status == response.status, f"HEAD {concrete}: {head!r}"
                    assert head.body == b""
    finally:
        client.cancel(to_cancel["id"])
