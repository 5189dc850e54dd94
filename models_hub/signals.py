"""Saves and deletions that change what the public API shows retire its kept answers
(models_hub/api/answers.py). Counters are written with UPDATE and send no signal: they may be
a minute old. Writes by UPDATE that change visibility call public_content_changed themselves
(moderation/queue.py item_act)."""

from __future__ import annotations

from django.contrib.auth import get_user_model
from django.db.models.signals import m2m_changed, post_delete, post_save

from models_hub.api.answers import public_content_changed
from models_hub.models import BaseModel, GalleryImage, License, Model, ModelFile, ModelVersion, Tag

SHOWN_BY_THE_API = (Model, ModelVersion, ModelFile, GalleryImage, Tag, License, BaseModel)
# What a sign-in writes: nothing anyone else sees.
_PRIVATE_USER_FIELDS = frozenset({"last_login", "password"})


def _changed(sender, **kwargs) -> None:
    public_content_changed()


def _member_changed(sender, update_fields=None, **kwargs) -> None:
    if update_fields and set(update_fields) <= _PRIVATE_USER_FIELDS:
        return
    public_content_changed()


def _tags_changed(sender, action: str, **kwargs) -> None:
    if action.startswith("post_"):
        public_content_changed()


def connect() -> None:
    for model in SHOWN_BY_THE_API:
        post_save.connect(_changed, sender=model, dispatch_uid=f"answers-save-{model.__name__}")
        post_delete.connect(_changed, sender=model, dispatch_uid=f"answers-del-{model.__name__}")
    member = get_user_model()
    post_save.connect(_member_changed, sender=member, dispatch_uid="answers-save-member")
    post_delete.connect(_changed, sender=member, dispatch_uid="answers-del-member")
    m2m_changed.connect(_tags_changed, sender=Model.tags.through, dispatch_uid="answers-tags")
