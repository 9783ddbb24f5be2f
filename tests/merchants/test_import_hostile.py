"""The merchant import as marketing meets it: Excel's files, bad rows reported by their line, nothing stored lost."""

from __future__ import annotations

import pytest
from django.urls import reverse

from merchants.models import Merchant
from merchants.resources import MerchantResource
from missions.models import Stamp
from tests.merchants.test_admin_merchants import HEADER, csv_upload, import_file, xlsx_upload
from tests.missions.factories import EntryFactory, MemberFactory, pay, score

pytestmark = pytest.mark.django_db

FLAGS = ("blue_tag", "on_bonus_list", "is_active")


def flags() -> dict:
    return {m.code: tuple(getattr(m, flag) for flag in FLAGS) for m in Merchant.objects.all()}


def errors_by_line(preview) -> dict[int, str]:
    """The preview's refused rows: line → their messages, joined."""
    result = preview.context["result"]
    return {
        row.number: " ".join(str(m) for messages in row.field_specific_errors.values() for m in messages)
        for row in result.invalid_rows
    }


def file_error(preview) -> str:
    """The refusal of a whole file: the form's error, or the import's own (no traceback either way)."""
    page = preview.content.decode()
    assert "Traceback" not in page
    form_errors = preview.context["form"].errors.get("import_file", [])
    result = preview.context.get("result")
    return " ".join([*form_errors, *(str(e.error) for e in (result.base_errors if result else []))])


def test_a_flag_that_is_not_yes_or_no_is_refused_and_never_read_as_no(admin_client, campaign):
    before = flags()
    upload = csv_upload(
        HEADER + "KOBE-02,花見屋元町本店,,,motomachi,2,〇,1,1\nKOBE-03,コウベサコム,,,motomachi,3,1,1,\n"
    )
    preview, confirmed = import_file(admin_client, upload)
    assert confirmed is None
    errors = errors_by_line(preview)
    assert set(errors) == {2, 3}
    assert "〇" in errors[2] and "1（はい）か 0（いいえ）" in errors[2]
    assert "空です" in errors[3]
    assert flags() == before


def test_flags_as_excel_and_people_write_them_are_read(admin_client, campaign):
    header = HEADER.strip().split(",")
    rows = [header, ["KOBE-02", "花見屋元町本店", "", "", "motomachi", 2, "はい", "いいえ", "TRUE"]]
    _preview, confirmed = import_file(admin_client, xlsx_upload(rows), 1)
    assert confirmed.status_code == 302
    merchant = Merchant.objects.get(code="KOBE-02")
    assert (merchant.blue_tag, merchant.on_bonus_list, merchant.is_active) == (True, False, True)


def test_a_code_twice_in_the_file_is_refused_naming_the_first_line(admin_client, campaign):
    upload = csv_upload(
        HEADER
        + "KOBE-01,一行目,,,motomachi,1,1,1,1\nKOBE-02,B,,,motomachi,2,1,1,1\nKOBE-01,二行目,,,motomachi,1,1,0,1\n"
    )
    preview, confirmed = import_file(admin_client, upload)
    assert confirmed is None
    errors = errors_by_line(preview)
    assert list(errors) == [4]
    assert "KOBE-01" in errors[4] and "2 行目" in errors[4]
    assert Merchant.objects.get(code="KOBE-01").name == "LES HIRONDELLES"


@pytest.mark.parametrize(
    ("code", "reason"),
    [
        ("KOBE-\x0720", "制御文字"),
        ("KOBE-\u202e30", "制御文字"),
        ("KOBE-\uff12\uff10", "全角"),
        ("=HYPERLINK(1)", "数式"),
    ],
)
def test_a_code_no_payment_can_carry_is_refused_with_its_reason(admin_client, campaign, code, reason):
    upload = csv_upload(HEADER + f"{code},新しいお店,,,motomachi,20,1,1,1\nKOBE-21,良いお店,,,motomachi,21,1,1,1\n")
    preview, confirmed = import_file(admin_client, upload)
    assert confirmed is None
    errors = errors_by_line(preview)
    assert list(errors) == [2] and reason in errors[2]
    if reason == "全角":
        assert "KOBE-20" in errors[2]
    # The change page refuses it too.
    page = admin_client.post(reverse("admin:merchants_merchant_add"), {"code": code, "name": "x", "order": 1})
    assert page.status_code == 200 and reason in page.content.decode()
    assert not Merchant.objects.filter(code__in=[code, "KOBE-21"]).exists()


def test_a_bad_row_is_reported_by_its_line_in_the_file(admin_client, campaign):
    # Excel writes an empty row as ",,,,"; a quoted address may span two lines: the line is still the file's.
    body = (
        HEADER
        + "KOBE-01,A,,,motomachi,1,1,1,1\n,,,,,,,,\n"
        + 'KOBE-02,B,,"神戸市\n元町通",motomachi,2,1,1,1\nKOBE-03,,,,motomachi,3,1,1,1\n'
    )
    preview, confirmed = import_file(admin_client, csv_upload(body))
    assert confirmed is None
    assert list(errors_by_line(preview)) == [6]


def test_japanese_headers_of_a_cp932_file_from_excel_are_read(admin_client, campaign):
    header = "加盟店コード,店舗名,店舗名（かな）,住所,地区,一覧の表示順,BLUEタグ,ボーナス対象,有効\r\n"
    upload = csv_upload(header + "KOBE-01,レ・イロンデル,,神戸市中央区元町通 1-2-8,motomachi,1,1,1,1\r\n", "cp932")
    _preview, confirmed = import_file(admin_client, upload)
    assert confirmed.status_code == 302
    assert Merchant.objects.get(code="KOBE-01").name == "レ・イロンデル"


def test_a_file_without_the_code_column_is_refused_saying_which_columns_to_name(admin_client, campaign):
    before = flags()
    upload = csv_upload("name,on_bonus_list\nLES HIRONDELLES,0\n", "utf-8-sig")
    preview, confirmed = import_file(admin_client, upload)
    assert confirmed is None
    message = file_error(preview)
    assert "code" in message and "加盟店コード" in message and "1 行目" in message
    assert flags() == before


def test_an_unknown_column_is_refused_naming_it(admin_client, campaign):
    upload = csv_upload(HEADER.strip() + ",is_actve\nKOBE-01,A,,,motomachi,1,1,1,1,0\n")
    preview, confirmed = import_file(admin_client, upload)
    assert confirmed is None
    assert "is_actve" in file_error(preview)
    assert Merchant.objects.get(code="KOBE-01").name == "LES HIRONDELLES"


def test_a_missing_flag_column_leaves_the_stored_flags_alone(admin_client, campaign):
    before = flags()
    upload = csv_upload("code,name\nKOBE-02,花見屋 元町本店\n")
    _preview, confirmed = import_file(admin_client, upload)
    assert confirmed.status_code == 302
    assert Merchant.objects.get(code="KOBE-02").name == "花見屋 元町本店"
    assert flags() == before


def test_a_ten_megabyte_line_is_refused_naming_the_line(admin_client, campaign):
    upload = csv_upload("code," + "x" * (10 * 1024 * 1024))
    preview, confirmed = import_file(admin_client, upload)
    assert confirmed is None
    assert "1 行目" in file_error(preview)


def test_a_row_with_more_values_than_columns_is_refused_naming_its_line(admin_client, campaign):
    upload = csv_upload(HEADER + "KOBE-01,A,,神戸市中央区元町通 1-2-8, 2F,motomachi,1,1,1,1\n")
    preview, confirmed = import_file(admin_client, upload)
    assert confirmed is None
    assert "2 行目" in file_error(preview)


def test_a_file_neither_utf8_nor_cp932_is_refused_in_japanese(admin_client, campaign):
    preview, confirmed = import_file(admin_client, csv_upload("code,name\nKOBE-01,caf\xe9\n", "latin-1"))
    assert confirmed is None
    assert "CP932" in file_error(preview) and "ValueError" not in preview.content.decode()


@pytest.fixture
def paid_at_kobe_05(in_campaign):
    """A member who entered and paid at KOBE-05 before marketing put it on the bonus list."""
    Merchant.objects.filter(code="KOBE-05").update(on_bonus_list=False)
    member = MemberFactory(member_id="M-BONUS")
    EntryFactory(member=member, campaign=in_campaign)
    pay(member, "2026-03-10 12:00", 500, merchant="KOBE-05")
    score(in_campaign, member)
    assert not Stamp.objects.filter(member_id="M-BONUS", mission__code="bonus-1", cleared=True).exists()
    return member


def bonus_cleared() -> bool:
    return Stamp.objects.filter(member_id="M-BONUS", mission__code="bonus-1", cleared=True).exists()


def test_putting_a_merchant_on_the_bonus_list_rescores_who_paid_there(
    admin_client, paid_at_kobe_05, django_capture_on_commit_callbacks
):
    merchant = Merchant.objects.get(code="KOBE-05")
    data = {"code": "KOBE-05", "name": merchant.name, "district": merchant.district_id, "order": merchant.order}
    data.update(blue_tag="on", on_bonus_list="on", is_active="on")
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(reverse("admin:merchants_merchant_change", args=[merchant.pk]), data, follow=True)
    assert bonus_cleared()
    assert "KOBE-05 で支払いをした会員 1 人を再集計しています" in response.content.decode()

    # Taken off again by an import: the stamp is withdrawn.
    upload = csv_upload(HEADER + f"KOBE-05,{merchant.name},,,motomachi,{merchant.order},1,1,0\n")
    with django_capture_on_commit_callbacks(execute=True):
        import_file(admin_client, upload)
    assert not bonus_cleared()


def test_deleting_a_bonus_merchant_rescores_who_paid_there(
    admin_client, in_campaign, paid_at_kobe_05, django_capture_on_commit_callbacks
):
    merchant = Merchant.objects.get(code="KOBE-05")
    Merchant.objects.filter(pk=merchant.pk).update(on_bonus_list=True)
    score(in_campaign, paid_at_kobe_05)
    assert bonus_cleared()
    url = reverse("admin:merchants_merchant_delete", args=[merchant.pk])
    with django_capture_on_commit_callbacks(execute=True):
        assert admin_client.post(url, {"post": "yes"}).status_code == 302
    assert not Merchant.objects.filter(code="KOBE-05").exists()
    assert not bonus_cleared()

    # Several at once, by the list's action.
    Merchant.objects.create(code="KOBE-05", name="戻った店", on_bonus_list=True)
    score(in_campaign, paid_at_kobe_05)
    assert bonus_cleared()
    pks = list(Merchant.objects.filter(code__in=["KOBE-05", "KOBE-06"]).values_list("pk", flat=True))
    data = {"action": "delete_selected", "_selected_action": pks, "post": "yes"}
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(reverse("admin:merchants_merchant_changelist"), data)
    assert not Merchant.objects.filter(code="KOBE-05").exists()
    assert not bonus_cleared()


def test_a_row_that_fails_unexpectedly_is_reported_at_its_line(admin_client, campaign, monkeypatch):
    original = MerchantResource.save_instance

    def save_instance(self, instance, is_create, row, **kwargs):
        if instance.code == "KOBE-03":
            raise RuntimeError("the database went away")
        return original(self, instance, is_create, row, **kwargs)

    monkeypatch.setattr(MerchantResource, "save_instance", save_instance)
    body = HEADER + "KOBE-02,B,,,motomachi,2,1,1,1\n,,,,,,,,\nKOBE-03,C,,,motomachi,3,1,1,1\n"
    preview, confirmed = import_file(admin_client, csv_upload(body))
    assert confirmed is None
    page = preview.content.decode()
    assert "行番号: 4 - the database went away" in page and "Traceback" not in page
