"""/api/schema/ is typed throughout, and the API's docs load nothing from outside (issue 15 §6)."""

from __future__ import annotations

import re

import pytest

pytestmark = pytest.mark.django_db


def _schema(client) -> dict:
    response = client.get("/api/schema/?format=json")
    assert response.status_code == 200
    return response.json()


def _untyped_objects(node, path=""):
    if isinstance(node, dict):
        untyped_map = node.get("additionalProperties") in ({}, True)
        bare_object = node.get("type") == "object" and not {"properties", "additionalProperties", "$ref"} & set(node)
        if untyped_map or bare_object:
            yield path
        for key, value in node.items():
            yield from _untyped_objects(value, f"{path}/{key}")
    elif isinstance(node, list):
        for index, value in enumerate(node):
            yield from _untyped_objects(value, f"{path}[{index}]")


def test_no_object_in_the_schema_is_left_untyped(client):
    assert list(_untyped_objects(_schema(client))) == []


def test_the_public_campaign_describes_its_nested_objects(client):
    schemas = _schema(client)["components"]["schemas"]
    campaign = schemas["Campaign"]["properties"]
    assert campaign["name"] == {"$ref": "#/components/schemas/Localized"}
    assert campaign["period"]["allOf"] == [{"$ref": "#/components/schemas/Span"}]
    assert campaign["courses"]["items"] == {"$ref": "#/components/schemas/CampaignCourse"}
    assert schemas["CampaignMission"]["properties"]["rule"] == {"$ref": "#/components/schemas/MissionRule"}
    assert schemas["MissionRule"]["properties"]["weekdays"]["items"]["type"] == "integer"
    assert schemas["Span"]["properties"]["starts_at"]["format"] == "date-time"


def test_every_operation_documents_its_error_answers(client):
    paths = _schema(client)["paths"]
    assert set(paths["/api/v1/transactions"]["post"]["responses"]) >= {"200", "400", "401", "403", "413", "429"}
    assert set(paths["/api/v1/members/{member_id}/progress"]["get"]["responses"]) >= {"200", "401", "403", "404"}
    public = paths["/api/v1/campaign"]["get"]["responses"]
    assert "200" in public and "401" not in public and "403" not in public
    entries_400 = paths["/api/v1/entries"]["post"]["responses"]["400"]["content"]["application/json"]["schema"]
    assert {"$ref": "#/components/schemas/ValidationErrors"} in entries_400["oneOf"]


@pytest.mark.parametrize("url", ["/api/docs/", "/api/redoc/"])
def test_the_docs_pages_load_only_local_files_and_run_no_inline_script(client, url):
    response = client.get(url)
    assert response.status_code == 200
    html = response.content.decode()
    assert not re.search(r"""(src|href)=["']?(https?:)?//""", html), html
    assert "fonts.googleapis" not in html
    assert not re.search(r"<script(?![^>]*\bsrc=)[^>]*>", html), "an inline script"
    assert "'unsafe-inline'" not in response["Content-Security-Policy"].split("script-src")[1].split(";")[0]


def test_swagger_ui_starts_from_a_script_file_that_never_asks_an_outside_validator(client):
    script = client.get("/api/docs/?script=")
    assert script.status_code == 200
    assert script["Content-Type"].startswith("application/javascript")
    body = script.content.decode()
    assert "/api/schema/" in body
    assert '"validatorUrl": null' in body or 'validatorUrl":null' in body.replace(" ", "")
