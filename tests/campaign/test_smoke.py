from __future__ import annotations

import pytest


@pytest.mark.django_db
def test_home_page_answers_in_japanese(client, campaign):
    response = client.get("/")
    assert response.status_code == 200
    assert '<html lang="ja"' in response.content.decode()
    assert "Wesmo!スタンプラリーミッション" in response.content.decode()


def test_admin_index_answers_for_staff(admin_client, campaign):
    response = admin_client.get("/admin/")
    assert response.status_code == 200
    page = response.content.decode()
    assert "Wesmo!スタンプラリーミッション 管理画面" in page  # the portal's name, not the framework's
    assert "キャンペーン管理" in page
    assert "Django" not in page.split("<body", 1)[1].split("</header>", 1)[0]


@pytest.mark.parametrize(
    "url",
    [
        "/admin/campaign/campaign/",
        "/admin/campaign/member/",
        "/admin/campaign/entry/",
        "/admin/campaign/transaction/",
        "/admin/campaign/importbatch/",
        "/admin/missions/course/",
        "/admin/missions/mission/",
        "/admin/missions/stamp/",
        "/admin/missions/ledgerline/",
        "/admin/merchants/merchant/",
        "/admin/merchants/district/",
    ],
)
def test_every_admin_list_answers(admin_client, campaign, url):
    assert admin_client.get(url).status_code == 200


def test_admin_is_not_for_anonymous_visitors(client, db):
    response = client.get("/admin/")
    assert response.status_code == 302 and "/admin/login/" in response["Location"]
