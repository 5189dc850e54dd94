"""What every background job shares: the claim on its row, the limit on attempts, the errors
worth another try and the backoff between tries, and the sweep of rows no worker is doing.

The row is the record of a job, not the broker: a message can be lost (the sweeper sends it
again), delivered twice (the claim refuses the second), or outlive its worker (the same
message takes its row back, and a row that keeps killing its worker is given up as ERROR).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta

from celery.exceptions import SoftTimeLimitExceeded
from django.conf import settings
from django.db import DatabaseError, InterfaceError, OperationalError, connections
from django.db.models import F, Q
from django.db.models.functions import Greatest
from django.utils import timezone

log = logging.getLogger(__name__)


def _storage_errors() -> tuple[type[BaseException], ...]:
    try:  # S3 storage: botocore's own connection errors are not OSErrors
        from botocore.exceptions import BotoCoreError, ClientError
    except ImportError:  # pragma: no cover - botocore comes with django-storages[s3]
        return ()
    return (BotoCoreError, ClientError)


# The database or the storage had a moment (a restart, a dropped connection, a full disk, a
# timeout): worth trying again with backoff, then given up with the reason. Anything else a
# job raises is a property of its input, and would fail the same way again.
TRANSIENT_ERRORS: tuple[type[BaseException], ...] = (
    OperationalError,
    InterfaceError,
    OSError,
    *_storage_errors(),
)


def describe_error(exc: BaseException) -> str:
    if isinstance(exc, SoftTimeLimitExceeded):
        # The limit travels in the message (set from the sender's settings), so no number.
        return "it ran past its time limit"
    return f"{exc.__class__.__name__}: {exc}"[:500]


@dataclass(frozen=True)
class JobRow:
    """Where one kind of background job keeps its state on its row."""

    model: type
    status: str  # the field
    pending: str
    running: str
    failed: str  # the status of a job given up for good
    message: str  # the field that tells people why
    claimable: tuple[str, ...]
    attempts: str = "job_attempts"
    task: str = "job_task_id"
    changed: str = "job_updated_at"
    finished: str = ""  # a field dated when the job ends, if the row has one
    # Jobs on the same row that cannot run once this one failed (a file that could not be
    # hashed is never scanned): they fail with it, or its version would wait for ever.
    blocks: tuple[JobRow, ...] = ()

    def claim(self, pk: int, task_id: str, **also) -> bool:
        """Move the row to RUNNING for this delivery; False when another delivery has it, the
        job is finished, or it was given up now because it used all its attempts.

        A RUNNING row is taken back only by the same task id: a redelivery of the message
        whose worker died mid-job (acks_late + reject_on_worker_lost), or a retry (Celery
        keeps the id). A second message for the same row carries another id and is refused.
        """
        mine = Q(**{f"{self.status}__in": self.claimable})
        if task_id:
            mine |= Q(**{self.status: self.running, self.task: task_id})
        claimed = self.model.objects.filter(mine, pk=pk).update(
            **{
                self.status: self.running,
                self.task: task_id,
                self.changed: timezone.now(),
                self.attempts: F(self.attempts) + 1,
            },
            **also,
        )
        if not claimed:
            return False
        attempts = self.model.objects.filter(pk=pk).values_list(self.attempts, flat=True).get()
        if attempts > settings.HUB_JOB_MAX_ATTEMPTS:
            # A poison input: it killed the worker, or ran past the time limit, every time.
            self.fail(pk, f"Gave up after {attempts - 1} attempts that did not finish.")
            return False
        return True

    def start(self, pk: int, task_id: str, **also) -> bool:
        """Claim the row for this delivery (see claim). When that is refused (finished
        already, given up just now, or another delivery has it), the worker that finished it
        may have died before the pipeline looked at the version: asking again is harmless."""
        if self.claim(pk, task_id, **also):
            return True
        self.decide_version(pk)
        return False

    def release(self, pk: int, reason: str) -> None:
        """After a transient error: that attempt does not count against the input, and the
        row says it will be tried again. Best effort: when the database is what failed, the
        retry's claim takes the row back by its task id all the same."""
        with contextlib.suppress(DatabaseError):
            self.model.objects.filter(pk=pk, **{self.status: self.running}).update(
                **{
                    self.attempts: Greatest(F(self.attempts) - 1, 0),
                    self.message: f"Will try again: {reason}"[:2000],
                    self.changed: timezone.now(),
                }
            )

    def fail(self, pk: int, reason: str) -> bool:
        """End an unfinished job as failed, with the reason; False if it had finished."""
        now = timezone.now()
        updates = {self.status: self.failed, self.message: reason[:2000], self.changed: now}
        if self.finished:
            updates[self.finished] = now
        unfinished = {f"{self.status}__in": [self.pending, self.running]}
        failed = bool(self.model.objects.filter(pk=pk, **unfinished).update(**updates))
        for blocked in self.blocks:
            blocked.fail(pk, f"Not done: {reason}")
        return failed

    def give_up(self, pk: int, reason: str) -> None:
        """End the job as failed for good, and let the pipeline look at its version (it
        holds it for staff)."""
        log.warning("%s %s failed: %s", self.model.__name__, pk, reason)
        self.fail(pk, reason)
        self.decide_version(pk)

    def decide_version(self, pk: int) -> None:
        """Let the checks pipeline look at the row's version: it acts once all its work is
        done, and asking again is harmless."""
        from moderation import pipeline

        for version_id in self.model.objects.filter(pk=pk).values_list("version_id", flat=True):
            pipeline.version_decide(version_id=version_id)

    def stuck(self, queryset=None) -> list[int]:
        """Ids of the rows whose job no worker is doing, made PENDING again.

        RUNNING for longer than the hard time limit: the worker died and its message is gone
        (the row is reset). PENDING for longer than HUB_SWEEP_PENDING_AFTER: the message was
        lost (a broker restarted empty, or was down when the row committed).
        """
        rows = self.model.objects.all() if queryset is None else queryset
        now = timezone.now()
        running_before = now - timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT + 60)
        pending_before = now - timedelta(seconds=settings.HUB_SWEEP_PENDING_AFTER)
        abandoned = list(
            rows.filter(
                **{self.status: self.running, f"{self.changed}__lt": running_before}
            ).values_list("pk", flat=True)
        )
        rows.filter(pk__in=abandoned, **{self.status: self.running}).update(
            **{self.status: self.pending, self.changed: now, self.task: ""}
        )
        lost = list(
            rows.filter(
                **{self.status: self.pending, f"{self.changed}__lt": pending_before}
            ).values_list("pk", flat=True)
        )
        # Dated as sent now: a backlog that is merely slow is sent again once per
        # HUB_SWEEP_PENDING_AFTER, not on every sweep.
        rows.filter(pk__in=lost, **{self.status: self.pending}).update(**{self.changed: now})
        return sorted({*abandoned, *lost})


def backoff_seconds(retries: int) -> int:
    """2, 4, 8, 16, 32 seconds: long enough for a database or storage to come back."""
    return 2 ** (retries + 1)


def run_with_retries(task, job: JobRow, pk: int, work: Callable[[str], None]) -> None:
    """Run `work(task_id)`, the job on row `pk`, for a task; retry it with backoff on a
    transient error, and once the retries are used up, give the job up with the reason (its
    row then says ERROR, not RUNNING). The task id goes with the claim: a redelivery or a
    retry of the same message may take its RUNNING row back, another message may not."""
    try:
        work(task.request.id or "")
    except TRANSIENT_ERRORS as exc:
        if task.request.retries < task.max_retries:
            raise task.retry(exc=exc, countdown=backoff_seconds(task.request.retries)) from None
        _drop_broken_connections()
        tries = task.request.retries + 1
        job.give_up(pk, f"Gave up after {tries} tries; the last: {describe_error(exc)}")


def _drop_broken_connections() -> None:
    # After the database restarted, the old connection is dead; Django opens a new one on
    # the next query once it is closed. (Not inside a transaction: that is the caller's.)
    for connection in connections.all(initialized_only=True):
        if not connection.in_atomic_block:
            connection.close_if_unusable_or_obsolete()
