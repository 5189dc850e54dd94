"""Decides what happens to a version once its checks are in: publish, hold for staff, block.

Called after every check, hash, scan and thumbnail finishes; it does nothing until all of a
version's work is done, and deciding twice gives the same answer.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from models_hub.choices import JobStatus, NsfwLevel, ScanResult, Status
from models_hub.models import GalleryImage, ModelVersion, files_state
from moderation.checks.findings import Finding, Level, RuleCode, Severity
from moderation.models import CheckRun, QueueItem, Rule, rule_url

CHECK_RULES = {
    CheckRun.Kind.LICENSE: RuleCode.LICENSE,
    CheckRun.Kind.TEXT_LIKENESS: RuleCode.LIKENESS,
    CheckRun.Kind.NSFW: RuleCode.SEXUAL_CONTENT,
    CheckRun.Kind.LIKENESS: RuleCode.LIKENESS,
}


class Decision:
    WAITING = "waiting"
    PUBLISH = "publish"
    HOLD = "hold"
    BLOCK = "block"


@dataclass
class Outcome:
    decision: str
    findings: list[Finding]
    level: int  # the version's: the OR of its images' levels, or what its creator declared
    image_levels: dict[int, int]  # image id -> level from its NSFW check

    @property
    def deciding(self) -> list[Finding]:
        """The findings that caused a hold or block, worst first."""
        worst = Severity.BLOCK if self.decision == Decision.BLOCK else Severity.HOLD
        return [f for f in self.findings if f.severity == worst]


def _is_finished(version: ModelVersion, runs: list[CheckRun]) -> bool:
    files = files_state(version.files.all())
    if files.quarantined:
        return True  # a quarantined file blocks whatever the rest says
    if files.processing:
        return False
    if any(
        i.process_status in (JobStatus.PENDING, JobStatus.RUNNING) for i in version.images.all()
    ):
        return False
    return all(run.state in (JobStatus.DONE, JobStatus.ERROR) for run in runs)


def _file_findings(version: ModelVersion) -> list[Finding]:
    findings = []
    for f in version.files.all():
        if f.scan_result == ScanResult.DANGER:
            found = ", ".join(f.scan_globals[:5]) or "see the scan"
            findings.append(
                Finding(
                    RuleCode.MALWARE,
                    Severity.BLOCK,
                    f"{f.name} would run code when loaded ({found}). "
                    "It was quarantined and can never be downloaded. Upload it as .safetensors.",
                    evidence={"file_id": f.pk, "globals": f.scan_globals[:50]},
                )
            )
        elif f.scan_result == ScanResult.ERROR or f.hash_status == JobStatus.ERROR:
            findings.append(
                Finding(
                    RuleCode.MALWARE,
                    Severity.HOLD,
                    f"{f.name} could not be checked ({(f.scan_message or f.hash_error)[:200]}). "
                    "Staff will look at it.",
                    evidence={"file_id": f.pk},
                )
            )
    for image in version.images.all():
        if image.process_status != JobStatus.ERROR:
            continue
        findings.append(
            Finding(
                RuleCode.SEXUAL_CONTENT,
                Severity.HOLD,
                f"Image {image.pk} could not be processed ({image.process_error[:200]}). "
                "Staff will look at it.",
                evidence={"image_id": image.pk},
            )
        )
    return findings


def _image_levels(version: ModelVersion, runs: list[CheckRun]) -> dict[int, int]:
    """Each image's level: a moderator's rating where there is one, else its NSFW check's."""
    levels = {
        run.image_id: int(run.result.get("level") or Level.PG)
        for run in runs
        if run.kind == CheckRun.Kind.NSFW and run.state == JobStatus.DONE
    }
    for image in version.images.all():
        if image.staff_nsfw_level is not None:
            levels[image.pk] = image.staff_nsfw_level
    return levels


def evaluate(version: ModelVersion, runs: list[CheckRun]) -> Outcome:
    """The decision from the findings of every check, with the rules that combine them."""
    findings = _file_findings(version)
    levels = _image_levels(version, runs)
    version_level = NsfwLevel.combine(levels.values())
    explicit = Level.R | Level.X | Level.XXX
    for run in runs:
        if run.state == JobStatus.ERROR:
            findings.append(
                Finding(
                    CHECK_RULES[run.kind],
                    Severity.HOLD,
                    f"The {run.get_kind_display().lower()} check could not finish "
                    f"({run.error[:200]}). Staff will look at it.",
                    evidence={"check_run_id": run.pk},
                )
            )
        for finding in run.finding_objects:
            image_level = levels.get(run.image_id, 0) if run.image_id else version_level
            if (
                finding.rule == RuleCode.LIKENESS
                and finding.severity == Severity.HOLD
                and image_level & explicit
            ):
                # A real person together with sexual content: never published.
                finding = Finding(
                    finding.rule,
                    Severity.BLOCK,
                    finding.message.replace("Staff will look at it.", "")
                    + "Sexual content depicting a real person is not allowed.",
                    finding.score,
                    {**finding.evidence, "level": image_level},
                )
            findings.append(finding)
    reviewed = set(version.staff_reviewed)
    findings = [
        Finding(f.rule, Severity.INFO, f.message, f.score, {**f.evidence, "reviewed": True})
        # A quarantined file stays blocked whatever anyone decided.
        if f.severity != Severity.INFO and f.rule != RuleCode.MALWARE and f.key in reviewed
        else f
        for f in findings
    ]
    if version.depicts_real_person and version_level & explicit:
        findings.append(
            Finding(
                RuleCode.LIKENESS,
                Severity.BLOCK,
                "A moderator found that this version depicts a real person, and its images "
                f"are rated {'/'.join(NsfwLevel.labels_for(version_level & explicit))}. Sexual "
                "content depicting a real person is not allowed.",
                evidence={"depicts_real_person": True, "level": version_level},
            )
        )
    declared = version.declared_nsfw_level or NsfwLevel.PG
    if levels and (version_level & explicit) and not (declared & explicit):
        findings.append(
            Finding(
                RuleCode.SEXUAL_CONTENT,
                Severity.INFO,
                "The model was marked safe, but its images are rated "
                f"{'/'.join(NsfwLevel.labels_for(version_level & explicit))}. The rating was "
                "corrected; please rate your uploads yourself.",
                evidence={"declared": declared, "rated": version_level},
            )
        )
    worst = max((f.severity.rank for f in findings), default=-1)
    decision = (
        Decision.BLOCK
        if worst == Severity.BLOCK.rank
        else Decision.HOLD
        if worst == Severity.HOLD.rank
        else Decision.PUBLISH
    )
    return Outcome(decision, findings, version_level or declared, levels)


def _queue_item(version: ModelVersion, outcome: Outcome) -> None:
    deciding = outcome.deciding
    if any(f.rule == RuleCode.MINORS for f in deciding):
        rule_code, priority = RuleCode.MINORS, QueueItem.Priority.TOP
    elif outcome.decision == Decision.BLOCK:
        rule_code, priority = deciding[0].rule, QueueItem.Priority.HIGH
    else:
        rule_code, priority = deciding[0].rule, QueueItem.Priority.NORMAL
    QueueItem.objects.update_or_create(
        source=QueueItem.Source.CHECK,
        version=version,
        state=QueueItem.State.OPEN,
        defaults={
            "rule": Rule.objects.get(code=rule_code),
            "priority": priority,
            "reason": " ".join(f.message for f in deciding)[:5000],
            "findings": [f.as_json() for f in outcome.findings],
        },
    )


def version_decide(*, version_id: int) -> str:
    """Apply the pipeline's decision to a version whose work is all done."""
    from models_hub.services import version_publish

    with transaction.atomic():
        version = (
            ModelVersion.objects.select_for_update()
            .filter(pk=version_id)
            .exclude(status=Status.DELETED)
            # Files and images are read once here, by every step below.
            .prefetch_related("files", "images")
            .first()
        )
        if version is None:
            return Decision.WAITING
        runs = list(version.check_runs.all())
        if not _is_finished(version, runs):
            return Decision.WAITING
        outcome = evaluate(version, runs)
        previous_decision = version.decision
        for image in version.images.all():
            level = outcome.image_levels.get(image.pk)
            if level is not None and level != image.nsfw_level:
                GalleryImage.objects.filter(pk=image.pk).update(nsfw_level=level)
        version.nsfw_level = outcome.level
        version.decision = outcome.decision
        version.decided_at = timezone.now()
        reasons = " ".join(f.message for f in outcome.deciding)
        if outcome.decision == Decision.BLOCK:
            version.status = Status.BLOCKED
            version.publish_requested = False
            version.hold_reason = f"Blocked: {reasons}"
            _queue_item(version, outcome)
        elif outcome.decision == Decision.HOLD:
            if version.status == Status.PUBLISHED:
                version.status = Status.IN_REVIEW  # taken down until staff look
            version.hold_reason = f"Held for staff: {reasons}"
            _queue_item(version, outcome)
        elif version.status in (Status.IN_REVIEW, Status.PUBLISHED):
            # Only the pipeline's own hold is lifted: a staff decision's reason stays.
            version.hold_reason = ""
        version.save(
            update_fields=["nsfw_level", "decision", "decided_at", "status",
                           "publish_requested", "hold_reason"]
        )  # fmt: skip
        if outcome.decision in (Decision.HOLD, Decision.BLOCK) and (
            outcome.decision != previous_decision
        ):
            _tell_owner(version, outcome)
        if (
            outcome.decision == Decision.PUBLISH
            and version.publish_requested
            and version.status == Status.IN_REVIEW
        ):
            version_publish(version=version)
        elif version.status != Status.DRAFT:
            from models_hub.services import model_refresh_derived

            model_refresh_derived(model=version.model)
        return outcome.decision


def _tell_owner(version: ModelVersion, outcome: Outcome) -> None:
    """Once per new hold or block (deciding again with the same outcome says nothing)."""
    from community.services import notify

    rules = dict(Rule.objects.values_list("code", "title"))
    lines = [
        f"- {finding.message} (rule: {rules.get(str(finding.rule), finding.rule)}, "
        f"{rule_url(finding.rule)})"
        for finding in outcome.deciding
    ]
    name = str(version)
    if outcome.decision == Decision.BLOCK:
        title = f"Blocked: {name}"
        intro = "Our checks blocked this version; it is not shown to anyone but you and staff."
    else:
        title = f"Held for review: {name}"
        intro = "Our checks hold this version until a moderator has looked at it."
    notify(
        user=version.model.owner,
        title=title,
        body="\n".join([intro, "", *lines, "", "A moderator will look at it; you will be told "
                         "the decision, and you can appeal it."]),
        url=version.get_absolute_url(),
    )  # fmt: skip


def decide_forgotten_versions() -> int:
    """Decide versions whose work is done but whose decision was never made (the broker lost
    the message of their last job after it finished). Returns how many were looked at."""
    waiting_since = timezone.now() - timedelta(seconds=settings.HUB_SWEEP_PENDING_AFTER)
    version_ids = list(
        ModelVersion.objects.filter(
            status=Status.IN_REVIEW,
            publish_requested=True,
            decided_at__isnull=True,
            updated_at__lt=waiting_since,
        ).values_list("pk", flat=True)[:1000]
    )
    for version_id in version_ids:
        version_decide(version_id=version_id)
    return len(version_ids)
