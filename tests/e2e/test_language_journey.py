"""A visitor switches the site to Japanese from the footer and back to English; a browser
that asks for Japanese gets it on its first visit."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import pytest
from django.conf import settings
from django.core.management import call_command
from django.utils import formats, timezone, translation

from models_hub.models import Model
from tests.conftest import needs_chromium

pytestmark = [
    needs_chromium,
    pytest.mark.django_db(transaction=True, serialized_rollback=True),
]


MODEL = "Aurora Landscapes"


def _lang(page) -> str:
    return page.locator("html").get_attribute("lang")


def _switch_language(page, name: str, *, label: str, button: str) -> None:
    footer = page.get_by_role("contentinfo")
    footer.get_by_label(label, exact=True).select_option(label=name)
    with page.expect_navigation():
        footer.get_by_role("button", name=button, exact=True).click()


def test_a_visitor_switches_to_japanese_and_back(page, screenshot):
    call_command("seed_demo", verbosity=0)
    shown = Model.objects.filter(status="published", nsfw_level=1).count()
    model = Model.objects.get(name=MODEL)

    page.goto("/")
    assert _lang(page) == "en"
    assert page.get_by_role("link", name="Sign in", exact=True).is_visible()
    _switch_language(page, "日本語", label="Language", button="Change language")

    # The same page, now in Japanese: the top bar, the filters, the count and the cards.
    assert urlsplit(page.url).path == "/"  # back on the page it was chosen from
    assert _lang(page) == "ja"
    top = page.get_by_role("banner")
    assert top.get_by_role("link", name="ログイン", exact=True).is_visible()
    assert top.get_by_role("link", name="新規登録", exact=True).is_visible()
    search = top.get_by_role("searchbox", name="検索")
    assert search.get_attribute("placeholder") == "モデル、タグ、クリエイターを検索"
    filters = page.locator("details.filters")
    assert filters.locator("summary").inner_text() == "絞り込みと並べ替え"
    assert filters.get_by_label("並べ替え").locator("option:checked").inner_text() == "新着順"
    for legend in ("種類", "ベースモデル", "ライセンスの許可範囲", "レーティング"):
        assert filters.get_by_role("group", name=legend, exact=True).is_visible(), legend
    assert filters.get_by_role("checkbox", name="チェックポイント").is_visible()
    assert filters.get_by_role("button", name="適用").is_visible()
    assert page.get_by_text(f"{shown} 件のモデル", exact=True).is_visible()
    card = page.get_by_role("article").filter(has=page.get_by_role("heading", name=MODEL))
    assert card.get_by_text("AI 生成", exact=True).is_visible()
    assert card.get_by_text(f"⬇ {model.download_count:,}").is_visible()  # grouped digits
    footer = page.get_by_role("contentinfo")
    assert footer.get_by_role("link", name="ガイドライン").is_visible()
    assert (
        footer.get_by_label("言語", exact=True).locator("option:checked").inner_text() == "日本語"
    )
    screenshot("language-browse-ja")

    # The filters work in Japanese as they do in English.
    filters.get_by_role("checkbox", name="チェックポイント", exact=True).check()
    filters.get_by_role("button", name="適用").click()
    page.wait_for_url("**/?*type=Checkpoint*")
    checkpoints = Model.objects.filter(status="published", nsfw_level=1, type="Checkpoint")
    assert page.get_by_text(f"{checkpoints.count()} 件のモデル", exact=True).is_visible()

    # A model page: its labels, and dates in the Japanese format.
    page.goto("/")
    page.get_by_role("link", name=MODEL, exact=True).click()
    page.get_by_role("heading", name=MODEL, level=1).wait_for()
    assert _lang(page) == "ja"
    head = page.locator("header.model-head")
    assert re.search(r"作成者\s+\S*\s*mika", head.inner_text())
    assert "レーティング: PG" in head.inner_text()
    assert head.get_by_role("link", name=re.compile("ログインすると、お気に入り登録")).is_visible()
    assert page.get_by_role("heading", name="過去 30 日間のアクティビティ").is_visible()
    assert page.get_by_role("heading", name=re.compile(r"^v1\.0 のレビュー")).is_visible()
    assert page.get_by_role("heading", name="コメント", exact=True).is_visible()
    with translation.override("ja"):
        today = formats.date_format(timezone.localdate(), "DATE_FORMAT")
    assert re.fullmatch(r"\d{4}年\d{1,2}月\d{1,2}日", today), today
    activity = page.locator("section.charts")
    downloads = activity.get_by_role("figure").first
    numbers = downloads.get_by_text("数値データ", exact=True)  # each chart's numbers, as a table
    numbers.click()
    assert downloads.get_by_role("rowheader", name=today, exact=True).is_visible()
    numbers.click()
    assert page.get_by_text("おすすめ", exact=True).first.is_visible()  # a review's verdict
    posted = page.locator("#comments time").first  # the section has a heading, no region name
    assert re.fullmatch(r"今|\d+\s?(秒|分)前", posted.inner_text()), posted.inner_text()
    screenshot("language-model-ja")

    # Back to English, on the same page.
    model_url = page.url
    _switch_language(page, "English", label="言語", button="言語を変更")
    assert page.url == model_url
    assert _lang(page) == "en"
    assert page.get_by_role("banner").get_by_role("link", name="Sign in").is_visible()
    assert page.get_by_role("heading", name="Activity, last 30 days").is_visible()
    assert page.get_by_role("heading", name="コメント").count() == 0


def test_a_browser_that_asks_for_japanese_gets_it_on_the_first_visit(browser, live_server):
    call_command("seed_demo", verbosity=0)
    context = browser.new_context(base_url=live_server.url, locale="ja-JP")
    try:
        page = context.new_page()
        response = page.goto("/")
        assert response.headers.get("content-language") == "ja"
        assert _lang(page) == "ja"
        assert page.get_by_role("banner").get_by_role("link", name="ログイン").is_visible()
        assert page.locator("details.filters summary").inner_text() == "絞り込みと並べ替え"
        # The choice is the browser's: no cookie was needed, and English is one click away.
        assert not [c for c in context.cookies() if c["name"] == settings.LANGUAGE_COOKIE_NAME]
        _switch_language(page, "English", label="言語", button="言語を変更")
        assert _lang(page) == "en"
        page.goto("/")
        assert _lang(page) == "en", "the visitor's choice outranks the browser's language"
    finally:
        context.close()
