"""The bonus merchants page: the BLUE-tag list by district, live from the merchant table."""

from __future__ import annotations

import pytest
from django.utils.html import escape

from merchants.models import District, Merchant

pytestmark = pytest.mark.django_db


def test_the_bonus_merchants_are_listed_by_district_in_order_with_addresses(client, campaign):
    html = client.get("/merchants/").content.decode()
    positions = [html.index(f'id="district-{code}"') for code in ("motomachi", "nankinmachi", "hokancho")]
    assert positions == sorted(positions)
    for merchant in Merchant.objects.bonus():
        assert escape(merchant.name) in html
        assert escape(merchant.address) in html
    hokancho = html.split('id="district-hokancho"')[1].split("</section>")[0]
    assert "HATTORI BAGEL" in hokancho and "岡山市北区奉還町 1-4-12-1" in hokancho
    assert "LES HIRONDELLES" not in hokancho


def test_what_marketing_edits_is_what_customers_see(client, campaign):
    Merchant.objects.filter(code="KOBE-01").update(name="レ・イロンデル元町")
    Merchant.objects.filter(code="KOBE-02").update(is_active=False)
    Merchant.objects.filter(code="OKAYAMA-01").update(on_bonus_list=False)
    html = client.get("/merchants/").content.decode()
    assert "レ・イロンデル元町" in html and "LES HIRONDELLES" not in html
    assert "花見屋元町本店" not in html
    assert "ほうかん町みつの" not in html


def test_a_district_without_bonus_merchants_is_not_shown(client, campaign):
    Merchant.objects.filter(district__code="hokancho").update(on_bonus_list=False)
    html = client.get("/merchants/").content.decode()
    assert 'id="district-hokancho"' not in html
    assert 'id="district-motomachi"' in html


def test_a_bonus_merchant_without_a_district_is_still_listed(client, campaign):
    Merchant.objects.create(code="KOBE-99", name="新しいお店", address="神戸市中央区元町通 9-9", on_bonus_list=True)
    html = client.get("/merchants/").content.decode()
    assert "新しいお店" in html.split('id="district-other"')[1]


def test_the_five_steps_of_paying_with_a_blue_tag_are_shown(client, campaign):
    html = client.get("/merchants/").content.decode()
    steps = html.split('<ol class="steps">')[1].split("</ol>")[0]
    assert steps.count("<li>") == 5


def test_the_page_reads_in_english(client, campaign):
    client.post("/i18n/setlang/", {"language": "en", "next": "/merchants/"})
    html = client.get("/merchants/").content.decode()
    assert "Motomachi" in html and "Hokancho" in html and "Okayama" in html
    assert District.objects.count() == 3
