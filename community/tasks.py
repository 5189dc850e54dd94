"""Thin Celery entry points for community work. Safe to deliver twice."""

from __future__ import annotations

from celery import shared_task

from community import services


@shared_task(name="community.followers_notify_new_version", acks_late=True, soft_time_limit=300)
def followers_notify_new_version(version_id: int) -> None:
    # Idempotent: a follower already told about the version is skipped by the service.
    services.followers_notify_new_version(version_id=version_id)
