from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from community.models import Comment, Reaction, Review
from models_hub.choices import Status
from models_hub.models import License, VersionParent
from tests.factories import (
    FileFactory,
    ImageFactory,
    TagFactory,
    UserFactory,
    VersionFactory,
    published_model,
)

pytestmark = pytest.mark.django_db


def test_detail_shows_versions_files_license_and_notice(client):
    model = published_model(
        name="Velvet",
        description="Hello **world**",
        license=License.objects.get(slug="cc-by-nc-4.0"),
        allow_commercial_use="None",
    )
    model.tags.add(TagFactory(name="dreamy"))
    first = model.versions.get()
    first.trained_words = ["velvetstyle"]
    first.save()
    second = VersionFactory(model=model, name="v2-beta")
    FileFactory(version=second, name="velvet_v2.safetensors", size_bytes=3 * 1024**3)
    html = client.get(model.get_absolute_url() + f"?version={first.pk}").content.decode()
    assert "<strong>world</strong>" in html
    assert "v2-beta" in html and f"?version={second.pk}" in html
    assert "velvetstyle" in html and "dreamy" in html
    assert "CC-BY-NC-4.0" in html
    assert re.search(r'<li class="no">.*Not allowed:</span> Sell images you generate', html)
    assert re.search(r'<li class="no">.*Not allowed:</span> Use it without crediting', html)
    assert re.search(r'<li class="yes">.*Allowed:</span> Share merges or fine-tunes', html)
    assert "Commercial use is at your own risk" in html
    assert "ABABABABAB" in html  # AutoV2 of the factory file, upper-cased
    html2 = client.get(model.get_absolute_url() + f"?version={second.pk}").content.decode()
    assert "velvet_v2.safetensors" in html2 and "3.00 GB" in html2


def test_detail_description_is_sanitised(client):
    model = published_model(
        description=(
            '<script>alert(1)</script><img src=x onerror="alert(2)">[x](javascript:alert(3))'
        )
    )
    html = client.get(model.get_absolute_url()).content.decode()
    assert "<script>alert(1)" not in html
    assert "onerror" not in html
    assert "javascript:alert(3)" not in html


def test_parents_link_only_to_visible_versions(client, owner):
    public_parent = published_model(name="Public parent")
    hidden_parent = published_model(name="Hidden parent", status=Status.DRAFT, owner=owner)
    child = published_model(name="Child merge")
    version = child.versions.get()
    VersionParent.objects.create(
        version=version,
        parent_version=public_parent.versions.get(),
        name="Public parent v1",
    )
    VersionParent.objects.create(
        version=version, parent_version=hidden_parent.versions.get(), name="Hidden parent v1"
    )
    VersionParent.objects.create(
        version=version, name="SomeExternalMix", external_hash="abcdef0123",
        external_url="https://example.org/mix",
    )  # fmt: skip
    html = client.get(child.get_absolute_url()).content.decode()
    assert public_parent.get_absolute_url() in html
    assert "Hidden parent v1" in html  # the name is known, the link is not given
    assert hidden_parent.get_absolute_url() not in html
    assert "SomeExternalMix" in html and "https://example.org/mix" in html


def test_unknown_version_is_404(client):
    model = published_model()
    assert client.get(model.get_absolute_url() + "?version=999999").status_code == 404
    assert client.get("/models/999999/x/").status_code == 404


def test_owner_sees_status_notice_on_draft(client_for, owner):
    model = published_model(owner=owner, status=Status.DRAFT)
    html = client_for(owner).get(model.get_absolute_url()).content.decode()
    assert "is <strong>draft</strong>" in html


def _detail_queries(client, model, images: int) -> int:
    version = model.versions.get()
    for _ in range(images - version.images.count()):
        ImageFactory(version=version)
    for n in range(images // 10):
        VersionParent.objects.create(version=version, name=f"ext{images}-{n}")
        FileFactory(version=version, is_primary=False)
        # Reviews, comments with replies and reactions grow with the images too.
        reviewer = UserFactory(username=f"reviewer{images}-{n}")
        Review.objects.create(version=version, author=reviewer, recommended=n % 2 == 0)
        root = Comment.objects.create(model=model, author=reviewer, body="first")
        Comment.objects.create(model=model, author=reviewer, body="reply", parent=root)
        Reaction.objects.create(user=reviewer, image=version.images.first(), kind="heart")
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(model.get_absolute_url())
    assert response.status_code == 200
    return len(ctx.captured_queries)


@pytest.mark.parametrize("person", ["anon", "owner"])
def test_detail_query_count_does_not_grow_with_images(person, client_for, owner):
    c = client_for(owner if person == "owner" else None)
    model = published_model(owner=owner)
    with_10 = _detail_queries(c, model, 10)
    with_200 = _detail_queries(c, model, 200)
    print(f"detail queries ({person}): 10 images={with_10}, 200 images={with_200}")
    assert with_10 == with_200
    # Anonymous: the page's own 7, plus reviews, comments and the two activity charts.
    # Signed in: + session, user, moderator group, unread-notice badge, favourite,
    # collections, own reactions.
    assert with_200 <= (11 if person == "anon" else 19)
