"""The public guidelines page: every rule with its examples and consequence, in English or
Japanese, one query however many rules there are, and cacheable."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps
from django.urls import reverse
from django.utils.html import escape

from moderation.checks.findings import RuleCode
from moderation.models import Rule

pytestmark = pytest.mark.django_db
URL = "/guidelines/"
SEEDED_CODES = [code.value for code in RuleCode]
SESSION_MIDDLEWARE = "django.contrib.sessions.middleware.SessionMiddleware"
guidelines_migration = importlib.import_module(
    "moderation.migrations.0004_moderators_and_guidelines"
)


def page(client, **params) -> str:
    response = client.get(URL, params)
    assert response.status_code == 200
    return response.content.decode()


def example_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.strip()]


def test_the_url_is_named_and_linked_from_every_page(client):
    assert reverse("moderation:guidelines") == URL
    assert f'href="{URL}"' in page(client)  # the footer link in base.html


def test_every_seeded_rule_appears_in_english_with_examples_and_consequence(client):
    html = page(client)
    rules = list(Rule.objects.filter(code__in=SEEDED_CODES))
    assert len(rules) == len(SEEDED_CODES)
    for rule in rules:
        assert escape(rule.title) in html
        assert escape(rule.explanation) in html
        for example in example_lines(rule.examples):
            assert f"<li>{escape(example)}</li>" in html
        assert escape(rule.consequence) in html
    assert "プライバシー" not in html


def test_rules_are_listed_in_position_order(client):
    Rule.objects.filter(code=RuleCode.SPAM).update(position=0)
    Rule.objects.exclude(code=RuleCode.SPAM).update(position=10)
    html = page(client)
    anchors = [html.index(f'id="rule-{code}"') for code in SEEDED_CODES]
    assert anchors[SEEDED_CODES.index(RuleCode.SPAM)] == min(anchors)


def test_every_rule_has_an_anchor_that_findings_can_link_to(client):
    html = page(client)
    for code in SEEDED_CODES:
        assert f'id="rule-{code}"' in html
        assert f'href="#rule-{code}"' in html


def test_lang_ja_shows_the_japanese_texts(client):
    html = page(client, lang="ja")
    assert 'lang="ja"' in html
    assert "コミュニティガイドライン" in html
    for title_ja in ("プライバシー", "未成年者", "マルウェアと危険なファイル"):
        assert title_ja in html
    malware = Rule.objects.get(code=RuleCode.MALWARE)
    assert escape(malware.consequence_ja) in html
    for example in example_lines(malware.examples_ja):
        assert f"<li>{escape(example)}</li>" in html
    assert escape(malware.consequence) not in html
    assert 'href="?lang=en"' in html


def test_english_page_links_to_the_japanese_one(client):
    html = page(client)
    assert 'lang="en"' in html
    assert 'href="?lang=ja"' in html


def test_an_empty_japanese_field_falls_back_to_english(client):
    spam = Rule.objects.get(code=RuleCode.SPAM)
    spam.examples_ja = ""
    spam.consequence_ja = ""
    spam.save()
    html = page(client, lang="ja")
    for example in example_lines(spam.examples):
        assert f"<li>{escape(example)}</li>" in html
    assert escape(spam.consequence) in html
    assert spam.title_ja in html  # the fields that are filled stay Japanese


def test_the_language_locale_middleware_chose_is_used_and_lang_overrides_it(client, settings):
    # Where Django's docs put it: after the session middleware, before the common one.
    after_sessions = settings.MIDDLEWARE.index(SESSION_MIDDLEWARE) + 1
    settings.MIDDLEWARE = [
        *settings.MIDDLEWARE[:after_sessions],
        "django.middleware.locale.LocaleMiddleware",
        *settings.MIDDLEWARE[after_sessions:],
    ]
    response = client.get(URL, HTTP_ACCEPT_LANGUAGE="ja,en;q=0.5")
    assert "プライバシー" in response.content.decode()
    # The page differs by Accept-Language, so shared caches must key on it.
    assert "Accept-Language" in response["Vary"]
    assert "プライバシー" not in page(client, lang="en")


def test_one_query_however_many_rules(client, django_assert_num_queries):
    with django_assert_num_queries(1):
        page(client)
    for n in range(5):
        Rule.objects.create(code=f"extra-{n}", title=f"Extra {n}", examples="a\nb", position=50)
    with django_assert_num_queries(1):
        html = page(client, lang="ja")
    assert 'id="rule-extra-4"' in html


def test_the_page_is_cacheable(client):
    response = client.get(URL)
    directives = {part.strip() for part in response["Cache-Control"].split(",")}
    assert directives == {"public", "max-age=300"}
    # The top bar differs for signed-in visitors: a shared cache must not mix their copies.
    assert "Cookie" in response["Vary"]


def test_the_data_migration_filled_every_seeded_rule():
    for rule in Rule.objects.filter(code__in=SEEDED_CODES):
        for field in ("examples", "examples_ja", "consequence", "consequence_ja"):
            assert getattr(rule, field).strip(), f"{rule.code}.{field} is empty"
        assert len(example_lines(rule.examples)) == len(example_lines(rule.examples_ja))
    assert set(guidelines_migration.GUIDELINES) == set(SEEDED_CODES)


def test_the_data_step_skips_missing_rules_and_its_reverse_clears_the_texts():
    Rule.objects.filter(code=RuleCode.SPAM).delete()
    guidelines_migration.clear_guidelines(apps, None)
    assert not Rule.objects.exclude(consequence="").exists()

    guidelines_migration.fill_guidelines(apps, None)
    assert not Rule.objects.filter(code=RuleCode.SPAM).exists()  # not recreated
    assert not Rule.objects.filter(code__in=SEEDED_CODES, consequence="").exists()
