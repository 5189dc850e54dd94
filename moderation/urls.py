from django.urls import path

from moderation import api, member_views, staff_views, takedown_views, views

app_name = "moderation"
urlpatterns = [
    path("guidelines/", views.guidelines, name="guidelines"),
    path("transparency/", views.transparency, name="transparency"),
    path("report/", member_views.report, name="report"),
    path("takedown/", takedown_views.takedown, name="takedown"),
    path("appeals/<int:action_id>/", member_views.appeal, name="appeal"),
    # Moderators only (404 for everyone else): moderation/staff_views.py.
    path("moderation/", staff_views.queue_list, name="queue"),
    path("moderation/items/<int:pk>/", staff_views.item_detail, name="item"),
    path("moderation/items/<int:pk>/claim", staff_views.item_claim, name="claim"),
    path("moderation/items/<int:pk>/release", staff_views.item_release, name="release"),
    path("moderation/items/<int:pk>/act", staff_views.item_act, name="act"),
    path("moderation/evidence/<str:kind>/<int:pk>", staff_views.evidence_file, name="evidence"),
    # The same, as JSON for moderators' tools (moderation/api.py).
    path("api/moderation/queue", api.queue_list, name="api_queue"),
    path("api/moderation/items/<int:pk>", api.item_detail, name="api_item"),
    path("api/moderation/items/<int:pk>/claim", api.item_claim, name="api_claim"),
    path("api/moderation/items/<int:pk>/release", api.item_release, name="api_release"),
    path("api/moderation/items/<int:pk>/act", api.item_act, name="api_act"),
]
