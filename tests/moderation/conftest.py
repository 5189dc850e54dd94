from __future__ import annotations

import pytest
from django.contrib.auth.models import Group

from tests.factories import UserFactory


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
