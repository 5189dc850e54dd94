from django.conf import settings
from django.utils.functional import SimpleLazyObject


def site(request):
    from moderation.permissions import is_moderator

    return {
        "SITE_NAME": settings.SITE_NAME,
        # Lazy: asked only by pages that show a signed-in person's menu.
        "is_moderator": SimpleLazyObject(lambda: is_moderator(request.user)),
        "unread_notifications": SimpleLazyObject(lambda: _unread(request.user)),
    }


def _unread(user) -> int:
    from community.selectors import notifications_for

    if not user.is_authenticated:
        return 0
    return notifications_for(user).filter(read_at__isnull=True).count()
