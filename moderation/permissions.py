"""Who may moderate: members of the "moderators" group (created by a migration), and
superusers. Everything under /moderation/ answers 404 to anyone else."""

from __future__ import annotations

from functools import wraps

from django.http import Http404

MODERATORS_GROUP = "moderators"


def is_moderator(user) -> bool:
    if not (user.is_authenticated and user.is_active):
        return False
    if user.is_superuser:
        return True
    # Cached on the user object: templates and views ask more than once per request.
    if not hasattr(user, "_is_moderator"):
        user._is_moderator = user.groups.filter(name=MODERATORS_GROUP).exists()
    return user._is_moderator


def moderator_required(view):
    """404, not 403, for everyone else: the pages' existence is nobody else's business."""

    @wraps(view)
    def wrapper(request, *args, **kwargs):
        if not is_moderator(request.user):
            raise Http404("No such page.")
        return view(request, *args, **kwargs)

    return wrapper
