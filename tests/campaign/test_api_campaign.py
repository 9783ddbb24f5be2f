"""GET /api/v1/campaign (public) and the OpenAPI description with its local docs page."""

from __future__ import annotations

import re

from merchants.models import Merchant


def test_the_campaign_is_public_with_period_courses_missions_and_bonus_merchants(client, campaign):
    Merchant.objects.filter(code="KOBE-02").update(is_active=False)
    response = client.get("/api/v1/campaign")
    assert response.status_code == 200
    body = response.json()
    assert body["period"] == {"starts_at": "2026-03-02T00:00:00+09:00", "ends_at": "2026-04-01T00:00:00+09:00"}
    assert body["data_cutoff_at"] == "2026-04-10T23:59:59+09:00"
    assert body["lottery"] == {"winners": 77, "prize_points": 5000, "point_type": "basic"}
    codes = [m["code"] for course in body["courses"] for m in course["missions"]]
    assert {"casual-1", "casual-2", "casual-complete", "bonus-1"} | {f"mania-{i}" for i in range(1, 11)} <= set(codes)
    mania2 = next(m for c in body["courses"] for m in c["missions"] if m["code"] == "mania-2")
    assert mania2["rule"]["window_start"] == "05:00:00" and mania2["rule"]["min_amount"] == 300
    assert mania2["title"]["ja"]
    merchants = {m["code"] for m in body["bonus_merchants"]}
    assert "KOBE-01" in merchants and "KOBE-02" not in merchants
    assert len(merchants) == Merchant.objects.bonus().count()


def test_the_schema_describes_every_system_endpoint(client, db):
    response = client.get("/api/schema/", HTTP_ACCEPT="application/vnd.oai.openapi+json")
    assert response.status_code == 200
    text = response.content.decode()
    for path in ("/api/v1/transactions", "/api/v1/entries", "/api/v1/video-views", "/api/v1/campaign"):
        assert path in text


def test_the_docs_page_loads_only_local_files(client, db):
    response = client.get("/api/docs/")
    assert response.status_code == 200
    html = response.content.decode()
    sources = re.findall(r'(?:src|href)="([^"]+)"', html)
    assert sources
    assert all(not s.startswith(("http:", "https:", "//")) for s in sources), sources
