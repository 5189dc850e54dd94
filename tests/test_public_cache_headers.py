"""Cache headers of the public HTML lists (browse, profiles, public collections): one shared
copy per language for anonymous visitors, a private one for everyone signed in, and nothing
shared that sets a cookie or holds a CSRF token (config/middleware.py)."""

from __future__ import annotations

import pytest
from django.conf import settings
from django.contrib.auth.models import AnonymousUser
from django.http import HttpResponse
from django.middleware.csrf import get_token
from django.test import RequestFactory

from community.models import Collection
from config.middleware import CookiesArePrivateMiddleware, public_when_anonymous
from tests.factories import UserFactory, published_model

pytestmark = pytest.mark.django_db


def directives(response) -> set[str]:
    return {part.strip() for part in response.get("Cache-Control", "").split(",") if part}


def vary(response) -> set[str]:
    return {part.strip() for part in response.get("Vary", "").split(",")}


def is_public(response) -> bool:
    return "public" in directives(response)


@pytest.fixture
def lists(owner) -> list[str]:
    """The public lists, each holding one of `owner`'s models."""
    model = published_model(name="Aurora", owner=owner)
    shelf = Collection.objects.create(owner=owner, name="Shelf", is_public=True)
    shelf.items.create(model=model)
    return [
        "/",
        "/?sort=downloads&type=LORA&page=2",  # a typed page past the end: page 1
        "/?tag=anime",
        f"/u/{owner.username}/",
        f"/collections/{shelf.pk}/",
    ]


def test_anonymous_visitors_get_one_shared_copy_a_minute_per_language(client, lists):
    for url in lists:
        response = client.get(url)
        assert response.status_code == 200, url
        assert directives(response) == {"public", "max-age=60"}, url
        # The language comes from its cookie or Accept-Language, the session says who asks.
        assert {"Cookie", "Accept-Language"} <= vary(response), url
        assert not response.cookies, url


def test_a_cursor_page_is_shared_too(client, owner):
    for n in range(30):
        published_model(name=f"Model {n}", owner=owner)
    first = client.get("/")
    assert is_public(first)
    following = first.context["page"].next_cursor
    assert following
    assert directives(client.get("/", {"cursor": following, "page": 2})) == {
        "public",
        "max-age=60",
    }


def test_the_language_cookie_alone_keeps_a_list_shared(client, lists):
    client.cookies[settings.LANGUAGE_COOKIE_NAME] = "ja"
    response = client.get("/")
    assert response["Content-Language"] == "ja"
    assert is_public(response) and "Cookie" in vary(response)


@pytest.mark.parametrize("person", ["owner", "stranger", "staff"])
def test_signed_in_visitors_get_private_copies(client_for, lists, owner, stranger, staff, person):
    c = client_for({"owner": owner, "stranger": stranger, "staff": staff}[person])
    for url in lists:
        response = c.get(url)
        assert response.status_code == 200, url
        assert {"private", "no-cache"} <= directives(response), url
        assert not is_public(response), url
        assert "Cookie" in vary(response), url


def test_a_stale_session_cookie_makes_the_answer_private(client, lists):
    # The session is gone: the answer deletes its cookie, a Set-Cookie no cache may share.
    client.cookies[settings.SESSION_COOKIE_NAME] = "no-such-session"
    for url in lists:
        response = client.get(url)
        assert settings.SESSION_COOKIE_NAME in response.cookies, url
        assert not is_public(response), url
        assert "private" in directives(response), url


def test_any_public_page_that_sets_a_cookie_is_made_private(client):
    # The guidelines say public themselves (moderation/views.py); the cookie wins.
    assert is_public(client.get("/guidelines/"))
    client.cookies[settings.SESSION_COOKIE_NAME] = "no-such-session"
    response = client.get("/guidelines/")
    assert response.cookies and directives(response) == {"private", "no-cache"}


def test_not_found_and_redirects_are_not_shared(client, owner):
    private_shelf = Collection.objects.create(owner=owner, name="Mine", is_public=False)
    for url, status in [
        ("/u/nobody-here/", 404),
        (f"/collections/{private_shelf.pk}/", 404),
        ("/collections/999999/", 404),
        ("/accounts/favorites/", 302),
    ]:
        response = client.get(url)
        assert response.status_code == status, url
        assert not is_public(response), url


def test_a_banned_members_profile_is_404_to_anonymous_and_private_to_staff(
    client, client_for, staff
):
    banned = UserFactory(username="banned", is_active=False)
    published_model(name="Banned work", owner=banned)
    response = client.get("/u/banned/")
    assert response.status_code == 404 and not is_public(response)
    seen_by_staff = client_for(staff).get("/u/banned/")
    assert seen_by_staff.status_code == 200
    assert not is_public(seen_by_staff) and "private" in directives(seen_by_staff)
    # What staff see of hidden content never reaches a shared cache from any list.
    assert not is_public(client_for(staff).get("/"))


def test_the_wrong_method_is_not_shared(client, owner):
    assert client.post("/").status_code == 405
    assert not is_public(client.post("/"))
    assert not is_public(client.post(f"/u/{owner.username}/"))


# --- The decorator and the middleware on their own ---------------------------------------------


def _anonymous_get():
    request = RequestFactory().get("/")
    request.user = AnonymousUser()
    return request


def test_a_page_that_holds_a_csrf_token_is_not_shared():
    @public_when_anonymous()
    def view(request):
        return HttpResponse(f'<input name="csrfmiddlewaretoken" value="{get_token(request)}">')

    response = view(_anonymous_get())
    assert directives(response) == {"private", "no-cache"}


def test_a_view_that_sets_a_cookie_is_not_shared():
    @public_when_anonymous()
    def view(request):
        response = HttpResponse("hello")
        response.set_cookie("seen", "1")
        return response

    assert directives(view(_anonymous_get())) == {"private", "no-cache"}


def test_a_cache_control_the_view_chose_is_kept():
    @public_when_anonymous()
    def view(request):
        response = HttpResponse("gone")
        response["Cache-Control"] = "no-store"
        return response

    assert view(_anonymous_get())["Cache-Control"] == "no-store"


def test_the_middleware_makes_public_answers_that_set_cookies_private():
    def setting_a_cookie(request):
        response = HttpResponse("hello")
        response["Cache-Control"] = "public, max-age=60"
        response.set_cookie("csrftoken", "x")
        return response

    def without_cookies(request):
        response = HttpResponse("hello")
        response["Cache-Control"] = "public, max-age=60"
        return response

    request = _anonymous_get()
    made_private = CookiesArePrivateMiddleware(setting_a_cookie)(request)
    assert made_private["Cache-Control"] == "private, no-cache"
    assert CookiesArePrivateMiddleware(without_cookies)(request)["Cache-Control"] == (
        "public, max-age=60"
    )
