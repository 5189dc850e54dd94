from urllib.parse import urlsplit

from django.conf import settings
from django.contrib.auth import views as auth_views
from django.urls import path

from community import views

# The reset link names the site's configured address, not the Host header of whoever asked.
_site = urlsplit(settings.SITE_URL)
RESET_EMAIL_CONTEXT = {
    "site_name": settings.SITE_NAME,
    "domain": _site.netloc,
    "protocol": _site.scheme or "https",
}

# Mounted at the site root: account pages live under accounts/, community pages beside the
# catalogue's.
urlpatterns = [
    path("accounts/login/", auth_views.LoginView.as_view(), name="login"),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("accounts/signup/", views.signup, name="signup"),
    path(
        "accounts/password-reset/",
        auth_views.PasswordResetView.as_view(extra_email_context=RESET_EMAIL_CONTEXT),
        name="password_reset",
    ),
    path(
        "accounts/password-reset/sent/",
        auth_views.PasswordResetDoneView.as_view(),
        name="password_reset_done",
    ),
    path(
        "accounts/password-reset/<uidb64>/<token>/",
        auth_views.PasswordResetConfirmView.as_view(),
        name="password_reset_confirm",
    ),
    path(
        "accounts/password-reset/done/",
        auth_views.PasswordResetCompleteView.as_view(),
        name="password_reset_complete",
    ),
    path(
        "accounts/password/",
        auth_views.PasswordChangeView.as_view(),
        name="password_change",
    ),
    path(
        "accounts/password/changed/",
        auth_views.PasswordChangeDoneView.as_view(),
        name="password_change_done",
    ),
    path("accounts/notifications/", views.notifications, name="notifications"),
    path("accounts/api-keys/", views.api_keys, name="api_keys"),
    path("accounts/profile/", views.profile_edit, name="profile_edit"),
    path("accounts/browsing/", views.browsing_settings, name="browsing_settings"),
    path("accounts/favorites/", views.favorites, name="favorites"),
    path("feed/", views.feed, name="feed"),
    path("u/<str:username>/", views.profile, name="profile"),
    path("u/<str:username>/follow", views.follow, name="follow"),
    path("collections/", views.collections, name="collections"),
    path("collections/<int:pk>/", views.collection, name="collection"),
    path("collections/<int:pk>/edit", views.collection_edit, name="collection_edit"),
    path("models/<int:pk>/favorite", views.favorite, name="favorite"),
    path("models/<int:pk>/collect", views.collect, name="collect"),
    path("model-versions/<int:version_id>/review", views.review, name="review"),
    path("images/<int:image_id>/", views.image_detail, name="image"),
    path("images/<int:image_id>/react", views.react, name="react"),
    path("models/<int:pk>/comments", views.comment, {"kind": "model"}, name="model_comment"),
    path("images/<int:pk>/comments", views.comment, {"kind": "image"}, name="image_comment"),
    path("comments/<int:comment_id>/delete", views.comment_delete, name="comment_delete"),
]
