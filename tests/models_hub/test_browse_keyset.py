"""Browse's Next and Previous links page by keyset cursor (models_hub/keyset.py): deep pages
cost what page 1 does, and a walk either way shows every model once, in the order the
numbered (offset) pages show them."""

from __future__ import annotations

import html
import re
from datetime import timedelta
from urllib.parse import parse_qs

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from community.models import User
from models_hub import views
from models_hub.choices import ModelType, NsfwLevel, Status
from models_hub.keyset import decode_cursor, encode_cursor, position
from models_hub.selectors import SORTS as ORDERS
from tests.factories import ModelFactory, TagFactory, VersionFactory, published_model

pytestmark = pytest.mark.django_db

PER_PAGE = 4
SORTS = ["newest", "downloads", "likes"]


@pytest.fixture(autouse=True)
def _small_pages(monkeypatch):
    # Four cards a page: several pages from a few models.
    monkeypatch.setattr(views, "PAGE_SIZE", PER_PAGE)


def names(response) -> list[str]:
    assert response.status_code == 200
    return re.findall(r'<h3><a href="[^"]+">([^<]+)</a></h3>', response.content.decode())


def link(response, label: str) -> str | None:
    """The query string of the pager's link named `label`, or None."""
    found = re.search(rf'<a href="\?([^"]*)">{label}</a>', response.content.decode())
    return html.unescape(found.group(1)) if found else None


def next_link(response) -> str | None:
    return link(response, "Next →")


def previous_link(response) -> str | None:
    return link(response, "← Previous")


def page_label(response) -> tuple[int, int] | None:
    found = re.search(r"Page (\d+) of (\d+)", response.content.decode())
    return (int(found.group(1)), int(found.group(2))) if found else None


def offset_pages(client, query: str) -> list[list[str]]:
    pages, number = [], 1
    while True:
        response = client.get(f"/?{query}&page={number}")
        pages.append(names(response))
        if not next_link(response):
            return pages
        number += 1


def walk(client, query: str, follow) -> tuple[list[list[str]], list]:
    """The pages from /?query on, following `follow` (next_link or previous_link)."""
    response = client.get(f"/?{query}")
    pages, responses = [names(response)], [response]
    while (step := follow(response)) is not None:
        response = client.get(f"/?{step}")
        pages.append(names(response))
        responses.append(response)
        assert len(pages) < 50, "the walk does not end"
    return pages, responses


@pytest.fixture
def catalogue(owner):
    """Fourteen public models with ties in every sort value (same date, same counts), and
    two drafts of `owner`'s (no published_at), which only their own lists show."""
    now = timezone.now()
    same_moment = now - timedelta(days=3)
    for n in range(14):
        published_model(
            name=f"M{n:02d}",
            published_at=same_moment if n % 3 == 0 else now - timedelta(hours=n),
            download_count=7 if n % 2 else n * 10,
            like_count=n % 4,
        )
    for n in range(2):
        draft = ModelFactory(owner=owner, name=f"Draft {n}", status=Status.DRAFT, published_at=None)
        VersionFactory(model=draft, status=Status.DRAFT, published_at=None)


@pytest.mark.parametrize("sort", SORTS)
@pytest.mark.parametrize("person", ["anon", "owner"])
def test_next_walks_every_model_once_in_the_offset_order(
    catalogue, client_for, owner, sort, person
):
    c = client_for(owner if person == "owner" else None)
    expected = offset_pages(c, f"sort={sort}")
    listed = 16 if person == "owner" else 14
    assert sum(len(page) for page in expected) == listed
    pages, responses = walk(c, f"sort={sort}", next_link)
    assert pages == expected
    flat = [name for page in pages for name in page]
    assert len(flat) == len(set(flat)) == listed
    for number, response in enumerate(responses, start=1):
        assert page_label(response) == (number, len(expected))
    # Past page 1, every Next link goes by cursor, and keeps the sort.
    for response in responses[:-1]:
        assert "cursor=" in next_link(response) and f"sort={sort}" in next_link(response)


@pytest.mark.parametrize("sort", SORTS)
@pytest.mark.parametrize("person", ["anon", "owner"])
def test_previous_walks_back_the_same_pages(catalogue, client_for, owner, sort, person):
    c = client_for(owner if person == "owner" else None)
    forward, responses = walk(c, f"sort={sort}", next_link)
    last = responses[-1].wsgi_request.get_full_path().split("?", 1)[1]
    backward, back_responses = walk(c, last, previous_link)
    assert backward == forward[::-1]
    # Back to page 1 by number (one address for it); deeper pages by a `before` cursor.
    paths = [r.wsgi_request.get_full_path() for r in back_responses]
    assert len(paths) == 4
    assert "before=" in paths[1] and "before=" in paths[2] and "before=" not in paths[3]
    assert page_label(back_responses[-1]) == (1, len(forward))


def test_a_members_drafts_come_first_in_newest_on_any_database(catalogue, client_for, owner):
    # NULL sorts above every date, as PostgreSQL sorts it: SQLite is told to do the same.
    first = names(client_for(owner).get("/?sort=newest"))
    assert sorted(first[:2]) == ["Draft 0", "Draft 1"]


def test_more_drafts_than_a_page_walk_both_ways(catalogue, client_for, owner):
    # Six drafts: page 1 ends on one (a cursor holding NULL), page 2 mixes drafts and dates.
    for n in range(2, 6):
        draft = ModelFactory(owner=owner, name=f"Draft {n}", status=Status.DRAFT, published_at=None)
        VersionFactory(model=draft, status=Status.DRAFT, published_at=None)
    c = client_for(owner)
    expected = offset_pages(c, "sort=newest")
    assert expected[0] == ["Draft 5", "Draft 4", "Draft 3", "Draft 2"]
    assert expected[1][:2] == ["Draft 1", "Draft 0"]
    assert decode_cursor(parse_qs(next_link(c.get("/?sort=newest")))["cursor"][0])[0] is None
    forward, responses = walk(c, "sort=newest", next_link)
    assert forward == expected
    last = responses[-1].wsgi_request.get_full_path().split("?", 1)[1]
    backward, _ = walk(c, last, previous_link)
    assert backward == expected[::-1]
    # Back from page 3 reaches the drafts: the dated rows, then the NULL ones, a second
    # query (and its own prefetch of versions), so the index serves the first.
    back_to_2 = f"/?{previous_link(responses[2])}"
    assert "before=" in back_to_2 and names(c.get(back_to_2)) == expected[1]
    queries = _queries(c, back_to_2)
    assert len(queries) == len(_queries(c, "/?sort=newest")) + 2
    assert not [sql for sql in queries if "OFFSET" in sql.upper()]


def test_a_typed_page_number_still_works_and_its_links_go_by_cursor(catalogue, client):
    offset = offset_pages(client, "sort=downloads")
    third = client.get("/?sort=downloads&page=3")
    assert names(third) == offset[2] and page_label(third) == (3, 4)
    assert "cursor=" in next_link(third) and "before=" in previous_link(third)
    assert names(client.get(f"/?{next_link(third)}")) == offset[3]
    assert names(client.get(f"/?{previous_link(third)}")) == offset[1]


def _queries(client, url: str) -> list[str]:
    with CaptureQueriesContext(connection) as ctx:
        response = client.get(url)
    assert response.status_code == 200
    return [q["sql"] for q in ctx.captured_queries]


@pytest.mark.parametrize("sort", SORTS)
@pytest.mark.parametrize("person", ["anon", "owner"])
def test_a_cursor_page_costs_what_page_1_does_and_has_no_offset(
    catalogue, client_for, owner, sort, person
):
    c = client_for(owner if person == "owner" else None)
    first = c.get(f"/?sort={sort}")
    second = c.get(f"/?{next_link(first)}")
    deep = f"/?{next_link(second)}"
    back = f"/?{previous_link(c.get(deep))}"
    assert "before=" in back
    page_one = _queries(c, f"/?sort={sort}")
    for url in (deep, back):
        queries = _queries(c, url)
        assert len(queries) == len(page_one), url
        assert not [sql for sql in queries if "OFFSET" in sql.upper()], url
    # A typed page number is an offset, as before (what the cursor links replace).
    assert [sql for sql in _queries(c, f"/?sort={sort}&page=3") if "OFFSET" in sql.upper()]


def _walk_all(client, query: str) -> tuple[list[str], list[str]]:
    """Every name walking Next from /?query, and back from the last page by Previous; and
    the links followed."""
    forward, responses = walk(client, query, next_link)
    last = responses[-1].wsgi_request.get_full_path().split("?", 1)[1]
    backward, back_responses = walk(client, last, previous_link)
    assert backward == forward[::-1]
    links = [r.wsgi_request.get_full_path().split("?", 1)[1] for r in [*responses, *back_responses]]
    return [name for page in forward for name in page], links


def test_type_and_tag_filters_are_kept_across_next_and_previous(client):
    tag = TagFactory(name="anime")
    for n in range(10):
        kept = published_model(name=f"Kept {n}", type=ModelType.CHECKPOINT, download_count=n % 3)
        kept.tags.add(tag)
        published_model(name=f"Other type {n}", type=ModelType.LORA).tags.add(tag)
        published_model(name=f"Untagged {n}", type=ModelType.CHECKPOINT)
    shown, links = _walk_all(client, "type=Checkpoint&tag=anime&sort=downloads")
    assert sorted(shown) == sorted(f"Kept {n}" for n in range(10))
    assert all("type=Checkpoint" in q and "tag=anime" in q for q in links)


def test_the_nsfw_filter_is_kept_across_next_and_previous(client_for):
    viewer = User.objects.create(username="viewer", browsing_level=NsfwLevel.PG | NsfwLevel.PG13)
    for n in range(9):
        published_model(name=f"Teen {n}", nsfw_level=NsfwLevel.PG13, like_count=n % 2)
        published_model(name=f"Safe {n}", nsfw_level=NsfwLevel.PG, like_count=n % 2)
    shown, links = _walk_all(client_for(viewer), "nsfw=2&sort=likes")
    assert sorted(shown) == sorted(f"Teen {n}" for n in range(9))
    assert all("nsfw=2" in q for q in links)


def test_a_text_query_with_a_sort_of_its_own_pages_by_cursor(client):
    for n in range(9):
        published_model(name=f"Velvet {n}", download_count=5)
        published_model(name=f"Plain {n}", download_count=5)
    shown, links = _walk_all(client, "q=velvet&sort=downloads")
    assert sorted(shown) == sorted(f"Velvet {n}" for n in range(9))
    assert all("q=velvet" in q for q in links)
    assert any("cursor=" in q for q in links) and any("before=" in q for q in links)


def test_ranked_search_keeps_page_numbers(client):
    # Relevance (the default with a query) is computed per query: no keyset to page by.
    for n in range(9):
        published_model(name=f"Velvet {n}")
    first = client.get("/?q=velvet")
    second = client.get(f"/?{next_link(first)}")
    third = client.get(f"/?{next_link(second)}")
    assert "cursor=" not in next_link(first) and "page=2" in next_link(first)
    assert "before=" not in previous_link(third) and "page=2" in previous_link(third)
    shown = names(first) + names(second) + names(third)
    assert sorted(shown) == sorted(f"Velvet {n}" for n in range(9))


def _nested(depth: int) -> str:
    import base64

    return base64.urlsafe_b64encode(b"[" * depth + b"]" * depth).decode()


BAD_CURSORS = [
    pytest.param("garbage", id="not-base64-json"),
    pytest.param("!!!***", id="not-base64"),
    pytest.param("\x00", id="nul"),
    pytest.param("WyJ4Il0\x00", id="nul-after-a-cursor"),
    pytest.param("é", id="not-ascii"),
    pytest.param("A" * 5000, id="too-long"),
    pytest.param(_nested(300), id="nested-lists"),
    pytest.param("W10", id="empty-list"),
    pytest.param(encode_cursor({"a": 1}), id="an-object"),
    pytest.param(encode_cursor([1]), id="too-short"),
    pytest.param(encode_cursor([1, 2, 3]), id="too-long-list"),
    pytest.param(encode_cursor([10**30, 10**30]), id="huge-numbers"),
    pytest.param(encode_cursor([-(10**30), -(10**30)]), id="huge-negative-numbers"),
    pytest.param(encode_cursor([2**63, 2**63]), id="just-past-64-bits"),
    pytest.param(encode_cursor([True, 1]), id="a-boolean"),
    pytest.param(encode_cursor([1.5, 1]), id="a-float"),
    pytest.param(encode_cursor(["7", "1"]), id="strings-for-numbers"),
    pytest.param(encode_cursor([None, None]), id="nulls"),
    pytest.param(encode_cursor([[1], {"b": 2}]), id="containers"),
    pytest.param(encode_cursor(["2020-01-01", 1]), id="a-date-without-a-zone"),
    pytest.param(encode_cursor(["9999-12-31T23:59:59-14:00", 10**30]), id="past-year-9999"),
    pytest.param(encode_cursor(["0001-01-01T00:00:00+14:00", 1]), id="before-year-1"),
    pytest.param(encode_cursor(["\x00", "1\x00"]), id="nul-strings"),
    pytest.param(encode_cursor([-1, -1]), id="past-the-end"),
]


@pytest.mark.parametrize("cursor", BAD_CURSORS)
@pytest.mark.parametrize("sort", SORTS)
@pytest.mark.parametrize("direction", ["cursor", "before"])
def test_a_bad_or_stale_cursor_gives_page_1(catalogue, client, cursor, sort, direction):
    page_one = names(client.get(f"/?sort={sort}"))
    response = client.get("/", {"sort": sort, direction: cursor, "page": "7"})
    assert names(response) == page_one
    assert page_label(response) == (1, 4)
    # The links lead on from page 1 and carry none of the bad cursor.
    assert previous_link(response) is None
    assert "before" not in next_link(response)


def _cursor_at(response, index: int) -> str:
    """A cursor at the position of the card at `index` on a newest-first page."""
    row = response.context["page"].object_list[index]
    return encode_cursor(position(row, ORDERS["newest"]))


def test_a_cursor_past_either_end_gives_page_1(catalogue, client):
    first = client.get("/?sort=newest")
    last = client.get("/?sort=newest&page=4")
    # After the last model, or before the first: nothing there.
    assert names(client.get("/", {"sort": "newest", "cursor": _cursor_at(last, -1)})) == names(
        first
    )
    assert names(client.get("/", {"sort": "newest", "before": _cursor_at(first, 0)})) == names(
        first
    )
