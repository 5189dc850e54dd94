from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from models_hub.choices import NsfwLevel
from moderation import pipeline
from moderation.checks.findings import Finding
from moderation.models import CheckRun
from tests.factories import ImageFactory, UserFactory


def make_moderator(name: str):
    """A member of the moderators group (the group comes from a migration)."""
    user = UserFactory(username=name, email=f"{name}@example.invalid")
    user.groups.add(Group.objects.get_or_create(name="moderators")[0])
    return user


@pytest.fixture
def alice(db):
    return make_moderator("alice")


@pytest.fixture
def bob(db):
    return make_moderator("bob")


def decide_with_finding(version, finding: Finding) -> str:
    """Give `version` finished check runs, its likeness check having found `finding`, and
    let the pipeline decide it (returns the decision)."""
    image = version.images.first() or ImageFactory(version=version)
    for kind in ("license", "text_likeness"):
        CheckRun.objects.create(kind=kind, version=version, state="done")
    CheckRun.objects.create(kind="nsfw", version=version, image=image, state="done",
                            result={"level": NsfwLevel.PG})  # fmt: skip
    CheckRun.objects.create(kind="likeness", version=version, image=image, state="done",
                            findings=[finding.as_json()])  # fmt: skip
    return pipeline.version_decide(version_id=version.pk)
