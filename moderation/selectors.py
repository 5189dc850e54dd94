"""Reads of the checks for the version page and its live-status endpoint."""

from __future__ import annotations

from dataclasses import dataclass, field

from models_hub.choices import JobStatus
from models_hub.models import ModelVersion
from moderation.checks.findings import Severity
from moderation.models import CheckRun, Rule


@dataclass
class CheckRow:
    id: int
    kind: str
    label: str
    target: str
    state: str
    state_label: str
    error: str
    findings: list[dict] = field(default_factory=list)


@dataclass
class VersionChecks:
    rows: list[CheckRow]
    # Parents whose terms ask to be credited, for everyone who sees the version.
    credits: list[dict]

    @property
    def finished(self) -> bool:
        return all(row.state in (JobStatus.DONE, JobStatus.ERROR) for row in self.rows)

    def as_json(self) -> dict:
        return {
            "finished": self.finished,
            "runs": [row.__dict__ for row in self.rows],
            "credits": self.credits,
        }


def version_checks(version: ModelVersion) -> VersionChecks:
    runs = list(version.check_runs.order_by("image_id", "kind", "id"))
    rules = dict(Rule.objects.values_list("code", "title"))
    rows, credits = [], []
    for run in runs:
        findings = [
            {
                **f.as_json(),
                "rule_title": rules.get(str(f.rule), str(f.rule)),
                "severity_label": {
                    Severity.INFO: "Note",
                    Severity.HOLD: "Held for staff",
                    Severity.BLOCK: "Blocked",
                }[f.severity],
            }
            for f in run.finding_objects
        ]
        rows.append(
            CheckRow(
                id=run.pk,
                kind=run.kind,
                label=run.get_kind_display(),
                target=f"Image {run.image_id}" if run.image_id else "Version",
                state=run.state,
                state_label=run.get_state_display(),
                error=run.error,
                findings=findings,
            )
        )
        if run.kind == CheckRun.Kind.LICENSE:
            credits = _credits(run)
    return VersionChecks(rows=rows, credits=credits)


def _credits(license_run: CheckRun | None) -> list[dict]:
    if license_run is None or license_run.state != JobStatus.DONE:
        return []
    names = set(license_run.result.get("credits", []))
    return [p for p in license_run.result.get("parents", []) if p.get("parent") in names]


def version_credits(version: ModelVersion) -> list[dict]:
    """The parents a version must credit, for everyone who sees it (one query)."""
    return _credits(version.check_runs.filter(kind=CheckRun.Kind.LICENSE).first())


@dataclass
class Guideline:
    """One rule as the guidelines page shows it, already in the reader's language."""

    code: str
    title: str
    explanation: str
    examples: list[str]
    consequence: str


def guidelines(language: str) -> list[Guideline]:
    """Every rule in position order, in `language` ("en" or "ja"), in one query. A Japanese
    text that staff have not written yet falls back to the English one."""
    japanese = language == "ja"

    def text(rule: Rule, name: str) -> str:
        return (japanese and getattr(rule, f"{name}_ja")) or getattr(rule, name)

    return [
        Guideline(
            code=rule.code,
            title=text(rule, "title"),
            explanation=text(rule, "explanation"),
            examples=[line.strip() for line in text(rule, "examples").splitlines() if line.strip()],
            consequence=text(rule, "consequence"),
        )
        for rule in Rule.objects.order_by("position", "code")
    ]
