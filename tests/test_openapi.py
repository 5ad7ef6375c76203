"""The API's OpenAPI document and its interactive docs, served by the app itself."""

from __future__ import annotations

import re

import pytest
from django.test import Client
from django.urls import get_resolver

pytestmark = pytest.mark.django_db


def test_the_document_is_openapi_3_1_and_covers_every_api_v1_route():
    document = Client().get("/api/v1/openapi.json").json()
    assert document["openapi"] == "3.1.0"
    documented = {re.sub(r"\{\w+\}", "X", path) for path in document["paths"]}
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
