"""Point exports (R12): numbered, each ledger line once, reversals included, re-downloadable."""

from __future__ import annotations

import csv
import hashlib
import io

import pytest
from django.contrib.admin.models import LogEntry
from django.urls import reverse

from campaign.models import Member, PointType
from missions.exporting import (
    ExportError,
    ExportTampered,
    point_export_render,
    points_export_create,
    points_export_task,
)
from missions.models import LedgerKind, LedgerLine, PointExport
from tests.campaign.factories import UserFactory, jst

pytestmark = pytest.mark.django_db


def line(campaign, member_id: str, reward: str, points: int, *, kind=LedgerKind.AWARD, reason: str = "クリア"):
    member, _ = Member.objects.get_or_create(member_id=member_id)
    return LedgerLine.objects.create(
        campaign=campaign,
        member=member,
        reward=reward,
        kind=kind,
        points=points,
        point_type=PointType.BASIC if reward == "lottery" else PointType.LIMITED,
        reason=reason,
        occurred_at=jst("2026-03-10 12:00"),
    )


def rows_of(content: bytes, encoding: str = "utf-8") -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode(encoding), newline="")))


def test_an_export_takes_every_unexported_line_once_with_the_next_number(campaign):
    user = UserFactory(is_staff=True)
    first_lines = [line(campaign, "M1", "casual-1", 200), line(campaign, "M2", "mania-5", 200)]
    first = points_export_create(campaign=campaign, user=user, encoding="utf-8")
    assert (first.number, first.line_count, first.points_total) == (1, 2, 400)

    reversal = line(campaign, "M2", "mania-5", -200, kind=LedgerKind.REVERSAL, reason="取消による取り消し")
    prize = line(campaign, "M3", "lottery", 5000)
    second = points_export_create(campaign=campaign, user=user, encoding="utf-8")
    assert (second.number, second.line_count, second.points_total) == (2, 2, 4800)

    rows = rows_of(point_export_render(export=second))
    assert rows[0] == ["member_id", "point_type", "points", "reason", "ledger_line_id"]
    assert rows[1:] == [
        ["M2", "limited", "-200", "取消による取り消し", str(reversal.pk)],
        ["M3", "basic", "5000", "クリア", str(prize.pk)],
    ]
    first_ids = {int(r[4]) for r in rows_of(point_export_render(export=first))[1:]}
    assert first_ids == {ln.pk for ln in first_lines}

    third = points_export_create(campaign=campaign, user=user, encoding="utf-8")
    assert (third.number, third.line_count) == (3, 0)
    assert rows_of(point_export_render(export=third)) == [
        ["member_id", "point_type", "points", "reason", "ledger_line_id"]
    ]
    assert not LedgerLine.objects.filter(export__isnull=True).exists()


def test_the_admins_export_task_numbers_no_empty_export(campaign, english):
    line(campaign, "M1", "casual-1", 200)
    points_export_task(campaign.pk, None, "utf-8")
    with pytest.raises(ExportError, match="nothing to export"):
        points_export_create(campaign=campaign, user=None, encoding="utf-8", empty_refused=True)
    points_export_task(campaign.pk, None, "utf-8")  # the second task of a double click ends quietly
    assert list(PointExport.objects.values_list("number", "line_count")) == [(1, 1)]


def test_a_double_click_on_create_makes_one_export_and_says_why(
    admin_client, campaign, django_capture_on_commit_callbacks, english
):
    line(campaign, "M1", "casual-1", 200)
    url = reverse("admin:missions_pointexport_add")
    with django_capture_on_commit_callbacks(execute=True):
        admin_client.post(url, {"encoding": "utf-8"})
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(url, {"encoding": "utf-8"}, follow=True)
    assert PointExport.objects.count() == 1
    assert "nothing to export" in " ".join(str(m) for m in response.context["messages"])
    page = admin_client.get(url).content.decode()
    assert 'id="nothing-to-export"' in page and "Create the export" not in page


def test_a_redownload_is_byte_for_byte_the_first_file(campaign):
    for i in range(5):
        line(campaign, f"M{i}", "casual-1", 200)
    export = points_export_create(campaign=campaign, user=None, encoding="cp932")
    first = point_export_render(export=export)
    assert hashlib.sha256(first).hexdigest() == export.sha256
    line(campaign, "M9", "casual-1", 200)  # a later line does not join an old export
    assert point_export_render(export=export) == first


def test_cp932_export_is_shift_jis_text_and_utf8_has_no_bom(campaign):
    line(campaign, "M1", "bonus-1", 1000, reason="ボーナス達成")
    sjis = points_export_create(campaign=campaign, user=None, encoding="cp932")
    assert "ボーナス達成".encode("cp932") in point_export_render(export=sjis)
    line(campaign, "M2", "bonus-1", 1000, reason="ボーナス達成")
    utf8 = points_export_create(campaign=campaign, user=None, encoding="utf-8")
    content = point_export_render(export=utf8)
    assert content.startswith(b"member_id,") and "ボーナス達成".encode() in content


def test_a_changed_line_is_detected_on_download(campaign):
    ledger_line = line(campaign, "M1", "casual-1", 200)
    export = points_export_create(campaign=campaign, user=None, encoding="utf-8")
    LedgerLine.objects.filter(pk=ledger_line.pk).update(points=999)
    with pytest.raises(ExportTampered):
        point_export_render(export=export)


def test_an_unknown_encoding_is_refused_and_takes_no_line(campaign):
    line(campaign, "M1", "casual-1", 200)
    with pytest.raises(ValueError, match="encoding"):
        points_export_create(campaign=campaign, user=None, encoding="latin-1")
    assert not PointExport.objects.exists()
    assert LedgerLine.objects.filter(export__isnull=True).count() == 1


def test_operations_create_and_download_exports_in_the_admin(
    admin_client, admin_user, campaign, django_capture_on_commit_callbacks
):
    awarded = line(campaign, "M1", "casual-1", 200)
    page = admin_client.get(reverse("admin:missions_pointexport_add"))
    assert page.status_code == 200 and "1" in page.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(reverse("admin:missions_pointexport_add"), {"encoding": "utf-8"})
    assert response.status_code == 302
    export = PointExport.objects.get()
    assert export.created_by == admin_user and export.number == 1

    download = admin_client.get(reverse("admin:missions_pointexport_download", args=[export.pk]))
    assert download.status_code == 200
    assert "wester-points-" in download["Content-Disposition"] and "0001" in download["Content-Disposition"]
    assert rows_of(download.content)[1][4] == str(awarded.pk)
    again = admin_client.get(reverse("admin:missions_pointexport_download", args=[export.pk]))
    assert again.content == download.content

    log = LogEntry.objects.get(object_id=str(export.pk), content_type__model="pointexport")
    assert log.user == admin_user and "ポイント出力 #1" in log.change_message

    listing = admin_client.get(reverse("admin:missions_pointexport_changelist")).content.decode()
    assert 'id="point-export-create"' in listing
    assert reverse("admin:missions_pointexport_download", args=[export.pk]) in listing


def test_exports_cannot_be_edited_or_deleted_in_the_admin(admin_client, campaign):
    export = points_export_create(campaign=campaign, user=None, encoding="utf-8")
    assert (
        admin_client.post(reverse("admin:missions_pointexport_delete", args=[export.pk]), {"post": "yes"}).status_code
        == 403
    )
    assert PointExport.objects.filter(pk=export.pk).exists()


@pytest.mark.django_db(transaction=True)
def test_concurrent_exports_never_take_a_line_twice(campaign, postgres_only):
    """Two exports in parallel threads on PostgreSQL: every line ends in exactly one of them."""
    import threading

    from django.db import connection

    for i in range(200):
        line(campaign, f"M{i:03d}", "casual-1", 200)
    errors: list[BaseException] = []

    def export() -> None:
        try:
            points_export_create(campaign=campaign, user=None, encoding="utf-8")
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=export) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert not errors
    exports = list(PointExport.objects.order_by("number"))
    assert [e.number for e in exports] == [1, 2, 3, 4]
    assert sum(e.line_count for e in exports) == 200


def test_a_large_export_streams_in_pieces_with_the_same_bytes(admin_client, campaign, monkeypatch):
    import missions.admin
    import missions.exporting

    monkeypatch.setattr(missions.exporting, "CHUNK_ROWS", 3)
    monkeypatch.setattr(missions.admin, "SMALL_EXPORT_LINES", 5)
    for i in range(10):
        line(campaign, f"M{i}", "casual-1", 200)
    export = points_export_create(campaign=campaign, user=None, encoding="utf-8")
    response = admin_client.get(reverse("admin:missions_pointexport_download", args=[export.pk]))
    assert response.streaming
    pieces = list(response.streaming_content)
    assert len(pieces) > 2
    assert b"".join(pieces) == point_export_render(export=export)
    assert hashlib.sha256(b"".join(pieces)).hexdigest() == export.sha256


def test_a_changed_line_stops_the_stream_before_its_end(campaign, monkeypatch):
    import missions.exporting
    from missions.exporting import point_export_stream

    monkeypatch.setattr(missions.exporting, "CHUNK_ROWS", 2)
    lines = [line(campaign, f"M{i}", "casual-1", 200) for i in range(6)]
    export = points_export_create(campaign=campaign, user=None, encoding="utf-8")
    LedgerLine.objects.filter(pk=lines[0].pk).update(reason="changed")
    received = []
    with pytest.raises(ExportTampered):
        for piece in point_export_stream(export=export):
            received.append(piece)
    assert b"".join(received).count(b"\r\n") < 7
