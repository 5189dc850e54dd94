"""The community templates' own tags and filters (community/templatetags/social.py) that
stand in for slower Django ones: they must write what those would."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.contrib.humanize.templatetags.humanize import naturaltime
from django.template import Context, Template
from django.utils import timezone, translation

from community.templatetags.social import _naturaltime_this_minute, ago, avatar
from tests.factories import UserFactory

AGES = [
    timedelta(seconds=5),
    timedelta(minutes=3),
    timedelta(hours=23, minutes=59),
    timedelta(days=1, minutes=1),
    timedelta(days=45, hours=3),
    timedelta(days=800),
    -timedelta(days=3),  # in the future: "3 days from now"
]


@pytest.mark.parametrize("language", ["en", "de", "ja"])
@pytest.mark.parametrize("age", AGES, ids=str)
def test_ago_says_what_naturaltime_says(language, age):
    moment = timezone.now() - age
    with translation.override(language):
        assert ago(moment) == naturaltime(moment)
        assert ago(moment) == naturaltime(moment)  # the kept answer too


def test_ago_keeps_its_words_per_language():
    _naturaltime_this_minute.cache_clear()
    moment = timezone.now() - timedelta(days=45)
    with translation.override("en"):
        english = ago(moment)
    with translation.override("ja"):
        japanese = ago(moment)
        assert japanese == naturaltime(moment)
    with translation.override("en"):
        again = ago(moment)
    assert english == again and "ago" in english
    assert japanese != english


def test_ago_leaves_what_is_not_a_moment_as_naturaltime_does():
    assert ago(None) == naturaltime(None)
    assert ago("yesterday") == "yesterday"


@pytest.mark.django_db
def test_avatar_is_the_picture_or_the_escaped_first_letter():
    plain = UserFactory(username="élan")
    html = Template("{% load social %}{% avatar person 24 %}").render(Context({"person": plain}))
    assert html == (
        '<span class="avatar avatar-initial" style="width:24px;height:24px" '
        'aria-hidden="true">É</span>'
    )
    plain.avatar.name = "avatars/a b.png"
    html = avatar(plain, 96)
    assert html == (
        f'<img class="avatar" src="{plain.avatar.url}" alt="" width="96" height="96" '
        'loading="lazy">'
    )
    assert "a%20b.png" in html
    hostile = UserFactory(username="<b>x")
    assert "&lt;" in avatar(hostile, 32) and "<b>" not in avatar(hostile, 32)
