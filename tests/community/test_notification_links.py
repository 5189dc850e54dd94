"""Notification text on the page: links to this site are clickable, nothing else is."""

from __future__ import annotations

import pytest
from django.test import override_settings

from community.services import notify
from community.templatetags.social import link_site_urls

SITE = "https://models.example"


@override_settings(SITE_URL=SITE)
def test_rule_and_appeal_addresses_become_links_and_punctuation_stays_text():
    body = (
        "A moderator decided: hide.\n"
        f"Rule: Real people ({SITE}/guidelines/#rule-R3)\n"
        f"If you think this is wrong, you can appeal once: {SITE}/moderation/appeal/7/."
    )
    html = link_site_urls(body)
    assert f'(<a href="{SITE}/guidelines/#rule-R3">{SITE}/guidelines/#rule-R3</a>)' in html
    assert f'<a href="{SITE}/moderation/appeal/7/">{SITE}/moderation/appeal/7/</a>.' in html
    assert html.count("<br>") == 2


@override_settings(SITE_URL=SITE)
@pytest.mark.parametrize(
    "name",
    [
        "https://evil.example/phish",
        f"{SITE}.evil.example/phish",
        "<script>alert(1)</script>",
        f'{SITE}/x" onmouseover="alert(1)',
        f"{SITE}/x'><script>alert(1)</script>",
    ],
)
def test_other_addresses_and_markup_stay_text(name):
    html = link_site_urls(f"Your model {name} was hidden.")
    assert "<script" not in html
    assert 'onmouseover="' not in html
    assert "evil.example/phish</a>" not in html
    for anchor in html.split("<a ")[1:]:
        href = anchor.split('"')[1]
        assert href.startswith(f"{SITE}/") and '"' not in href and "'" not in href


@pytest.mark.django_db
@override_settings(SITE_URL=SITE)
def test_the_notifications_page_links_the_rule(client, django_user_model):
    person = django_user_model.objects.create_user("noted", "noted@example.com", "pw-12345678")
    notify(user=person, title="Hidden", body=f"Rule: Spam ({SITE}/guidelines/#rule-S1)")
    client.force_login(person)
    html = client.get("/accounts/notifications/").content.decode()
    assert f'<a href="{SITE}/guidelines/#rule-S1">' in html
