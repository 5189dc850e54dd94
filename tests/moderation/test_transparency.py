"""The public transparency report (counts of moderator decisions per rule, month and kind, and
nothing that identifies anyone or anything), and the 410 page that removed content shows the
public instead of a 404: the rule it broke and the date, nothing about the content."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone
from django.utils.html import escape

from models_hub.choices import Status
from models_hub.models import Model, ModelVersion
from moderation import queue, selectors
from moderation.checks.findings import Finding, RuleCode, Severity
from moderation.models import ModerationAction, QueueItem, Rule
from tests.factories import (
    FileFactory,
    ModelFactory,
    UserFactory,
    VersionFactory,
    published_model,
)
from tests.moderation.conftest import decide_with_finding, make_moderator

pytestmark = pytest.mark.django_db
Kind = ModerationAction.Kind
URL = "/transparency/"
REAL_NOW = timezone.now
MODEL_NAME = "Velvet Secret Portrait"
VERSION_NAME = "velvet-v7-secret"
REASON = "The face is Jane Quietperson's, who asked not to be depicted."
HOLD = Finding(RuleCode.LIKENESS, Severity.HOLD, "A face looks like Someone. Staff will look.")
BLOCK = Finding(RuleCode.LIKENESS, Severity.BLOCK, "A face looks like Someone.")


# --- Content, checks and decisions, through the real services ----------------------------


@pytest.fixture
def alice(db):
    return make_moderator("alice_moderates")


@pytest.fixture
def bob(db):
    return make_moderator("bob_moderates")


@pytest.fixture
def creator(db):
    return UserFactory(username="creator_of_velvet")


@pytest.fixture
def clock(monkeypatch):
    """clock(moment): timezone.now() (auto_now_add, claims, the report's window) answers
    `moment`; clock() goes back to the real time."""

    def set_to(moment: datetime | None = None) -> None:
        monkeypatch.setattr(timezone, "now", REAL_NOW if moment is None else (lambda: moment))

    return set_to


def public_version(owner, finding: Finding = HOLD, **model_fields) -> ModelVersion:
    """A published version (a file, an image) that a later check held for staff (or
    blocked): it was public once."""
    model = published_model(owner=owner, name=MODEL_NAME, **model_fields)
    version = model.versions.get()
    ModelVersion.objects.filter(pk=version.pk).update(name=VERSION_NAME)
    decide_with_finding(version, finding)
    version.refresh_from_db()
    assert version.published_at is not None and version.status != Status.PUBLISHED
    return version


def never_published_version(owner) -> ModelVersion:
    """An upload the checks held before it was ever public."""
    version = VersionFactory(
        model__owner=owner, model__name=MODEL_NAME, model__status=Status.DRAFT,
        model__published_at=None, status=Status.IN_REVIEW, publish_requested=True,
        published_at=None,
    )  # fmt: skip
    FileFactory(version=version)
    assert decide_with_finding(version, HOLD) == "hold"
    return version


def decide(version, moderator, kind, rule_code=RuleCode.LIKENESS, source="check"):
    item = QueueItem.objects.get(version=version, state="open", source=source)
    queue.item_claim(item_id=item.pk, moderator=moderator)
    return queue.item_act(item_id=item.pk, moderator=moderator, kind=kind,
                          rule=Rule.objects.get(code=rule_code), reason=REASON)  # fmt: skip


def months_ago(count: int, day: int = 15, hour: int = 12) -> datetime:
    """A moment `count` calendar months before this one (the real one, whatever the clock
    fixture says), in the site's time zone."""
    today = timezone.localdate(REAL_NOW())
    index = today.year * 12 + today.month - 1 - count
    return timezone.make_aware(datetime(index // 12, index % 12 + 1, day, hour))


def page(client, url: str = URL, **params) -> str:
    response = client.get(url, params)
    assert response.status_code == 200
    return response.content.decode()


def row_counts(html: str, code: str) -> list[int]:
    """The numbers in the table's row for rule `code`: the 12 months, oldest first, then the
    total."""
    row = re.search(rf'<tr id="rule-{re.escape(code)}">(.*?)</tr>', html, re.S)
    assert row, f"no row for {code}"
    return [int(n) for n in re.findall(r"<td[^>]*>(\d+)</td>", row.group(1))]


def kind_count(html: str, kind: str) -> int:
    row = re.search(rf'<tr class="kind-{kind}"><th scope="row">[^<]*</th><td>(\d+)</td>', html)
    assert row, f"no row for {kind}"
    return int(row.group(1))


def counts(*pairs: tuple[int, int]) -> list[int]:
    """A row as row_counts reads it: {months ago: count}, and the total."""
    row = [0] * 12
    for ago, n in pairs:
        row[11 - ago] = n
    return [*row, sum(row)]


# --- The transparency page ----------------------------------------------------------------


def test_counts_per_rule_month_and_kind_appear(client, alice, creator, clock):
    clock(months_ago(2))
    decide(public_version(creator), alice, Kind.BLOCK)
    decide(public_version(creator), alice, Kind.UNPUBLISH)
    clock(months_ago(12))  # the month before the twelve shown: not counted
    decide(public_version(creator), alice, Kind.BLOCK)
    clock()
    decide(public_version(creator), alice, Kind.APPROVE, rule_code=RuleCode.SPAM)
    decide(public_version(creator), alice, Kind.REQUEST_CHANGES)
    Rule.objects.exclude(code=RuleCode.SPAM).update(position=10)
    Rule.objects.filter(code=RuleCode.SPAM).update(position=0)

    html = page(client)
    assert row_counts(html, RuleCode.LIKENESS) == counts((2, 2), (0, 1))
    assert row_counts(html, RuleCode.SPAM) == counts((0, 1))
    assert row_counts(html, RuleCode.MALWARE) == counts()
    totals = re.search(r"<tfoot>(.*?)</tfoot>", html, re.S).group(1)
    assert [int(n) for n in re.findall(r"<td[^>]*>(\d+)</td>", totals)] == counts((2, 2), (0, 2))
    expected = {Kind.APPROVE: 1, Kind.REQUEST_CHANGES: 1, Kind.UNPUBLISH: 1, Kind.BLOCK: 1}
    for kind in Kind.values:  # every kind has a row, with 0 when there was none
        assert kind_count(html, kind) == expected.get(kind, 0), kind
    # Every rule has a row, in position order (then by code), linking to its guideline.
    rows = [
        html.index(f'<tr id="rule-{code}">') for code in Rule.objects.values_list("code", flat=True)
    ]
    assert len(rows) == Rule.objects.count() and min(rows) == html.index(
        f'<tr id="rule-{RuleCode.SPAM}">'
    )
    assert f'href="/guidelines/#rule-{RuleCode.LIKENESS}"' in html
    this_month = timezone.localdate()
    assert f'<time datetime="{this_month:%Y-%m}">' in html


def test_the_transparency_page_identifies_nobody_and_nothing(client, alice, creator):
    decide(public_version(creator), alice, Kind.BLOCK)
    html = page(client)
    assert kind_count(html, Kind.BLOCK) == 1
    for secret in (MODEL_NAME, VERSION_NAME, alice.username, creator.username, REASON):
        assert secret not in html and escape(secret) not in html
    assert "<img" not in html and "/media/" not in html


def test_months_are_the_site_time_zones(settings, alice, creator, clock):
    settings.TIME_ZONE = "Asia/Tokyo"
    today = timezone.localdate()
    index = today.year * 12 + today.month - 1 - 3
    # 20:00 UTC on the last evening of a month is 05:00 the next morning in Tokyo.
    next_month = datetime((index + 1) // 12, (index + 1) % 12 + 1, 1, tzinfo=UTC)
    clock(next_month - timedelta(hours=4))
    decide(public_version(creator), alice, Kind.BLOCK)
    clock()
    report = selectors.transparency("en")
    likeness = next(row for row in report.rules if row.code == RuleCode.LIKENESS)
    assert likeness.counts == counts((2, 1))[:12]


def test_lang_ja_shows_the_japanese_rule_titles(client):
    html = page(client, lang="ja")
    assert 'lang="ja"' in html and "透明性レポート" in html
    for rule in Rule.objects.all():
        assert escape(rule.title_ja) in html
    assert "Privacy" not in html  # (the English title of a rule that has a Japanese one)
    assert f'href="/guidelines/?lang=ja#rule-{RuleCode.PRIVACY}"' in html
    assert 'href="?lang=en"' in html
    spam = Rule.objects.get(code=RuleCode.SPAM)
    spam.title_ja = ""
    spam.save()
    assert escape(spam.title) in page(client, lang="ja")  # no Japanese title: the English one


def test_cacheable_and_linked_from_the_footer(client):
    response = client.get(URL)
    directives = {part.strip() for part in response["Cache-Control"].split(",")}
    assert directives == {"public", "max-age=300"}
    assert "Cookie" in response["Vary"]
    assert f'href="{URL}"' in page(client, "/guidelines/")


def test_two_queries_however_many_decisions(client, alice, clock, django_assert_num_queries):
    with django_assert_num_queries(2):  # the rules; the decisions grouped by rule, month, kind
        page(client)
    rules = list(Rule.objects.all())
    for ago in range(14):
        clock(months_ago(ago, day=1 + ago, hour=ago))
        ModerationAction.objects.bulk_create(
            ModerationAction(kind=kind, rule=rule, reason="r", moderator=alice)
            for rule in rules
            for kind in (Kind.BLOCK, Kind.APPROVE, Kind.DISMISS)
        )
    clock()
    with django_assert_num_queries(2):
        html = page(client, lang="ja")
    assert row_counts(html, RuleCode.SPAM) == [3] * 12 + [36]
    assert kind_count(html, Kind.DISMISS) == 12 * len(rules)


# --- The page of a removed version ----------------------------------------------------------


def removed_html(client, target, **params):
    response = client.get(target.model.get_absolute_url(), params)
    assert response.status_code == 410
    return response.content.decode()


@pytest.mark.parametrize("kind", [Kind.BLOCK, Kind.UNPUBLISH])
def test_a_removed_version_is_410_with_the_rule_and_nothing_else(
    client_for, stranger, alice, creator, kind
):
    version = public_version(creator)
    image = version.images.get()
    block_or_unpublish = decide(version, alice, kind)
    rule = Rule.objects.get(code=RuleCode.LIKENESS)
    for visitor in (None, stranger):
        c = client_for(visitor)
        for params in ({"version": version.pk}, {}):
            response = c.get(f"/models/{version.model_id}/", params)
            assert response.status_code == 410
            html = response.content.decode()
            assert "This content was removed for breaking the rule “" in html
            assert f'<a href="/guidelines/#rule-{rule.code}">{escape(rule.title)}</a>' in html
            assert 'href="/transparency/"' in html
            decided = f"{timezone.localdate(block_or_unpublish.created_at):%Y-%m-%d}"
            assert f'<time datetime="{decided}">' in html  # the date, not the time
            for secret in (MODEL_NAME, VERSION_NAME, creator.username, alice.username, REASON,
                           escape(REASON), image.image.name, image.thumbnail.name):  # fmt: skip
                assert secret not in html
            assert "<img" not in html and "/media/" not in html
            assert response["Cache-Control"] == "no-cache"
    # The address with the slug (which is the name) answers the same, not with a redirect.
    assert removed_html(client_for(None), version, version=version.pk)
    response = client_for(None).get(f"/models/{version.model_id}/old-slug/")
    assert response.status_code == 410


def test_a_model_with_a_public_version_still_shows_it_and_410s_only_the_removed_one(
    client, alice, creator
):
    version = public_version(creator)
    decide(version, alice, Kind.BLOCK)
    published = VersionFactory(model=version.model, name="still-public")
    FileFactory(version=published)
    html = page(client, version.model.get_absolute_url())
    assert MODEL_NAME in html and "still-public" in html and VERSION_NAME not in html
    assert removed_html(client, version, version=version.pk)


def test_the_owner_and_staff_still_see_the_full_page(client_for, alice, creator, staff):
    version = public_version(creator)
    decide(version, alice, Kind.BLOCK)
    for viewer in (creator, staff):
        html = page(client_for(viewer), version.model.get_absolute_url(), version=version.pk)
        assert MODEL_NAME in html and VERSION_NAME in html and escape(REASON) in html
        assert "removed for breaking the rule" not in html


def test_lang_ja_names_the_rule_in_japanese(client, alice, creator):
    version = public_version(creator)
    decide(version, alice, Kind.BLOCK)
    html = removed_html(client, version, version=version.pk, lang="ja")
    assert 'lang="ja"' in html
    assert f'<a href="/guidelines/?lang=ja#rule-{RuleCode.LIKENESS}">実在人物の肖像</a>' in html
    assert 'href="/transparency/?lang=ja"' in html
    assert MODEL_NAME not in html


def test_a_refused_appeal_leaves_the_notice_in_place(client, alice, bob, creator):
    version = public_version(creator)
    block = decide(version, alice, Kind.BLOCK)
    queue.appeal_create(action=block, appellant=creator, statement="It is not her.")
    decide(version, bob, Kind.DISMISS, rule_code=RuleCode.SPAM, source="appeal")
    html = removed_html(client, version, version=version.pk)
    assert f"#rule-{RuleCode.LIKENESS}" in html and f"#rule-{RuleCode.SPAM}" not in html


def _status(client, version) -> int:
    return client.get(version.model.get_absolute_url(), {"version": version.pk}).status_code


def test_what_no_moderator_removed_stays_a_plain_404(client, alice, creator):
    draft = VersionFactory(model=ModelFactory(owner=creator, status=Status.DRAFT))
    in_review = public_version(creator)
    changes = public_version(creator)
    decide(changes, alice, Kind.REQUEST_CHANGES)
    auto_blocked = public_version(creator, finding=BLOCK)
    assert auto_blocked.status == Status.BLOCKED
    never_public = never_published_version(creator)
    decide(never_public, alice, Kind.BLOCK)
    deleted = public_version(creator)
    decide(deleted, alice, Kind.BLOCK)
    ModelVersion.objects.filter(pk=deleted.pk).update(status=Status.DELETED)
    deleted_model = public_version(creator)
    decide(deleted_model, alice, Kind.BLOCK)
    Model.objects.filter(pk=deleted_model.model_id).update(status=Status.DELETED)
    for version in (draft, in_review, changes, auto_blocked, never_public, deleted, deleted_model):
        assert _status(client, version) == 404, version
        assert client.get(version.model.get_absolute_url()).status_code == 404
    # A version of another model is not this model's removed version.
    removed = public_version(creator)
    decide(removed, alice, Kind.BLOCK)
    other_model = f"/models/{draft.model_id}/?version={removed.pk}"
    assert client.get(other_model).status_code == 404
    assert client.get("/models/999999/").status_code == 404


def test_the_removed_page_queries_do_not_grow(client, alice, creator):
    first = public_version(creator)
    decide(first, alice, Kind.BLOCK)

    def queries() -> int:
        with CaptureQueriesContext(connection) as ctx:
            assert client.get(f"/models/{first.model_id}/").status_code == 410
        return len(ctx.captured_queries)

    before = queries()
    for _ in range(4):
        version = VersionFactory(model=first.model, name="another")
        decide_with_finding(version, HOLD)
        decide(version, alice, Kind.UNPUBLISH)
    assert queries() == before <= 4
