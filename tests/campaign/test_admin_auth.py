"""The superuser's user and group pages name each permission in the staff member's language."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Group
from django.urls import reverse

pytestmark = pytest.mark.django_db


def test_the_group_page_names_permissions_in_japanese_and_in_english_when_chosen(admin_client, campaign):
    url = reverse("admin:auth_group_change", args=[Group.objects.get(name="lottery").pk])
    page = admin_client.get(url).content.decode()
    assert "抽選 | 抽選 | 抽選のコミット・抽選・確定・当選辞退の処理ができる" in page  # a Meta.permissions name
    assert "キャンペーン | 取引 | 取引を閲覧できる" in page  # Django's own "Can view transaction"
    assert "加盟店をインポートできる" in page  # the import permission of django-import-export
    assert "会員を再集計できる" in page  # a permission of the staff roles (campaign/roles.py)
    assert "ミッションとポイント | ミッションの変更履歴 | ミッションの変更履歴を閲覧できる" in page  # simple-history
    assert "Can " not in page and "historical" not in page
    # The group's name is a name, not the merchants' 「店舗名」 (their label has a context of its own).
    assert '<label class="required" for="id_name">名前:</label>' in page
    merchants = admin_client.get(reverse("admin:merchants_merchant_changelist")).content.decode()
    assert "店舗名" in merchants
    admin_client.post(reverse("set_language"), {"language": "en", "next": url})
    page = admin_client.get(url).content.decode()
    assert "Lottery | draw | Can commit, draw, confirm and forfeit lottery draws" in page
    assert "Campaign | transaction | Can view transaction" in page
