from django.contrib.auth import views as auth_views
from django.urls import path

from community import views

urlpatterns = [
    path("login/", auth_views.LoginView.as_view(), name="login"),
    path("logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("signup/", views.signup, name="signup"),
    path("notifications/", views.notifications, name="notifications"),
    path("api-keys/", views.api_keys, name="api_keys"),
]
