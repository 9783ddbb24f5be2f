"""Japanese line breaks between phrases (BudouX) and the notes' links, as the templates apply them."""

from __future__ import annotations

import re

from django.test import override_settings
from django.utils import translation

from campaign.templatetags.typography import colon, comma, note_html, phrases


def _chunks(html: str) -> list[str]:
    inner = re.sub(r"^<span class=\"phrases\">|</span>$", "", html)
    return inner.split("<wbr>")


def test_japanese_breaks_only_between_phrases():
    html = str(phrases("ミッションをクリアすると、さらに500ptもらえます"))
    assert html.startswith('<span class="phrases">') and "<wbr>" in html
    chunks = _chunks(html)
    assert "".join(chunks) == "ミッションをクリアすると、さらに500ptもらえます"
    assert any("クリア" in chunk for chunk in chunks)  # never ク / リア
    assert not any(chunk.startswith(("ン", "ー", "、")) for chunk in chunks)


def test_english_and_markup_are_left_safe():
    assert str(phrases("Clear the mission")) == "Clear the mission"
    html = str(phrases("<script>クリア</script>"))
    assert "<script>" not in html and "&lt;script&gt;" in html


@override_settings(PORTAL_CONTACT_URL="", PORTAL_SERVICE_URL="")
def test_notes_link_the_bonus_merchants_and_the_faq_contact_by_default(db):
    html = str(note_html("ボーナスコースの対象店舗は別紙 1 をご確認ください。"))
    assert '<a href="/merchants/">別紙 1</a>' in html
    html = str(note_html("付与されない場合はお問い合わせください。"))
    assert '<a href="/faq/#contact">お問い合わせ</a>' in html
    assert "<a" not in str(note_html("Wesmo!サービスサイトをご覧ください。"))  # no service URL set: no link


def test_punctuation_is_full_width_in_japanese_only():
    with translation.override("ja"):
        assert (colon(), comma()) == ("：", "、")
    with translation.override("en"):
        assert (colon(), comma()) == (": ", ", ")
