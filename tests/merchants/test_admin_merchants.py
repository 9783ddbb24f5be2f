"""The merchant list in the admin: import with preview/confirm (CSV, CP932, XLSX), export, history, permissions."""

from __future__ import annotations

import csv
import io

import openpyxl
import pytest
from django.contrib.admin.models import LogEntry
from django.contrib.auth.models import Permission
from django.urls import reverse

from merchants.models import District, Merchant
from merchants.resources import MerchantResource, cell_escape, cell_unescape
from tests.campaign.factories import UserFactory

pytestmark = pytest.mark.django_db

IMPORT_URL = "admin:merchants_merchant_import"
PROCESS_URL = "admin:merchants_merchant_process_import"
EXPORT_URL = "admin:merchants_merchant_export"
HEADER = "code,name,name_kana,address,district,order,blue_tag,on_bonus_list,is_active\n"


@pytest.fixture
def districts(db):
    District.objects.create(code="motomachi", name_ja="元町", order=1)
    District.objects.create(code="hokancho", name_ja="奉還町", order=2)


def csv_upload(text: str, encoding: str = "utf-8", name: str = "merchants.csv") -> io.BytesIO:
    upload = io.BytesIO(text.encode(encoding))
    upload.name = name
    return upload


def xlsx_upload(rows: list[list], name: str = "merchants.xlsx") -> io.BytesIO:
    book = openpyxl.Workbook()
    sheet = book.active
    for row in rows:
        sheet.append(row)
    upload = io.BytesIO()
    book.save(upload)
    upload.seek(0)
    upload.name = name
    return upload


def import_file(client, upload, fmt: int = 0):
    """Upload (preview), then confirm; returns (preview response, confirm response)."""
    preview = client.post(reverse(IMPORT_URL), {"resource": "0", "format": str(fmt), "import_file": upload})
    assert preview.status_code == 200
    confirm_form = preview.context.get("confirm_form")
    if confirm_form is None:
        return preview, None
    data = {name: confirm_form.initial.get(name, "") for name in confirm_form.fields}
    confirmed = client.post(reverse(PROCESS_URL), data)
    return preview, confirmed


def export_file(client, fmt: int) -> bytes:
    fields = {f"merchantresource_{name}": "on" for name in MerchantResource().get_export_order()}
    response = client.post(reverse(EXPORT_URL), {"resource": "0", "format": str(fmt), **fields})
    assert response.status_code == 200, response.content[:500]
    return response.content


def test_csv_import_previews_then_creates_merchants_on_confirmation(admin_client, districts):
    upload = csv_upload(HEADER + "KOBE-01,LES HIRONDELLES,レ イロンデル,神戸市中央区元町通 1-2-8,motomachi,1,1,1,1\n")
    preview, confirmed = import_file(admin_client, upload)
    assert "LES HIRONDELLES" in preview.content.decode()
    assert confirmed.status_code == 302
    merchant = Merchant.objects.get(code="KOBE-01")
    assert merchant.district.code == "motomachi"
    assert merchant.on_bonus_list and merchant.blue_tag and merchant.is_active


def test_preview_alone_changes_nothing(admin_client, districts):
    upload = csv_upload(HEADER + "KOBE-01,LES HIRONDELLES,,,motomachi,1,1,1,1\n")
    admin_client.post(reverse(IMPORT_URL), {"resource": "0", "format": "0", "import_file": upload})
    assert not Merchant.objects.exists()


def test_reimport_updates_the_merchant_with_the_same_code_and_never_duplicates(admin_client, districts):
    import_file(admin_client, csv_upload(HEADER + "KOBE-01,旧名,,,motomachi,1,1,1,1\n"))
    import_file(admin_client, csv_upload(HEADER + "KOBE-01,新名,,,hokancho,1,1,0,1\n"))
    assert Merchant.objects.filter(code="KOBE-01").count() == 1
    merchant = Merchant.objects.get(code="KOBE-01")
    assert (merchant.name, merchant.district.code, merchant.on_bonus_list) == ("新名", "hokancho", False)


def test_cp932_csv_from_excel_is_read(admin_client, districts):
    upload = csv_upload(
        HEADER + "OKAYAMA-01,奉還町商店街の店,ほうかんちょう,岡山市北区奉還町,hokancho,1,1,1,1\n", "cp932"
    )
    import_file(admin_client, upload)
    assert Merchant.objects.get(code="OKAYAMA-01").name == "奉還町商店街の店"


def test_utf8_csv_with_bom_is_read(admin_client, districts):
    import_file(admin_client, csv_upload(HEADER + "KOBE-02,花見屋,,,motomachi,2,1,1,1\n", "utf-8-sig"))
    assert Merchant.objects.get(code="KOBE-02").name == "花見屋"


def test_xlsx_import_creates_and_updates(admin_client, districts):
    header = HEADER.strip().split(",")
    import_file(admin_client, xlsx_upload([header, ["KOBE-03", "コウベサコム", "", "", "motomachi", 3, 1, 1, 1]]), 1)
    import_file(admin_client, xlsx_upload([header, ["KOBE-03", "コウベサコム2", "", "", "motomachi", 3, 1, 0, 1]]), 1)
    assert Merchant.objects.filter(code="KOBE-03").count() == 1
    assert Merchant.objects.get(code="KOBE-03").name == "コウベサコム2"


def test_unknown_district_is_an_error_and_nothing_is_imported(admin_client, districts):
    upload = csv_upload(HEADER + "KOBE-01,A,,,motomachi,1,1,1,1\nKOBE-02,B,,,atlantis,2,1,1,1\n")
    preview, confirmed = import_file(admin_client, upload)
    assert confirmed is None
    assert preview.context["result"].has_validation_errors() or preview.context["result"].has_errors()
    assert not Merchant.objects.exists()


def test_an_unknown_district_is_named_in_japanese_in_the_preview(admin_client, districts):
    upload = csv_upload(HEADER + "KOBE-02,B,,,atlantis,2,1,1,1\n")
    preview, _confirmed = import_file(admin_client, upload)
    page = preview.content.decode()
    assert "地区コード「atlantis」はありません" in page and "motomachi, hokancho" in page
    assert "matching query does not exist" not in page


@pytest.mark.parametrize("order", ["1" * 5000, "1e5000", "abc"])
def test_an_order_that_is_not_a_number_is_named_in_japanese_in_the_preview(admin_client, districts, order):
    """Python's 4,300-digit limit and Decimal's class name reached the preview in English ("[<class ...>]")."""
    upload = csv_upload(HEADER + f"KOBE-01,A,,,motomachi,{order},1,1,1\nKOBE-02,B,,,motomachi,2,1,1,1\n")
    preview, confirmed = import_file(admin_client, upload)
    assert confirmed is None and not Merchant.objects.exists()
    result = preview.context["result"]
    assert not result.has_errors() and [row.number for row in result.invalid_rows] == [2]  # the file's line
    page = preview.content.decode()
    assert f"「{order[:20]}{'…' if len(order) > 20 else ''}」は 0 以上の整数ではありません。" in page
    assert "4300" not in page and "&lt;class" not in page


def test_the_import_result_is_reported_in_japanese(admin_client, districts):
    upload = csv_upload(HEADER + "KOBE-01,A,,,motomachi,1,1,1,1\n")
    _preview, confirmed = import_file(admin_client, upload)
    page = admin_client.get(confirmed.url).content.decode()
    assert "インポート完了: 新規 1 件、更新 0 件、削除 0 件、スキップ 0 件（加盟店）。" in page
    assert "Import finished" not in page


def test_the_export_page_names_the_columns_in_japanese(admin_client, districts):
    page = admin_client.get(reverse(EXPORT_URL)).content.decode()
    assert "次の列をエクスポートします" in page and "すべて選択" in page
    assert "地区 (district)" in page and "Blue Tag" not in page


def test_csv_export_escapes_formulae_and_imports_back_unchanged(admin_client, districts):
    district = District.objects.get(code="motomachi")
    dangerous = ['=HYPERLINK("http://x")', "+81-78", "-1+1", "@SUM(A1)", "\tTAB", "\rCR"]
    for index, name in enumerate(dangerous):
        Merchant.objects.create(code=f"X-{index}", name=name, district=district)
    content = export_file(admin_client, 0)
    assert content.startswith("\ufeff".encode())
    text = content.decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text, newline="")))
    names = [row[1] for row in rows[1:]]
    assert sorted(names) == sorted("'" + name for name in dangerous)
    assert not any(cell.startswith(("=", "+", "-", "@", "\t", "\r")) for row in rows for cell in row)

    Merchant.objects.update(name="changed")
    import_file(admin_client, csv_upload(text, "utf-8-sig"))
    assert sorted(Merchant.objects.values_list("name", flat=True)) == sorted(dangerous)


def test_xlsx_export_escapes_formulae_so_no_cell_is_a_formula(admin_client, districts):
    Merchant.objects.create(code="X-1", name="=1+1", district=District.objects.get(code="motomachi"))
    content = export_file(admin_client, 1)
    sheet = openpyxl.load_workbook(io.BytesIO(content)).active
    rows = list(sheet.iter_rows(values_only=True))
    assert rows[0][0] == "code"
    assert rows[1][1] == "'=1+1"
    assert all(cell.data_type != "f" for row in sheet.iter_rows() for cell in row)


def test_formula_escape_round_trips():
    for value in ["=A1", "+1", "-1", "@x", "\tx", "\rx", "plain", "'quoted", 3]:
        assert cell_unescape(cell_escape(value)) == value
    assert cell_escape("plain") == "plain"


def test_every_change_is_in_the_history_with_its_author(admin_client, admin_user, districts):
    import_file(admin_client, csv_upload(HEADER + "KOBE-01,A,,,motomachi,1,1,1,1\n"))
    merchant = Merchant.objects.get(code="KOBE-01")
    url = reverse("admin:merchants_merchant_change", args=[merchant.pk])
    data = {
        "code": "KOBE-01",
        "name": "B",
        "name_kana": "",
        "address": "",
        "district": merchant.district_id,
        "order": 1,
        "blue_tag": "on",
        "is_active": "on",
    }
    assert admin_client.post(url, data).status_code == 302
    history = list(merchant.history.order_by("history_date"))
    assert [h.name for h in history] == ["A", "B"]
    assert all(h.history_user == admin_user for h in history)
    page = admin_client.get(reverse("admin:merchants_merchant_history", args=[merchant.pk]))
    assert page.status_code == 200 and admin_user.username in page.content.decode()
    assert LogEntry.objects.filter(user=admin_user, object_id=str(merchant.pk)).exists()


def test_only_users_with_the_import_permission_can_import(client, districts):
    user = UserFactory(is_staff=True)
    user.user_permissions.add(*Permission.objects.filter(codename__in=["view_merchant", "change_merchant"]))
    client.force_login(user)
    assert client.get(reverse(IMPORT_URL)).status_code == 403
    upload = csv_upload(HEADER + "KOBE-01,A,,,motomachi,1,1,1,1\n")
    assert client.post(reverse(IMPORT_URL), {"format": "0", "import_file": upload}).status_code == 403
    assert not Merchant.objects.exists()

    user.user_permissions.add(Permission.objects.get(codename="import_merchant"))
    client.force_login(type(user).objects.get(pk=user.pk))
    assert client.get(reverse(IMPORT_URL)).status_code == 200


def test_changelist_filters_and_searches(admin_client, districts):
    district = District.objects.get(code="hokancho")
    Merchant.objects.create(code="OKAYAMA-01", name="奉還町の店", name_kana="ほうかんちょうのみせ", district=district)
    Merchant.objects.create(code="KOBE-01", name="元町の店", district=District.objects.get(code="motomachi"))
    url = reverse("admin:merchants_merchant_changelist")
    for query in ["?q=ほうかんちょう", f"?district__id__exact={district.pk}", "?q=OKAYAMA"]:
        page = admin_client.get(url + query).content.decode()
        assert "OKAYAMA-01" in page and "KOBE-01" not in page


def test_xlsx_export_imports_back_without_duplicates_or_changes(admin_client, districts):
    district = District.objects.get(code="hokancho")
    Merchant.objects.create(code="OKAYAMA-01", name="=危険な名前", name_kana="きけん", district=district, order=1)
    Merchant.objects.create(code="OKAYAMA-02", name="普通の店", district=district, order=2, on_bonus_list=True)
    before = list(Merchant.objects.order_by("code").values("code", "name", "name_kana", "district", "on_bonus_list"))
    content = export_file(admin_client, 1)
    Merchant.objects.filter(code="OKAYAMA-02").update(name="書き換え")
    upload = io.BytesIO(content)
    upload.name = "merchants.xlsx"
    import_file(admin_client, upload, 1)
    after = list(Merchant.objects.order_by("code").values("code", "name", "name_kana", "district", "on_bonus_list"))
    assert after == before


def test_a_marketing_user_imports_and_exports_the_list(client, campaign):
    from django.contrib.auth.models import Group

    user = UserFactory(username="mkt", is_staff=True)
    user.groups.add(Group.objects.get(name="marketing"))
    client.force_login(user)
    seeded = Merchant.objects.count()
    text = export_file(client, 0).decode("utf-8-sig")
    assert text.count("KOBE-") == 13 and text.count("OKAYAMA-") == 12
    edited = text.replace("KOBE-01,LES HIRONDELLES", "KOBE-01,LES HIRONDELLES 元町店")
    _, confirmed = import_file(client, csv_upload(edited, "utf-8-sig"))
    assert confirmed.status_code == 302
    assert Merchant.objects.count() == seeded
    assert Merchant.objects.get(code="KOBE-01").name == "LES HIRONDELLES 元町店"
    kobe = Merchant.objects.get(code="KOBE-01")
    assert kobe.history.latest().history_user == user
    history = client.get(reverse("admin:merchants_merchant_history", args=[kobe.pk]))
    assert history.status_code == 200 and "mkt" in history.content.decode()


@pytest.mark.parametrize("query", ["ハナミヤ", "はなみや", "ＫＯＢＥ－０２", "ｺｳﾍﾞｻｺﾑ"])
def test_search_finds_a_merchant_typed_in_katakana_hiragana_or_full_width(admin_client, campaign, query):
    page = admin_client.get(reverse("admin:merchants_merchant_changelist"), {"q": query}).content.decode()
    expected = "KOBE-03" if query == "ｺｳﾍﾞｻｺﾑ" else "KOBE-02"
    assert expected in page and "KOBE-01" not in page
