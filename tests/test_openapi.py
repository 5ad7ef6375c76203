"""The API's OpenAPI document and its interactive docs, served by the app itself."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import get_resolver, resolve

pytestmark = pytest.mark.django_db


def test_the_document_is_openapi_3_1_and_covers_every_api_v1_route():
    document = Client().get("/api/v1/openapi.json").json()
    assert document["openapi"] == "3.1.0"
    documented = {re.sub(r"\{\w+\}", "X", path) for path in document["paths"] if path.startswith("/api/v1/")}
    routes = {
        "/api/v1/" + re.sub(r"\(\?P<\w+>\[\^/\]\+\)", "X", pattern.pattern.regex.pattern).strip("^$").replace("/?", "")
        for pattern in get_resolver("clientapi.urls").url_patterns
    }
    assert documented == routes
    send = document["paths"]["/api/v1/sms/send"]["post"]
    assert set(send["responses"]) >= {"202", "400", "401", "403", "413", "415", "422", "429", "503"}
    assert send["responses"]["202"]["links"]["status"]["operationId"] == "smsStatus"


def test_the_docs_page_uses_the_servers_own_swagger_ui(client):
    page = client.get("/api/docs/")
    assert page.status_code == 200
    assets = re.findall(r'(?:src|href)="(/static/[^"]+)"', page.content.decode())
    assert any("swagger-ui-bundle.js" in asset for asset in assets)
    assert "https://" not in page.content.decode()  # no CDN
    for asset in assets:
        assert client.get(asset).status_code == 200, asset


def test_the_document_covers_every_route_of_smsgates_client_api_but_its_deprecated_aliases():
    document = Client().get("/api/v1/openapi.json").json()
    paths = {path: item for path, item in document["paths"].items() if path.startswith("/api/3rdparty/v1/")}
    # Each documented path and method reaches its route (the legacy singulars share them).
    reached = set()
    for path, item in paths.items():
        match = resolve(re.sub(r"\{\w+\}", "x1", path))
        reached.add(match.url_name)
        view = match.func.view_class
        assert {method for method in item if method != "parameters"} == {
            method for method in ("get", "post", "put", "patch", "delete") if hasattr(view, method)
        }, path
    routes = {pattern.name for pattern in get_resolver("smsgate.urls").url_patterns}
    assert reached == routes - {"smsgate-export"}
    schemes = document["components"]["securitySchemes"]
    assert schemes["smsgateBasic"]["scheme"] == "basic" and schemes["smsgateToken"]["bearerFormat"] == "JWT"
    send = paths["/api/3rdparty/v1/messages"]["post"]
    assert send["responses"]["400"]["content"]["application/json"]["schema"]["$ref"].endswith("/SmsGateError")
    assert "`messages:send`" in send["description"]
    assert paths["/api/3rdparty/v1/health"]["get"].get("security") in (None, [])


def test_health_readiness_and_metrics_are_documented_and_answer_as_documented(client):
    import jsonschema

    document = Client().get("/api/v1/openapi.json").json()
    for path in ("/up", "/ready", "/metrics"):
        operation = document["paths"][path]["get"]
        assert operation["security"] == [] and operation["summary"]
        response = client.get(path)
        documented = operation["responses"][str(response.status_code)]["content"]
        if "application/json" in documented:
            jsonschema.validate(response.json(), documented["application/json"]["schema"])
        else:
            assert response["Content-Type"].startswith("text/plain")
    assert set(document["paths"]["/ready"]["get"]["responses"]) == {"200", "503"}
    assert set(document["paths"]["/metrics"]["get"]["responses"]) == {"200", "403"}
