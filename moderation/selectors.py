"""Reads of the checks for the version page and its live-status endpoint."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime

from django.db.models import Count, OuterRef, Q, Subquery
from django.db.models.functions import TruncMonth
from django.utils import timezone
from django.utils.translation import gettext, pgettext

from models_hub.choices import JobStatus, Status
from models_hub.models import ModelVersion
from moderation.checks.findings import Severity
from moderation.models import KEEP_STATUS, CheckRun, ModerationAction, Rule


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
    # The rules' titles in the reader's language (a Japanese title not written yet: English).
    rules = {
        rule.code: rule.display_title for rule in Rule.objects.only("code", "title", "title_ja")
    }
    severity_labels = {
        Severity.INFO: pgettext("severity of a check finding", "Note"),
        Severity.HOLD: pgettext("severity of a check finding", "Held for staff"),
        Severity.BLOCK: pgettext("severity of a check finding", "Blocked"),
    }
    rows, credits = [], []
    for run in runs:
        findings = [
            {
                **f.as_json(),
                "rule_title": rules.get(str(f.rule), str(f.rule)),
                "severity_label": severity_labels[f.severity],
            }
            for f in run.finding_objects
        ]
        rows.append(
            CheckRow(
                id=run.pk,
                kind=run.kind,
                # The kinds' labels are only marked for translation (gettext_noop).
                label=gettext(run.get_kind_display()),
                target=(
                    gettext("Image %(number)s") % {"number": run.image_id}
                    if run.image_id
                    else gettext("Version")
                ),
                state=run.state,
                state_label=str(run.get_state_display()),
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
    return [
        Guideline(
            code=rule.code,
            title=rule.text("title", language),
            explanation=rule.text("explanation", language),
            examples=[
                line.strip()
                for line in rule.text("examples", language).splitlines()
                if line.strip()
            ],
            consequence=rule.text("consequence", language),
        )
        for rule in Rule.objects.order_by("position", "code")
    ]


# --- The transparency page and the notice on removed content ------------------------------

TRANSPARENCY_MONTHS = 12
ActionKind = ModerationAction.Kind
# What the transparency page calls each kind of decision, in English and Japanese. A kind
# missing here is shown with its own label.
KIND_LABELS = {
    "approve": ("Approved", "承認"),
    "approve_as": ("Approved with a changed rating", "レーティングを変更して承認"),
    "request_changes": ("Changes requested", "修正を依頼"),
    "unpublish": ("Unpublished", "非公開化"),
    "block": ("Blocked", "ブロック"),
    "dismiss": ("Dismissed (nothing changed)", "却下（変更なし）"),
    "accept": ("Takedown requests accepted", "削除申し立てを受理"),
    "reject": ("Takedown requests rejected", "削除申し立てを却下"),
    "overturn": ("Decisions overturned on appeal", "異議申し立てにより撤回"),
    "rate_images": ("Images rated or hidden", "画像のレーティング変更・非表示"),
    "mark_real_person": ("Marked as depicting a real person", "実在の人物として表示"),
    "suspend": ("Uploaders suspended", "投稿者の一時停止"),
    "ban": ("Uploaders banned", "投稿者の利用停止"),
}


@dataclass
class RuleCounts:
    code: str
    title: str
    counts: list[int]  # one per month of Transparency.months, in the same order
    total: int


@dataclass
class KindCount:
    kind: str
    label: str
    count: int


@dataclass
class Transparency:
    """Counts of moderator decisions, and nothing else: not who decided, nor about what."""

    months: list[date]  # the first day of each month, oldest first
    rules: list[RuleCounts]  # every rule, in position order
    month_totals: list[int]
    kinds: list[KindCount]
    total: int


def _month_starts(today: date, count: int) -> list[date]:
    """The first days of the `count` calendar months that end with today's, oldest first."""
    index = today.year * 12 + today.month - 1
    return [date(i // 12, i % 12 + 1, 1) for i in range(index - count + 1, index + 1)]


def transparency(language: str, now: datetime | None = None) -> Transparency:
    """Moderator decisions of the last 12 calendar months (this one included) per rule and
    month and per kind, in `language` ("en" or "ja"). Two queries however many decisions
    there are: the rules, and the decisions counted by the database, grouped by rule, month
    and kind. Months are those of the site's time zone (TIME_ZONE), on SQLite and PostgreSQL
    alike: TruncMonth truncates in the current time zone."""
    japanese = language == "ja"
    months = _month_starts(timezone.localdate(now), TRANSPARENCY_MONTHS)
    after = months[-1].year * 12 + months[-1].month  # the month after this one, as an index
    start = timezone.make_aware(datetime(months[0].year, months[0].month, 1))
    end = timezone.make_aware(datetime(after // 12, after % 12 + 1, 1))
    rules = list(Rule.objects.order_by("position", "code").only("code", "title", "title_ja"))
    grouped = (
        ModerationAction.objects.filter(created_at__gte=start, created_at__lt=end)
        .annotate(month=TruncMonth("created_at"))
        .values("rule_id", "month", "kind")
        .annotate(n=Count("id"))
        .order_by()  # the model's ordering must not split the groups
    )
    column = {(m.year, m.month): i for i, m in enumerate(months)}
    per_rule: dict[int, list[int]] = {rule.pk: [0] * len(months) for rule in rules}
    per_kind: dict[str, int] = dict.fromkeys(ActionKind.values, 0)
    for row in grouped:
        month = timezone.localtime(row["month"])
        i = column.get((month.year, month.month))
        if i is None or row["rule_id"] not in per_rule:
            continue
        per_rule[row["rule_id"]][i] += row["n"]
        per_kind[row["kind"]] = per_kind.get(row["kind"], 0) + row["n"]
    rows = [
        RuleCounts(
            code=rule.code,
            title=rule.text("title", language),
            counts=per_rule[rule.pk],
            total=sum(per_rule[rule.pk]),
        )
        for rule in rules
    ]
    month_totals = [sum(row.counts[i] for row in rows) for i in range(len(months))]
    return Transparency(
        months=months,
        rules=rows,
        month_totals=month_totals,
        kinds=[
            KindCount(
                kind=kind,
                label=KIND_LABELS.get(kind, (kind.label, kind.label))[japanese],
                count=per_kind[kind],
            )
            for kind in ActionKind
        ],
        total=sum(month_totals),
    )


@dataclass
class RemovalNotice:
    """What the public may know about content a moderator removed: the rule and the date."""

    rule_code: str
    rule_title: str
    decided_at: datetime


def removal_notice(
    model_id: int, version_id: int | None, language: str = "en"
) -> RemovalNotice | None:
    """Why a version the visitor cannot see is gone, when a moderator removed it: the rule
    and the date of the decision (the reason is for the owner only). Without `version_id`,
    the model's most recently removed version. One query.

    A version counts as removed while the latest decision about it is a block or an
    unpublishing and the version is still blocked or unpublished. Decisions that leave the
    status as it was (KEEP_STATUS: dismissals, rejections, side actions such as a
    suspension) do not count: a dismissed appeal leaves the removal standing.
    Only content that was public once: drafts, versions in review, deleted ones,
    never-published ones, those of a deleted model, and versions the checks blocked without
    a moderator's decision all give None (a plain 404)."""
    decisions = ModerationAction.objects.exclude(kind__in=KEEP_STATUS)
    latest = (
        decisions.filter(version=OuterRef("version")).order_by("-created_at", "-id").values("pk")
    )
    removals = decisions.filter(
        # An accepted takedown request blocks or unpublishes the version it names.
        Q(kind__in=[ActionKind.BLOCK, ActionKind.ACCEPT], version__status=Status.BLOCKED)
        | Q(kind__in=[ActionKind.UNPUBLISH, ActionKind.ACCEPT], version__status=Status.UNPUBLISHED),
        ~Q(version__model__status__in=[Status.DRAFT, Status.IN_REVIEW, Status.DELETED]),
        version__model_id=model_id,
        version__published_at__isnull=False,
        pk=Subquery(latest[:1]),
    )
    if version_id is not None:
        removals = removals.filter(version_id=version_id)
    action = (
        removals.select_related("rule")
        .only("created_at", "rule__code", "rule__title", "rule__title_ja")
        .order_by("-created_at", "-id")
        .first()
    )
    if action is None:
        return None
    rule = action.rule
    return RemovalNotice(
        rule_code=rule.code,
        rule_title=rule.text("title", language),
        decided_at=action.created_at,
    )
