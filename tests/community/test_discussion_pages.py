"""The model page shows its gallery, reviews and comment threads a page at a time
(models_hub.selectors IMAGES_PER_PAGE, community.selectors REVIEWS_PER_PAGE and
THREADS_PER_PAGE): each image, review and thread on exactly one page, links both ways that
keep the version, the same number of queries on every page, and nonsense page numbers read
as the first page."""

from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from community import services
from community.selectors import REVIEWS_PER_PAGE, THREADS_PER_PAGE
from models_hub.selectors import IMAGES_PER_PAGE
from tests.factories import ImageFactory, UserFactory, published_model

pytestmark = pytest.mark.django_db


@pytest.fixture
def discussed(owner):
    """A model with 2½ pages of reviews and of comment threads (each thread with a reply)."""
    model = published_model(owner=owner, name="Much Discussed")
    version = model.versions.get()
    reviewers = [UserFactory(username=f"critic{n:02d}") for n in range(REVIEWS_PER_PAGE * 2 + 5)]
    for n, reviewer in enumerate(reviewers):
        services.review_save(author=reviewer, version=version, recommended=n % 3 != 0,
                             text=f"review-{n:02d}-text")  # fmt: skip
    for n in range(THREADS_PER_PAGE * 2 + 5):
        root = services.comment_create(author=reviewers[n], body=f"thread-{n:02d}", model=model)
        services.comment_create(author=owner, body=f"reply-{n:02d}", model=model, parent=root)
    return model


def _found(html: str, word: str) -> list[str]:
    return re.findall(rf"{word}-\d\d", html)


def _gallery(html: str) -> list[str]:
    """The image pages the gallery links to, in order."""
    section = html.split('id="gallery"')[1].split("</section>")[0]
    return re.findall(r'href="/images/(\d+)/"', section)


def _walk(client, url: str, param: str, word: str) -> tuple[list[str], list[int]]:
    """Follow the 'next' links of `param` from the first page; what each page shows (the
    words numbered like `word`-07, or with "gallery" the images), and the number of
    queries each page took."""
    seen, queries = [], []
    while url:
        with CaptureQueriesContext(connection) as ctx:
            html = client.get(url).content.decode()
        queries.append(len(ctx.captured_queries))
        seen += _gallery(html) if word == "gallery" else _found(html, word)
        link = re.search(rf'href="\?([^"]*)#{param}" rel="next"', html)
        url = f"{url.split('?')[0]}?{link.group(1).replace('&amp;', '&')}" if link else ""
    return seen, queries


def test_reviews_come_newest_first_a_page_at_a_time(discussed, client):
    url = discussed.get_absolute_url()
    seen, queries = _walk(client, url, "reviews", "review")
    expected = [f"review-{n:02d}" for n in reversed(range(REVIEWS_PER_PAGE * 2 + 5))]
    assert seen == expected
    assert len(queries) == 3 and len(set(queries)) == 1, queries
    first = client.get(url).content.decode()
    assert len(_found(first, "review")) == REVIEWS_PER_PAGE
    assert 'rel="prev"' not in first.split('id="reviews"')[1].split("</section>")[0]


def test_comment_threads_come_oldest_first_with_their_replies(discussed, client):
    url = discussed.get_absolute_url()
    seen, queries = _walk(client, url, "comments", "thread")
    assert seen == [f"thread-{n:02d}" for n in range(THREADS_PER_PAGE * 2 + 5)]
    assert len(queries) == 3 and len(set(queries)) == 1, queries
    second = client.get(f"{url}?comments=2").content.decode()
    # A thread's replies come with it, on its page.
    assert _found(second, "reply") == [f"reply-{n:02d}" for n in range(20, 40)]
    assert 'href="?comments=1#comments" rel="prev"' in second


def test_paging_keeps_the_version_and_the_other_list_in_place(discussed, client):
    version = discussed.versions.get()
    html = client.get(f"{discussed.get_absolute_url()}?version={version.pk}&comments=2")
    links = re.findall(r'href="\?([^"]*)#reviews" rel="next"', html.content.decode())
    assert links == [f"version={version.pk}&amp;comments=2&amp;reviews=2"]


@pytest.mark.parametrize("raw", ["0", "-1", "abc", "２", "9" * 30, "501", "1\x00"])
def test_a_nonsense_page_number_is_the_first_page(discussed, client, raw):
    first = client.get(discussed.get_absolute_url()).content.decode()
    response = client.get(discussed.get_absolute_url(), {"reviews": raw, "comments": raw})
    assert response.status_code == 200
    html = response.content.decode()
    assert _found(html, "review") == _found(first, "review")
    assert _found(html, "thread") == _found(first, "thread")


def test_a_page_past_the_end_says_so(discussed, client):
    html = client.get(discussed.get_absolute_url(), {"reviews": 9, "comments": 9}).content.decode()
    assert "No more reviews." in html and "No more comments." in html
    assert _found(html, "review") == [] and _found(html, "thread") == []


def test_the_gallery_comes_in_its_order_a_page_at_a_time(owner, client):
    model = published_model(owner=owner, name="Many Pictures")
    version = model.versions.get()
    version.images.all().delete()
    # Positions run backwards against ids, so id order would read differently.
    count = IMAGES_PER_PAGE * 2 + 3
    images = [ImageFactory(version=version, position=count - n) for n in range(count)]
    in_order = [str(image.pk) for image in sorted(images, key=lambda image: image.position)]
    url = model.get_absolute_url()
    seen, queries = _walk(client, url, "gallery", "gallery")
    assert seen == in_order
    assert len(queries) == 3 and len(set(queries)) == 1, queries
    second = client.get(url, {"images": 2, "version": version.pk}).content.decode()
    assert f'href="?images=1&amp;version={version.pk}#gallery" rel="prev"' in second
    past = client.get(url, {"images": 9}).content.decode()
    assert _gallery(past) == [] and "No more sample images." in past
