"""Issue 18 §5: no CSV the portal writes for people holds a formula-shaped text cell raw.

Ids can no longer start with = + - @ (campaign.identifiers), but members stored before, a reason
or a label typed by staff can: the point export, the lottery's winners and the dashboard figures
escape such cells with a leading ', and keep numbers (a reversal's -200) as numbers.
"""

from __future__ import annotations

import csv
import hashlib
import io

import pytest

from campaign.spreadsheet import cell_escape
from lottery import services as lottery
from lottery import verification
from missions.exporting import _chunks, point_export_render, points_export_create
from missions.models import LedgerKind
from tests.campaign.factories import UserFactory
from tests.lottery.factories import members_with_stamps, officer
from tests.missions.test_point_export import line

pytestmark = pytest.mark.django_db

FORMULAS = ['=HYPERLINK("http://x")', "+cmd|'/Ccalc'!A0", "-1+1", "@SUM(1+1)", "\tTAB", "\rCR"]


def _rows(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8"), newline="")))


def test_cell_escape_prefixes_formula_text_and_leaves_numbers_and_plain_text():
    assert [cell_escape(value) for value in FORMULAS] == ["'" + value for value in FORMULAS]
    assert [cell_escape(value) for value in (-200, 5000, "M1", "クリア", "", None)] == [
        -200,
        5000,
        "M1",
        "クリア",
        "",
        None,
    ]


def test_the_point_export_escapes_a_formula_shaped_member_id_and_reason_but_not_negative_points(campaign):
    stored = line(campaign, "@SUM(1+1)", "casual-1", 200, reason="=1+1")
    reversal = line(campaign, "M2", "mania-5", -200, kind=LedgerKind.REVERSAL)
    export = points_export_create(campaign=campaign, user=UserFactory(is_staff=True), encoding="utf-8")
    rows = _rows(point_export_render(export=export))
    assert ["'@SUM(1+1)", "limited", "200", "'=1+1", str(stored.pk)] in rows
    assert ["M2", "limited", "-200", "クリア", str(reversal.pk)] in rows


def test_an_export_made_before_escaping_still_downloads_with_its_lines_intact(campaign):
    line(campaign, "-1+1", "casual-1", 200)
    export = points_export_create(campaign=campaign, user=UserFactory(is_staff=True), encoding="utf-8")
    # As the portal stored it before cells were escaped: the checksum of the raw file.
    export.sha256 = hashlib.sha256(b"".join(_chunks(export, escaped=False))).hexdigest()
    export.save(update_fields=["sha256"])
    assert _rows(point_export_render(export=export))[1][0] == "'-1+1"


def test_the_lottery_winners_file_escapes_a_forfeit_reason_typed_as_a_formula(clock, campaign):
    clock("2026-04-15T10:00:00+09:00")
    members_with_stamps(campaign, ["W1", "W2"])
    alice, bob = officer("alice"), officer("bob")
    draw = lottery.draw_perform(draw=lottery.draw_commit(campaign=campaign, user=alice), user=alice)
    forfeit = lottery.forfeit_record(draw=draw, member_id="W1", reason="=cmd()", user=alice)
    lottery.forfeit_confirm(forfeit=forfeit, user=bob)
    rows = _rows(verification.winners_export(draw=draw))
    assert next(row for row in rows if row[1] == "W1")[4] == "'=cmd()"


def test_the_dashboard_csv_escapes_a_label_that_starts_like_a_formula(admin_client, campaign):
    from missions.models import Mission

    # Marketing writes the mission titles the dashboard labels its clears with.
    Mission.objects.filter(campaign=campaign, code="casual-1").update(title_ja="-1+1")
    body = admin_client.get("/admin/campaign/campaign/dashboard/figures.csv?refresh=1").content.decode("utf-8-sig")
    cells = {cell for row in _rows(body.encode()) for cell in row}
    assert "'-1+1" in cells and "-1+1" not in cells
