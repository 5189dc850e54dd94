"""Account and community pages. Thin: parse, call a selector or service, render."""

from __future__ import annotations

from functools import wraps

from django.contrib import messages
from django.contrib.auth import login
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import Http404, HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import ngettext
from django.views.decorators.http import require_http_methods, require_POST, require_safe

from community import selectors, services
from community.api_keys import OFFERED_SCOPES, KeyRefused, api_key_create, api_key_revoke
from community.forms import (
    BrowsingForm,
    CollectionForm,
    CommentForm,
    ProfileForm,
    ReviewForm,
    SignupForm,
)
from community.models import ApiKey, Collection, Comment, Reaction, User
from config.middleware import public_when_anonymous
from models_hub.models import GalleryImage, Model, ModelVersion
from models_hub.params import parse_count, parse_id

PAGE_SIZE = 24


def _back(request: HttpRequest, default: str) -> str:
    """Where a form should return to: its `next` when it is on this site, else `default`."""
    target = request.POST.get("next") or request.GET.get("next") or ""
    if target and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return default


def _same_site_referer(request: HttpRequest) -> str:
    """The page a refused form was sent from, when it is one of ours."""
    referer = request.headers.get("Referer", "")
    if referer and url_has_allowed_host_and_scheme(
        referer, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return referer
    return ""


def _wants_json(request: HttpRequest) -> bool:
    return "application/json" in request.headers.get("Accept", "")


def _desired(request: HttpRequest) -> bool | None:
    """A toggle form may say what it wants (on=1/0: sending it twice changes nothing);
    without it, the action toggles."""
    value = request.POST.get("on")
    return {"1": True, "0": False}.get(value) if value is not None else None


def _refusals_as_messages(view):
    """An ActionRefused from a service becomes a message on the page the form returns to
    (or a 400 with the message, for scripts)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        try:
            return view(request, *args, **kwargs)
        except (services.ActionRefused, services.ProfileRefused) as refusal:
            if _wants_json(request):
                return JsonResponse({"error": str(refusal)}, status=400)
            messages.error(request, str(refusal))
            return redirect(_back(request, _same_site_referer(request) or "/"))

    return wrapper


# Accounts ----------------------------------------------------------------------------------


def signup(request: HttpRequest) -> HttpResponse:
    if request.user.is_authenticated:
        return redirect("models_hub:browse")
    form = SignupForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        user = form.save()
        login(request, user, backend="django.contrib.auth.backends.ModelBackend")
        messages.success(
            request, _("Welcome, %(name)s! Your account is ready.") % {"name": user.username}
        )
        return redirect(_back(request, "/"))
    return render(
        request, "registration/signup.html", {"form": form, "next": request.GET.get("next", "")}
    )


@login_required
@require_http_methods(["GET", "POST"])
def notifications(request: HttpRequest) -> HttpResponse:
    """What the site told this person, newest first; POST marks them all read."""
    mine = selectors.notifications_for(request.user)
    if request.method == "POST":
        mine.filter(read_at__isnull=True).update(read_at=timezone.now())
        return redirect("notifications")
    return render(request, "community/notifications.html", {"notifications": mine[:100]})


@login_required
@require_http_methods(["GET", "POST"])
def api_keys(request: HttpRequest) -> HttpResponse:
    """Make, list and revoke API keys. A new key is shown on this response only."""
    new_key = error = ""
    if request.method == "POST" and "revoke" in request.POST:
        if revoke_id := parse_id(request.POST.get("revoke")):
            api_key_revoke(user=request.user, key_id=revoke_id)
        return redirect("api_keys")
    if request.method == "POST":
        try:
            _key, new_key = api_key_create(
                user=request.user,
                name=request.POST.get("name", ""),
                scopes=request.POST.getlist("scopes"),
                expires_in_days=parse_count(request.POST.get("expires_in_days")),
            )
        except KeyRefused as exc:
            error = str(exc)
    response = render(
        request,
        "community/api_keys.html",
        {
            "keys": ApiKey.objects.filter(user=request.user),
            "scopes": [(scope.value, scope.label) for scope in OFFERED_SCOPES],
            "new_key": new_key,
            "error": error,
        },
        status=400 if error else 200,
    )
    response["Cache-Control"] = "no-store"  # the page may hold a key
    return response


# Profiles, settings, follows ------------------------------------------------------------------


@require_safe
@public_when_anonymous()
def profile(request: HttpRequest, username: str) -> HttpResponse:
    page = selectors.profile_page(request.user, username)
    models = Paginator(page.models, PAGE_SIZE).get_page(request.GET.get("page"))
    return render(
        request,
        "community/profile.html",
        {"p": page, "page": models, "downloads_chart": selectors.creator_downloads_chart(page)},
    )


@login_required
@require_http_methods(["GET", "POST"])
def profile_edit(request: HttpRequest) -> HttpResponse:
    user = request.user
    initial = {"bio": user.bio, "links": "\n".join(user.links)}
    form = ProfileForm(request.POST or None, request.FILES or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        try:
            services.profile_update(
                user=user,
                bio=form.cleaned_data["bio"],
                links=form.link_list(),
                avatar=form.cleaned_data["avatar"] or None,
                remove_avatar=form.cleaned_data["remove_avatar"],
            )
        except services.ProfileRefused as refusal:
            form.add_error(None, str(refusal))
        else:
            messages.success(request, _("Your profile is saved."))
            return redirect(user.get_absolute_url())
    return render(
        request, "community/profile_edit.html", {"form": form}, status=400 if form.errors else 200
    )


@login_required
@require_http_methods(["GET", "POST"])
def browsing_settings(request: HttpRequest) -> HttpResponse:
    user = request.user
    initial = {
        "levels": [
            int(level)
            for level, _label in BrowsingForm.base_fields["levels"].choices
            if level & user.browsing_level
        ],
        "above_level": user.above_level,
    }
    form = BrowsingForm(request.POST or None, initial=initial)
    if request.method == "POST" and form.is_valid():
        services.browsing_preferences_update(
            user=user, levels=form.level_mask(), above_level=form.cleaned_data["above_level"]
        )
        messages.success(request, _("Your browsing level is saved."))
        return redirect(_back(request, "browsing_settings"))
    return render(request, "community/browsing.html", {"form": form})


@login_required
@require_POST
@_refusals_as_messages
def follow(request: HttpRequest, username: str) -> HttpResponse:
    creator = get_object_or_404(User, username=username, is_active=True)
    following = services.follow_set(follower=request.user, creator=creator, on=_desired(request))
    if _wants_json(request):
        creator.refresh_from_db(fields=["follower_count"])
        count = creator.follower_count
        label = ngettext("%(counter)s follower", "%(counter)s followers", count)
        return JsonResponse(
            {"on": following, "count": count, "count_label": label % {"counter": count}}
        )
    return redirect(_back(request, creator.get_absolute_url()))


@login_required
@require_safe
def feed(request: HttpRequest) -> HttpResponse:
    versions = Paginator(selectors.feed_for(request.user), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(request, "community/feed.html", {"page": versions})


# Reviews, comments, reactions, favourites ---------------------------------------------------


def _visible_version(request: HttpRequest, version_id: int) -> ModelVersion:
    return get_object_or_404(
        ModelVersion.objects.visible_to(request.user).select_related("model"),
        pk=version_id,
        status="published",
    )


@login_required
@require_POST
@_refusals_as_messages
def review(request: HttpRequest, version_id: int) -> HttpResponse:
    version = _visible_version(request, version_id)
    back = _back(request, version.model.get_absolute_url() + f"?version={version.pk}#reviews")
    if request.POST.get("delete"):
        services.review_delete(author=request.user, version=version)
        return redirect(back)
    form = ReviewForm(request.POST)
    if not form.is_valid():
        raise services.ActionRefused(_("Choose whether you recommend it."))
    services.review_save(
        author=request.user,
        version=version,
        recommended=form.cleaned_data["recommended"],
        text=form.cleaned_data["text"],
    )
    messages.success(request, _("Thanks: your review is posted."))
    return redirect(back)


def _comment_target(
    request: HttpRequest, kind: str, pk: int
) -> tuple[Model | None, GalleryImage | None, str]:
    if kind == "model":
        model = get_object_or_404(Model.objects.visible_to(request.user), pk=pk)
        return model, None, model.get_absolute_url() + "#comments"
    page = selectors.image_page(request.user, pk)
    return None, page.image, page.image.get_absolute_url() + "#comments"


@login_required
@require_POST
@_refusals_as_messages
def comment(request: HttpRequest, kind: str, pk: int) -> HttpResponse:
    model, image, back = _comment_target(request, kind, pk)
    form = CommentForm(request.POST)
    if not form.is_valid():
        raise services.ActionRefused(_("Write something first (at most 5,000 characters)."))
    parent = None
    if parent_id := form.cleaned_data["parent"]:
        parent = Comment.objects.filter(pk=parent_id).first()
        if parent is None:
            raise services.ActionRefused(_("That reply belongs to another thread."))
    made = services.comment_create(
        author=request.user, body=form.cleaned_data["body"], model=model, image=image, parent=parent
    )
    return redirect(back.replace("#comments", f"#comment-{made.pk}"))


@login_required
@require_POST
@_refusals_as_messages
def comment_delete(request: HttpRequest, comment_id: int) -> HttpResponse:
    if not services.comment_delete(comment_id=comment_id, by=request.user):
        raise Http404("No such comment.")
    return redirect(_back(request, "/"))


@login_required
@require_POST
@_refusals_as_messages
def react(request: HttpRequest, image_id: int) -> HttpResponse:
    page = selectors.image_page(request.user, image_id)
    kind = request.POST.get("kind", "")
    if kind not in Reaction.Kind.values:
        raise services.ActionRefused(_("Unknown reaction."))
    on = services.reaction_set(user=request.user, image=page.image, kind=kind, on=_desired(request))
    if _wants_json(request):
        page.image.refresh_from_db()
        return JsonResponse(
            {"on": on, "count": getattr(page.image, services.REACTION_COUNTERS[kind])}
        )
    return redirect(_back(request, page.image.get_absolute_url()))


@login_required
@require_POST
def favorite(request: HttpRequest, pk: int) -> HttpResponse:
    model = get_object_or_404(Model.objects.visible_to(request.user), pk=pk)
    on = services.favorite_set(user=request.user, model=model, on=_desired(request))
    if _wants_json(request):
        model.refresh_from_db(fields=["like_count"])
        return JsonResponse({"on": on, "count": model.like_count})
    return redirect(_back(request, model.get_absolute_url()))


@login_required
@require_safe
def favorites(request: HttpRequest) -> HttpResponse:
    page = Paginator(selectors.favorite_models(request.user), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    return render(request, "community/favorites.html", {"page": page})


@require_safe
def image_detail(request: HttpRequest, image_id: int) -> HttpResponse:
    page = selectors.image_page(request.user, image_id)
    return render(
        request, "community/image.html", {"p": page, "reaction_kinds": Reaction.Kind.choices}
    )


# Collections ----------------------------------------------------------------------------------


@login_required
@require_http_methods(["GET", "POST"])
@_refusals_as_messages
def collections(request: HttpRequest) -> HttpResponse:
    """Your collections, and a form to start one."""
    form = CollectionForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        # The model first: one the person may not see is a 404 before anything is made.
        model = None
        if model_id := parse_id(request.POST.get("model")):
            model = get_object_or_404(Model.objects.visible_to(request.user), pk=model_id)
        made = services.collection_create(owner=request.user, **form.cleaned_data)
        if model is not None:
            services.collection_item_set(collection=made, model=model, on=True)
            messages.success(request, _("Added to %(name)s.") % {"name": made.name})
            return redirect(_back(request, model.get_absolute_url()))
        return redirect(made.get_absolute_url())
    mine = Collection.objects.filter(owner=request.user)
    return render(request, "community/collections.html", {"collections": mine, "form": form})


@require_safe
@public_when_anonymous()
def collection(request: HttpRequest, pk: int) -> HttpResponse:
    found = selectors.collection_for(request.user, pk)
    models = Paginator(selectors.collection_models(request.user, found), PAGE_SIZE).get_page(
        request.GET.get("page")
    )
    is_owner = request.user.is_authenticated and found.owner_id == request.user.pk
    form = (
        CollectionForm(
            initial={
                "name": found.name,
                "description": found.description,
                "is_public": found.is_public,
            }
        )
        if is_owner
        else None
    )
    return render(
        request,
        "community/collection.html",
        {"collection": found, "page": models, "is_owner": is_owner, "form": form},
    )


def _own_collection(request: HttpRequest, pk: int) -> Collection:
    return get_object_or_404(Collection, pk=pk, owner=request.user)


@login_required
@require_POST
@_refusals_as_messages
def collection_edit(request: HttpRequest, pk: int) -> HttpResponse:
    found = _own_collection(request, pk)
    if request.POST.get("delete"):
        found.delete()
        messages.success(request, _("The collection is deleted."))
        return redirect("collections")
    form = CollectionForm(request.POST)
    if not form.is_valid():
        raise services.ActionRefused(_("Give the collection a name."))
    services.collection_update(collection=found, **form.cleaned_data)
    return redirect(found.get_absolute_url())


@login_required
@require_POST
@_refusals_as_messages
def collect(request: HttpRequest, pk: int) -> HttpResponse:
    """Put a model into one of your collections, or take it out."""
    model = get_object_or_404(Model.objects.visible_to(request.user), pk=pk)
    found = _own_collection(request, parse_id(request.POST.get("collection")) or 0)
    on = services.collection_item_set(collection=found, model=model, on=_desired(request))
    if _wants_json(request):
        return JsonResponse({"on": on})
    if on:
        messages.success(request, _("Added to %(name)s.") % {"name": found.name})
    else:
        messages.success(request, _("Removed from %(name)s.") % {"name": found.name})
    return redirect(_back(request, model.get_absolute_url()))
