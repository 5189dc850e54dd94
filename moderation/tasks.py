"""Thin Celery entry points for the checks: take ids, call one service. Safe to deliver twice."""

from __future__ import annotations

import logging

from celery import shared_task
from kombu.exceptions import OperationalError as BrokerError

from models_hub.jobs import TRANSIENT_ERRORS, run_with_retries
from moderation import services
from moderation.models import CheckRun

log = logging.getLogger(__name__)

QUEUE_OF_CHECK = {
    CheckRun.Kind.NSFW: "images",
    CheckRun.Kind.LIKENESS: "images",
    CheckRun.Kind.LICENSE: "default",
    CheckRun.Kind.TEXT_LIKENESS: "default",
}


@shared_task(
    name="moderation.run_check",
    bind=True,
    acks_late=True,
    max_retries=5,
)
def run_check(self, run_id: int) -> None:
    run_with_retries(
        self,
        services.CHECK_JOB,
        run_id,
        lambda task_id: services.check_run_execute(run_id=run_id, task_id=task_id),
    )


@shared_task(
    name="moderation.rescan_for_person",
    acks_late=True,
    # A batch is safe to run again (it skips findings it stored); without retries a moment
    # of database trouble would end the chain, and no row records a rescan to resume it.
    autoretry_for=TRANSIENT_ERRORS,
    retry_backoff=True,
    max_retries=5,
)
def rescan_for_person(person_id: int, target: str = "images", after_id: int = 0) -> None:
    """One batch, then the next one as a new task, images first and then version texts."""
    _, last = services.registry_rescan_batch(person_id=person_id, target=target, after_id=after_id)
    if last:
        rescan_for_person.delay(person_id, target, last)
    elif target != services.RESCAN_TARGETS[-1]:
        next_target = services.RESCAN_TARGETS[services.RESCAN_TARGETS.index(target) + 1]
        rescan_for_person.delay(person_id, next_target, 0)


@shared_task(name="moderation.sweep_stuck_work")
def sweep_stuck_work() -> int:
    """Re-enqueue every check, hash, scan and thumbnail that no worker is doing."""
    from models_hub import tasks as hub_tasks
    from moderation import pipeline

    run_ids = services.stuck_check_runs()
    enqueue_checks(run_ids)
    sent = len(run_ids) + hub_tasks.sweep_stuck_jobs()
    pipeline.decide_forgotten_versions()
    return sent


def enqueue_checks(run_ids: list[int]) -> None:
    """Send check runs to their queues. A broker that is down must not fail the caller:
    the rows stay PENDING and the sweeper sends them again."""
    queues = dict(CheckRun.objects.filter(pk__in=run_ids).values_list("pk", "kind"))
    try:
        for run_id in run_ids:
            run_check.apply_async((run_id,), queue=QUEUE_OF_CHECK[queues.get(run_id, "license")])
    except BrokerError:
        log.exception("Could not enqueue check runs %s", run_ids)


def enqueue_registry_rescan(person_id: int) -> None:
    try:
        rescan_for_person.delay(person_id)
    except BrokerError:
        log.exception("Could not enqueue the registry rescan for person %s", person_id)
