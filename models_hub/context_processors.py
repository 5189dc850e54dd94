from django.conf import settings
from django.utils.functional import SimpleLazyObject


def site(request):
    from moderation.permissions import is_moderator

    return {
        "SITE_NAME": settings.SITE_NAME,
        # Lazy: asked only by pages that show a signed-in person's menu.
        "is_moderator": SimpleLazyObject(lambda: is_moderator(request.user)),
    }
