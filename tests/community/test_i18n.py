"""English and Japanese: the committed catalogue (complete, translated, compiled), the language
a visitor gets (the switcher's cookie, then Accept-Language, then English), pages in Japanese,
and the API, which answers in English whatever the client asks."""

from __future__ import annotations

import gettext
import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from django.conf import settings
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from community.models import Notification
from models_hub.choices import Status
from models_hub.list_cache import CachedCountPaginator
from models_hub.models import License
from moderation import reports
from moderation.checks.findings import RuleCode
from moderation.models import ModerationAction, Rule
from tests.conftest import needs_gettext
from tests.factories import UserFactory, published_model
from tests.moderation.conftest import make_moderator
from tests.moderation.test_queue import held_version, item_of
from tests.moderation.test_takedowns import likeness_form

PO_PATH = Path(settings.BASE_DIR) / "locale" / "ja" / "LC_MESSAGES" / "django.po"
MO_PATH = PO_PATH.with_suffix(".mo")
# What `make messages` leaves out (the Makefile's MESSAGES_IGNORE).
MESSAGES_IGNORE = (".venv", "var", "node_modules", "tests")
SETLANG = "/i18n/setlang/"
PLACEHOLDER = re.compile(r"%\(\w+\)[sd]|%[sd]")


# --- The catalogue ---------------------------------------------------------------------------


@dataclass
class PoEntry:
    msgid: str
    context: str | None = None
    plural: str | None = None
    msgstr: list[str] = field(default_factory=list)  # one per plural form
    flags: set[str] = field(default_factory=set)

    @property
    def key(self) -> tuple[str | None, str, str | None]:
        return self.context, self.msgid, self.plural


_PO_LINE = re.compile(r'^(msgctxt|msgid_plural|msgid|msgstr(?:\[\d+\])?) "(.*)"$')
_PO_ESCAPES = {"n": "\n", "t": "\t", '"': '"', "\\": "\\"}


def _unquote(text: str) -> str:
    return re.sub(r"\\(.)", lambda m: _PO_ESCAPES[m.group(1)], text)


def read_po(path: Path) -> tuple[str, list[PoEntry]]:
    """The header and the entries of a .po file as makemessages writes it: entries apart by
    blank lines, strings continued on lines of their own, no obsolete (#~) entries."""
    header, entries = "", []
    for block in path.read_text(encoding="utf-8").split("\n\n"):
        fields: dict[str, str] = {}
        flags: set[str] = set()
        last = ""
        for line in block.strip().splitlines():
            if line.startswith("#,"):
                flags.update(flag.strip() for flag in line[2:].split(","))
            elif line.startswith("#~"):
                raise AssertionError(f"an obsolete entry is left in {path}: {line}")
            elif line.startswith("#"):
                continue
            elif match := _PO_LINE.match(line):
                last = match.group(1)
                fields[last] = _unquote(match.group(2))
            elif line.startswith('"') and line.endswith('"') and last:
                fields[last] += _unquote(line[1:-1])
            else:
                raise AssertionError(f"unexpected line in {path}: {line!r}")
        if "msgid" not in fields:
            continue
        if fields["msgid"] == "" and "msgctxt" not in fields:
            header = fields["msgstr"]
            assert "fuzzy" not in flags, "the header is marked fuzzy"
            continue
        forms = sorted(k for k in fields if k.startswith("msgstr["))
        entries.append(
            PoEntry(
                msgid=fields["msgid"],
                context=fields.get("msgctxt"),
                plural=fields.get("msgid_plural"),
                msgstr=[fields[k] for k in forms] if forms else [fields.get("msgstr", "")],
                flags=flags,
            )
        )
    return header, entries


@pytest.fixture(scope="module")
def catalogue() -> list[PoEntry]:
    header, entries = read_po(PO_PATH)
    assert "Language: ja\n" in header
    assert "Plural-Forms: nplurals=1; plural=0;" in header  # Japanese has no plural forms
    assert "charset=UTF-8" in header
    return entries


def test_every_entry_is_translated_and_none_is_fuzzy(catalogue):
    assert len(catalogue) > 300
    untranslated = [e.msgid for e in catalogue if not all(form.strip() for form in e.msgstr)]
    fuzzy = [e.msgid for e in catalogue if "fuzzy" in e.flags]
    assert untranslated == [], "translate these in locale/ja/LC_MESSAGES/django.po"
    assert fuzzy == [], "check these translations and remove their fuzzy flag"
    assert all(len(e.msgstr) == 1 for e in catalogue)  # nplurals=1


def test_translations_keep_every_placeholder(catalogue):
    """msgfmt checks this when it compiles; here it is checked without gettext too."""
    for entry in catalogue:
        wanted = sorted(PLACEHOLDER.findall(entry.plural or entry.msgid))
        for form in entry.msgstr:
            assert sorted(PLACEHOLDER.findall(form)) == wanted, entry.msgid


def test_the_compiled_catalogue_is_up_to_date_with_the_po_file(catalogue):
    expected: dict = {}
    for entry in catalogue:
        key = entry.msgid if entry.context is None else f"{entry.context}\x04{entry.msgid}"
        if entry.plural is None:
            expected[key] = entry.msgstr[0]
        else:
            expected.update({(key, n): form for n, form in enumerate(entry.msgstr)})
    with MO_PATH.open("rb") as mo_file:
        compiled = gettext.GNUTranslations(mo_file)
    # The parsed catalogue itself: a lookup cannot tell a missing entry whose translation
    # equals its msgid ("LoRA") from a present one. "" is the header.
    actual = {key: text for key, text in compiled._catalog.items() if key != ""}
    missing = sorted(str(k) for k in expected.keys() - actual.keys())
    stale = sorted(str(k) for k in actual.keys() - expected.keys())
    changed = sorted(str(k) for k in expected.keys() & actual.keys() if expected[k] != actual[k])
    run = "run `make messages` (or manage.py compilemessages) and commit django.mo"
    assert missing == [], f"not in django.mo: {run}"
    assert stale == [], f"in django.mo but no longer in django.po: {run}"
    assert changed == [], f"translated differently in django.mo: {run}"


@needs_gettext
def test_makemessages_finds_no_string_missing_from_the_catalogue(tmp_path, catalogue):
    """`make messages` on a copy of the sources: every string marked for translation anywhere
    (templates and Python) is already in the committed django.po."""
    source = tmp_path / "src"
    shutil.copytree(
        settings.BASE_DIR,
        source,
        ignore=shutil.ignore_patterns(
            *MESSAGES_IGNORE, ".git", "__pycache__", "*.pyc", ".*_cache", "django.mo"
        ),
    )
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "SECRET_KEY": "only-for-makemessages",
        "VAR_DIR": str(tmp_path / "var"),
    }
    ignores = [f"--ignore={pattern}" for pattern in MESSAGES_IGNORE]
    subprocess.run(
        [sys.executable, "manage.py", "makemessages", "-l", "ja", "--no-obsolete", *ignores],
        cwd=source,
        env=env,
        check=True,
        capture_output=True,
        timeout=300,
    )
    _, fresh = read_po(source / PO_PATH.relative_to(settings.BASE_DIR))
    committed = {entry.key for entry in catalogue}
    missing = sorted(str(entry.key) for entry in fresh if entry.key not in committed)
    assert missing == [], "run `make messages`, translate the new strings, run it again"


# --- The language a visitor gets -------------------------------------------------------------


def set_language(client: Client, language: str, next_url: str | None = "/", **extra):
    data = {"language": language}
    if next_url is not None:
        data["next"] = next_url
    return client.post(SETLANG, data, **extra)


def html(response) -> str:
    assert response.status_code == 200
    return response.content.decode()


@pytest.mark.django_db
def test_english_without_a_choice_or_accept_language(client):
    page = html(client.get("/"))
    assert '<html lang="en">' in page
    assert "Filters and sort" in page and "絞り込みと並べ替え" not in page


@pytest.mark.django_db
def test_switching_to_japanese_translates_browse_login_and_guidelines(client):
    response = set_language(client, "ja")
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.cookies[settings.LANGUAGE_COOKIE_NAME].value == "ja"

    browse = html(client.get("/"))
    assert '<html lang="ja">' in browse
    assert "<summary>絞り込みと並べ替え</summary>" in browse
    assert "Filters and sort" not in browse
    assert ">新着順</option>" in browse  # the view's sort labels
    assert "> チェックポイント</label>" in browse  # the model types' labels (choices.py)
    assert 'placeholder="モデル、タグ、クリエイターを検索"' in browse  # base.html

    login = html(client.get(reverse("login")))
    assert "<h1>ログイン</h1>" in login
    assert "アカウントをお持ちでない方は" in login
    assert "ユーザー名" in login  # the form's own labels, from Django's catalogue

    guidelines = html(client.get(reverse("moderation:guidelines")))
    assert "<h1>コミュニティガイドライン</h1>" in guidelines
    assert Rule.objects.get(code=RuleCode.PRIVACY).title_ja in guidelines
    assert '<article class="guidelines" lang="ja">' in guidelines

    set_language(client, "en")
    assert "Filters and sort" in html(client.get("/"))


@pytest.mark.django_db
def test_accept_language_ja_works_on_a_first_visit(client):
    response = client.get("/", HTTP_ACCEPT_LANGUAGE="ja,en-US;q=0.8,en;q=0.5")
    assert "絞り込みと並べ替え" in html(response)
    assert response["Content-Language"] == "ja"
    # Pages differ by Accept-Language, so shared caches must key on it.
    assert "Accept-Language" in response["Vary"]
    guidelines = html(client.get("/guidelines/", HTTP_ACCEPT_LANGUAGE="ja"))
    assert "<h1>コミュニティガイドライン</h1>" in guidelines


@pytest.mark.django_db
def test_the_chosen_language_wins_over_accept_language(client):
    set_language(client, "en")
    assert "Filters and sort" in html(client.get("/", HTTP_ACCEPT_LANGUAGE="ja"))


@pytest.mark.django_db
def test_lang_parameter_still_wins_on_the_guidelines(client):
    set_language(client, "ja")
    page = html(client.get("/guidelines/?lang=en"))
    assert '<article class="guidelines" lang="en">' in page
    assert "<h1>Community guidelines</h1>" in page
    assert Rule.objects.get(code=RuleCode.PRIVACY).title_ja not in page
    assert '<html lang="ja">' in page  # the rest of the site stays as chosen


@pytest.mark.django_db
def test_counts_and_dates_are_localised(client, monkeypatch):
    published_model(name="Aurora", download_count=1234)
    # The browse count with thousands, without making a thousand models.
    monkeypatch.setattr(CachedCountPaginator, "count", property(lambda self: 4321))
    assert "4,321 models" in html(client.get("/"))
    set_language(client, "ja")
    browse = html(client.get("/"))
    assert "4,321 件のモデル" in browse
    assert "1,234" in browse  # the card's download count (intcomma)

    today = timezone.localdate()
    transparency = html(client.get(reverse("moderation:transparency")))
    assert f'<time datetime="{today:%Y-%m}">{today.year}年{today.month}月</time>' in transparency
    set_language(client, "en")
    transparency = html(client.get(reverse("moderation:transparency")))
    assert f'<time datetime="{today:%Y-%m}">{today:%b %Y}</time>' in transparency


@pytest.mark.django_db
def test_moderation_pages_translate_choice_labels_but_notifications_stay_english(client_for):
    """Moderation's choice labels are only marked for translation: pages translate them, and
    what code writes for people to read later (notifications, e-mails) keeps them English."""
    version = held_version()
    item = item_of(version)
    moderator = client_for(make_moderator("alice"))
    set_language(moderator, "ja")
    moderator.post(reverse("moderation:claim", args=[item.pk]))
    page = html(moderator.get(reverse("moderation:item", args=[item.pk])))
    assert "<h1>自動チェック: " in page  # the item's source
    assert "優先度 通常" in page
    assert 'value="approve_as" required> レーティングを付けて承認</label>' in page
    done = moderator.post(
        reverse("moderation:act", args=[item.pk]),
        {"kind": "block", "rule": RuleCode.LIKENESS, "reason": "It is them."},
        follow=True,
    )
    assert "完了しました。投稿者に通知しました。" in html(done)
    body = Notification.objects.get(user=version.model.owner, title__startswith="Blocked").body
    assert body.startswith("A moderator decided: block.\n")

    owner = client_for(version.model.owner)
    set_language(owner, "ja")
    action = ModerationAction.objects.get(version=version, kind="block")
    appeal = html(owner.get(reverse("moderation:appeal", args=[action.pk])))
    assert "<h1>判断に異議を申し立てる</h1>" in appeal
    assert "モデレーターが判断しました：<strong>ブロック</strong>" in appeal


@pytest.mark.django_db
def test_the_model_page_is_japanese(client):
    model = published_model(
        name="Aurora",
        owner=UserFactory(username="mika"),
        license=License.objects.get(slug="cc-by-nc-4.0"),
        allow_commercial_use="None",
    )
    version = model.versions.get()
    version.trained_words = ["aurorastyle"]
    version.save()
    set_language(client, "ja")
    page = html(client.get(model.get_absolute_url()))
    # The version box, with the day it was published in the Japanese format.
    published = timezone.localtime(version.published_at).date()
    assert "<dt>ベースモデル</dt>" in page and "<dt>Base model</dt>" not in page
    assert "<dt>トリガーワード</dt>" in page and "Trigger words" not in page
    assert f"<dt>公開日</dt><dd>{published.year}年{published.month}月{published.day}日</dd>" in page
    assert ">ダウンロード（1.00 KB）</a>" in page and "Download (" not in page
    # The license box.
    assert "<h2>ライセンス</h2>" in page and "<h2>License</h2>" not in page
    assert "クリエイターが許可している利用：" in page and "What the creator allows" not in page
    assert '<span class="sr">不許可：</span>' in page and "Not allowed:" not in page
    assert "商用利用は自己責任で行ってください。" in page
    assert "Commercial use is at your own risk" not in page
    # The files, the gallery and the description.
    assert "<h2>ファイル</h2>" in page and "<h2>Files</h2>" not in page
    assert "<th>形式</th>" in page and "<th>Format</th>" not in page
    assert 'aria-label="サンプル画像"' in page and 'aria-label="Sample images"' not in page
    assert "<h2>このモデルについて</h2>" in page and "About this model" not in page
    # "by" in the header, and on the model's card in the list.
    assert "作成者 <a" in page and " by <a" not in page
    browse = html(client.get("/"))
    assert "· 作成者：mika</p>" in browse and "by mika" not in browse


@pytest.mark.django_db
def test_the_status_notice_on_a_draft_is_one_japanese_sentence_each(client_for):
    model = published_model(status=Status.DRAFT)
    owner = client_for(model.owner)
    set_language(owner, "ja")
    page = html(owner.get(model.get_absolute_url()))
    assert "このモデルは<strong>下書き</strong>です。" in page
    assert "表示できるのはあなただけです。" in page
    assert "This model" not in page and "Only you" not in page


@pytest.mark.django_db
def test_the_queue_counts_open_items_in_the_singular_and_the_plural(client_for):
    moderator = client_for(make_moderator("alice"))
    license_rule = Rule.objects.get(code=RuleCode.LICENSE)

    def report_a_version() -> None:
        version = published_model().versions.get()
        reports.report_create(reporter=UserFactory(), rule=license_rule, version=version)

    report_a_version()
    page = html(moderator.get(reverse("moderation:queue")))
    assert "<strong>1</strong> report ·" in page and "<strong>0</strong> appeals ·" in page
    report_a_version()
    page = html(moderator.get(reverse("moderation:queue")))
    assert "<strong>2</strong> reports ·" in page and "<strong>2</strong> report " not in page
    set_language(moderator, "ja")
    page = html(moderator.get(reverse("moderation:queue")))
    assert "<h1>モデレーションキュー</h1>" in page
    assert "通報 <strong>2</strong> 件" in page


@pytest.mark.django_db
def test_the_takedown_form_is_japanese_and_the_confirmation_e_mail_english(
    client, mailoutbox, django_capture_on_commit_callbacks
):
    set_language(client, "ja")
    form = html(client.get(reverse("moderation:takedown")))
    assert "<h1>削除を申し立てる</h1>" in form
    assert 'value="likeness" required > 私の肖像が同意なく使われている</label>' in form
    refused = client.post(reverse("moderation:takedown"), likeness_form(contact_email="nope"))
    assert refused.status_code == 400
    assert "こちらから連絡できるメールアドレスを入力してください。" in refused.content.decode()
    with django_capture_on_commit_callbacks(execute=True):
        sent = client.post(reverse("moderation:takedown"), likeness_form())
    assert "<h1>申し立てを受け付けました</h1>" in html(sent)
    assert "We received your request (my likeness is used without my consent)" in (
        mailoutbox[0].body
    )


# --- The API stays in English ----------------------------------------------------------------

API_ERRORS = [
    ("get", "/api/v1/models?limit=abc", 400),  # our own message
    ("delete", "/api/v1/models", 405),  # DRF's, which DRF ships translated
    ("post", "/api/v1/models", 401),  # DRF's too
    ("get", "/api/v1/models?token=mh_not-a-key-of-this-site", 401),
    ("get", "/api/v1/models/999999", 404),
    ("get", "/api/v1/nothing-here", 404),  # handler404
]


@pytest.mark.django_db
@pytest.mark.parametrize(("method", "url", "status"), API_ERRORS)
def test_api_errors_stay_english_whatever_the_client_asks(client, method, url, status):
    english = getattr(Client(), method)(url)
    set_language(client, "ja")  # the site's cookie, as a browser signed in would send it
    japanese = getattr(client, method)(url, HTTP_ACCEPT_LANGUAGE="ja")
    assert english.status_code == japanese.status_code == status
    assert japanese.json() == english.json()
    assert japanese.json()["error"].isascii()
    # Nothing in the answer depends on the language, so nothing says it does.
    assert "Content-Language" not in japanese
    assert "Accept-Language" not in japanese.get("Vary", "")


@pytest.mark.django_db
def test_api_lists_name_choices_in_english(client):
    published_model(name="Aurora")
    response = client.get("/api/v1/models", HTTP_ACCEPT_LANGUAGE="ja")
    assert response.status_code == 200
    assert response.content.decode().isascii()


# --- The switcher ----------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_switcher_names_each_language_in_itself_and_knows_the_page(client):
    page = html(client.get("/guidelines/?lang=en"))
    assert f'<form class="language-switcher inline" action="{SETLANG}" method="post">' in page
    assert '<input type="hidden" name="next" value="/guidelines/?lang=en">' in page
    assert '<option value="en" lang="en" selected>English</option>' in page
    assert '<option value="ja" lang="ja">日本語</option>' in page
    assert '<button type="submit">Change language</button>' in page


@pytest.mark.django_db
def test_the_switcher_returns_to_the_page_it_was_on(client):
    response = set_language(client, "ja", "/guidelines/?lang=en")
    assert response.status_code == 302 and response["Location"] == "/guidelines/?lang=en"
    # Without `next`, back where the browser came from.
    response = set_language(client, "en", None, HTTP_REFERER="http://testserver/transparency/")
    assert response["Location"] == "http://testserver/transparency/"


@pytest.mark.django_db
@pytest.mark.parametrize(
    "next_url", ["https://evil.example/", "//evil.example/x", "javascript:alert(1)"]
)
def test_an_off_site_next_is_refused(client, next_url):
    response = set_language(client, "ja", next_url)
    assert response.status_code == 302 and response["Location"] == "/"
    assert client.cookies[settings.LANGUAGE_COOKIE_NAME].value == "ja"
    response = set_language(client, "en", None, HTTP_REFERER=next_url)
    assert response.status_code == 302 and response["Location"] == "/"


@pytest.mark.django_db
def test_an_unknown_language_or_a_get_changes_nothing(client):
    set_language(client, "xx")
    assert settings.LANGUAGE_COOKIE_NAME not in client.cookies
    client.get(SETLANG, {"language": "ja", "next": "/"})
    assert settings.LANGUAGE_COOKIE_NAME not in client.cookies
    assert "Filters and sort" in html(client.get("/"))


@pytest.mark.django_db
def test_the_switcher_needs_no_csrf_token_so_public_pages_set_no_cookie():
    """The switcher is on every page; with a CSRF token, every anonymous page would set a
    cookie, and shared caches do not keep answers that set one (the guidelines are public)."""
    browser = Client(enforce_csrf_checks=True)
    guidelines = browser.get("/guidelines/")
    assert guidelines.cookies == {} and "csrfmiddlewaretoken" not in html(guidelines)
    response = set_language(browser, "ja")
    assert response.status_code == 302
    assert browser.cookies[settings.LANGUAGE_COOKIE_NAME].value == "ja"
