"""The moderation queue's lifecycle under random sequences of steps (a Hypothesis state machine).

Each example starts from the same small site: three moderators (one owns a held version, one a
published one), owners with published, held (checks' hold), blocked (checks' block) and draft
versions, two reporters and a stranger who owns nothing and never acts. The steps, in any order:
members report versions or members, moderators claim, release and act on items (with kinds that
fit the item or not, any rule, empty or real reasons), claims lapse, members appeal decisions
(their own or someone else's), checks find something new and the pipeline decides a version
again. `Refused` is the only exception a step may raise; anything else is a bug.

After every step these must hold:
- every closed item has an action that closed it, with a rule and a non-empty reason;
- the ModerationAction log only grows: no row seen before changes or disappears;
- no open item is claimed by a moderator who owns its content or made the decision under appeal;
- at most one open item per (source, version) and per (source, member);
- nothing blocked, unpublished, draft or in review (nor anything under a model that is not
  published) is visible to the stranger, and no image of a blocked version either;
- every appeal is its action's owner's, and there is at most one per action.
"""

from __future__ import annotations

from collections import Counter
from contextlib import suppress
from datetime import timedelta

import pytest
from django.conf import settings as django_settings
from django.db import transaction
from django.utils import timezone
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from community.models import User
from models_hub.choices import NsfwLevel, Status
from models_hub.models import GalleryImage, ModelVersion
from moderation import pipeline, queue, reports
from moderation.checks.findings import Finding, RuleCode, Severity
from moderation.models import Appeal, CheckRun, ModerationAction, QueueItem, Report, Rule
from tests.factories import UserFactory, published_model
from tests.moderation.test_queue import held_version, make_moderator

Kind = ModerationAction.Kind
HIDDEN = [Status.BLOCKED, Status.UNPUBLISHED, Status.DRAFT, Status.IN_REVIEW]
# Several real reasons against two empty ones: most actions should get past the reason check.
REASONS = ["", "   ", "It breaks the rule.", "Looks fine.", "The owner explained it."]
STATEMENTS = ["", "I made this myself.", "You got it wrong."]
LEVELS = [None, *queue.RATINGS, NsfwLevel.BLOCKED]
DAYS = [None, 1, 7, 30, 2]

# How a moderator acts, whoever it is and on whichever item.
ACT_ARGUMENTS = {
    "fitting": st.booleans(),  # a kind from allowed_actions(item), or any kind at all
    "code": st.sampled_from(list(RuleCode)),
    "reason": st.sampled_from(REASONS),
    "level": st.sampled_from(LEVELS),
    "days": st.sampled_from(DAYS),
    "with_images": st.booleans(),
}

N_MODERATORS = 3
N_VERSIONS = 6
N_MEMBERS = 8  # everyone but the stranger: moderators, owners, reporters


def _table_counts() -> dict[str, int]:
    return {
        model.__name__: model.objects.count()
        for model in (User, ModelVersion, QueueItem, ModerationAction, Appeal, Report, CheckRun)
    }


class QueueMachine(RuleBasedStateMachine):
    # The counts the test database has between examples (set by the test before running).
    baseline: dict[str, int] = {}

    def __init__(self) -> None:
        super().__init__()
        # Each example runs in a savepoint inside the test's transaction; teardown rolls it
        # back, so every example starts from the same database.
        self._atomic = transaction.atomic()
        self._atomic.__enter__()
        try:
            assert _table_counts() == self.baseline, "the last example left rows behind"
            self._make_site()
        except BaseException:
            self._rollback()
            raise
        self.log: dict[int, tuple] = {}

    def _make_site(self) -> None:
        self.moderators = [make_moderator(f"mod{n}") for n in range(N_MODERATORS)]
        self.owners = [UserFactory(username=f"owner{n}") for n in range(3)]
        self.reporters = [UserFactory(username=f"reporter{n}") for n in range(2)]
        self.stranger = UserFactory(username="stranger")
        self.members = [*self.moderators, *self.owners, *self.reporters]
        assert len(self.members) == N_MEMBERS
        mod0, mod1, _ = self.moderators
        owner0, owner1, owner2 = self.owners
        blocking = Finding(RuleCode.LIKENESS, Severity.BLOCK, "A face is a protected person's.")
        self.versions = [
            published_model(owner=owner0).versions.get(),
            held_version(owner=owner1),  # in review, with a check item
            held_version(owner=owner2, finding=blocking),  # blocked, with a check item
            held_version(owner=mod0),  # a moderator's own upload, held
            published_model(owner=mod1).versions.get(),  # a moderator's own, published
            published_model(owner=owner0, status=Status.DRAFT).versions.get(),
        ]
        assert len(self.versions) == N_VERSIONS
        assert [v.status for v in self.versions[1:3]] == [Status.IN_REVIEW, Status.BLOCKED]
        self.findings_added = 0

    def _rollback(self) -> None:
        transaction.set_rollback(True)
        self._atomic.__exit__(None, None, None)

    def teardown(self) -> None:
        self._rollback()

    # --- Choosing what exists now -----------------------------------------------------------

    @staticmethod
    def _item_ids(**filters) -> list[int]:
        # Newest first: sampled_from leans towards the start of the list, and the newest items
        # (appeals, fresh reports) are the ones random steps would otherwise rarely reach.
        items = QueueItem.objects.filter(**filters).order_by("-pk")
        return list(items.values_list("pk", flat=True))

    @staticmethod
    def _action_ids() -> list[int]:
        return list(ModerationAction.objects.order_by("-pk").values_list("pk", flat=True))

    # --- Steps ------------------------------------------------------------------------------

    @initialize()
    def start(self) -> None:
        # The site as made: only the checks' items, nothing claimed or decided yet.
        assert Counter(QueueItem.objects.values_list("source", "state")) == {("check", "open"): 3}

    @rule(
        reporter=st.integers(0, N_MEMBERS - 1),
        version=st.integers(0, N_VERSIONS - 1),
        code=st.sampled_from(list(RuleCode)),
        with_image=st.booleans(),
    )
    def report_version(self, reporter, version, code, with_image) -> None:
        target = self.versions[version]
        image = target.images.first() if with_image else None
        about = {"image": image} if image is not None else {"version": target}
        with suppress(queue.Refused):
            reports.report_create(
                reporter=self.members[reporter], rule=Rule.objects.get(code=code),
                details="See the sample images.", **about,
            )  # fmt: skip

    @rule(
        reporter=st.integers(0, N_MEMBERS - 1),
        member=st.integers(0, N_MEMBERS - 1),
        code=st.sampled_from(list(RuleCode)),
    )
    def report_member(self, reporter, member, code) -> None:
        with suppress(queue.Refused):
            reports.report_create(
                reporter=self.members[reporter], rule=Rule.objects.get(code=code),
                user=self.members[member], details="Spams the comments.",
            )  # fmt: skip

    # Closed items too: claiming one must be refused.
    @rule(data=st.data(), moderator=st.integers(0, N_MODERATORS - 1))
    def claim(self, data, moderator) -> None:
        item_id = data.draw(st.sampled_from(self._item_ids()), label="item")
        with suppress(queue.Refused):
            queue.item_claim(item_id=item_id, moderator=self.moderators[moderator])

    @rule(data=st.data(), moderator=st.integers(0, N_MODERATORS - 1))
    def release(self, data, moderator) -> None:
        item_id = data.draw(st.sampled_from(self._item_ids()), label="item")
        queue.item_release(item_id=item_id, moderator=self.moderators[moderator])

    @precondition(lambda self: QueueItem.objects.filter(claimed_by__isnull=False).exists())
    @rule(data=st.data())
    def claim_lapses(self, data) -> None:
        item_id = data.draw(st.sampled_from(self._item_ids(claimed_by__isnull=False)), label="item")
        lapsed = timezone.now() - timedelta(minutes=django_settings.HUB_QUEUE_CLAIM_MINUTES + 1)
        QueueItem.objects.filter(pk=item_id).update(claimed_at=lapsed)

    def _act(self, data, item, actor, fitting, code, reason, level, days, with_images) -> None:
        kinds = queue.allowed_actions(item) if fitting else list(Kind)
        kind = data.draw(st.sampled_from(kinds), label="kind")
        images = GalleryImage.objects.filter(version_id=item.version_id) if with_images else []
        with suppress(queue.Refused):
            queue.item_act(
                item_id=item.pk, moderator=actor, kind=kind, rule=Rule.objects.get(code=code),
                reason=reason, level=level, days=days, image_ids=[image.pk for image in images],
            )  # fmt: skip

    # Any moderator on any item, open or closed, claimed or not: mostly the refusals.
    @rule(data=st.data(), moderator=st.integers(0, N_MODERATORS - 1), **ACT_ARGUMENTS)
    def act(self, data, moderator, **arguments) -> None:
        item = QueueItem.objects.get(pk=data.draw(st.sampled_from(self._item_ids()), label="item"))
        self._act(data, item, self.moderators[moderator], **arguments)

    # The moderator who holds a claim acts on the item (the claim may have lapsed): random
    # moderators and items alone would rarely get this far.
    @precondition(
        lambda self: QueueItem.objects.filter(state="open", claimed_by__isnull=False).exists()
    )
    @rule(data=st.data(), **ACT_ARGUMENTS)
    def act_on_claim(self, data, **arguments) -> None:
        claimed = self._item_ids(state=QueueItem.State.OPEN, claimed_by__isnull=False)
        item = QueueItem.objects.select_related("claimed_by").get(
            pk=data.draw(st.sampled_from(claimed), label="item")
        )
        self._act(data, item, item.claimed_by, **arguments)

    # The usual workflow in one step: claim an open item, then take one of its actions.
    @precondition(lambda self: QueueItem.objects.filter(state="open").exists())
    @rule(
        data=st.data(),
        moderator=st.integers(0, N_MODERATORS - 1),
        **{**ACT_ARGUMENTS, "fitting": st.just(True)},
    )
    def claim_and_act(self, data, moderator, **arguments) -> None:
        self._claim_and_act(data, self._item_ids(state=QueueItem.State.OPEN), moderator, arguments)

    # An appeal decided by a random moderator, who may be the one whose decision it is or the
    # owner (refused). Appeals come late in a run, so they get a rule of their own.
    @precondition(lambda self: QueueItem.objects.filter(state="open", source="appeal").exists())
    @rule(
        data=st.data(),
        moderator=st.integers(0, N_MODERATORS - 1),
        **{**ACT_ARGUMENTS, "fitting": st.just(True)},
    )
    def decide_appeal(self, data, moderator, **arguments) -> None:
        appeals = self._item_ids(state=QueueItem.State.OPEN, source=QueueItem.Source.APPEAL)
        self._claim_and_act(data, appeals, moderator, arguments)

    def _claim_and_act(self, data, item_ids, moderator, arguments) -> None:
        item = QueueItem.objects.get(pk=data.draw(st.sampled_from(item_ids), label="item"))
        actor = self.moderators[moderator]
        try:
            queue.item_claim(item_id=item.pk, moderator=actor)
        except queue.Refused:
            return
        self._act(data, item, actor, **arguments)

    @precondition(lambda self: ModerationAction.objects.exists())
    @rule(
        data=st.data(),
        by_owner=st.booleans(),
        member=st.integers(0, N_MEMBERS - 1),
        statement=st.sampled_from(STATEMENTS),
    )
    def appeal(self, data, by_owner, member, statement) -> None:
        action_id = data.draw(st.sampled_from(self._action_ids()), label="action")
        action = ModerationAction.objects.select_related("owner").get(pk=action_id)
        appellant = action.owner if by_owner and action.owner else self.members[member]
        with suppress(queue.Refused):
            queue.appeal_create(action=action, appellant=appellant, statement=statement)

    @rule(version=st.integers(0, N_VERSIONS - 1))
    def decide_again(self, version) -> None:
        pipeline.version_decide(version_id=self.versions[version].pk)

    @rule(version=st.integers(0, N_VERSIONS - 1), block=st.booleans())
    def new_finding(self, version, block) -> None:
        """A check finds something staff have not seen (a new protected person); the pipeline
        decides again and holds or blocks the version, published or not."""
        target = self.versions[version]
        run, _ = CheckRun.objects.get_or_create(
            kind=CheckRun.Kind.TEXT_LIKENESS, version=target, image=None,
            defaults={"state": "done"},
        )  # fmt: skip
        self.findings_added += 1
        severity = Severity.BLOCK if block else Severity.HOLD
        found = Finding(
            RuleCode.LIKENESS, severity, f"The text names person {self.findings_added}."
        )
        run.findings = [*run.findings, found.as_json()]
        run.save(update_fields=["findings"])
        pipeline.version_decide(version_id=target.pk)

    # --- Invariants -------------------------------------------------------------------------

    @invariant()
    def closed_items_were_decided(self) -> None:
        closed = QueueItem.objects.filter(state=QueueItem.State.CLOSED)
        assert not closed.filter(closed_at__isnull=True).exists()
        # A side action (rate images, suspend, ...) leaves its item open: it closed nothing.
        decisions = ModerationAction.objects.exclude(kind__in=queue.SIDE_ACTIONS).filter(
            item__in=closed
        )
        decided = {
            item_id
            for item_id, rule_id, reason in decisions.values_list("item_id", "rule_id", "reason")
            if rule_id and reason.strip()
        }
        undecided = set(closed.values_list("pk", flat=True)) - decided
        assert not undecided, f"items {undecided} were closed without a rule and a reason"

    @invariant()
    def the_log_only_grows(self) -> None:
        now = {
            row[0]: row[1:]
            for row in ModerationAction.objects.values_list(
                "pk", "kind", "rule_id", "reason", "moderator_id", "item_id", "version_id",
                "owner_id", "details",
            )
        }  # fmt: skip
        for pk, row in self.log.items():
            assert now.get(pk) == row, f"action {pk} changed or disappeared: {row} -> {now.get(pk)}"
        self.log = now

    @invariant()
    def no_claim_by_an_owner_or_the_appealed_moderator(self) -> None:
        claimed = QueueItem.objects.filter(state=QueueItem.State.OPEN, claimed_by__isnull=False)
        for pk, moderator_id, version_owner_id, member_id, excluded_id in claimed.values_list(
            "pk", "claimed_by_id", "version__model__owner_id", "target_user_id",
            "excluded_moderator_id",
        ):  # fmt: skip
            owner_id = version_owner_id or member_id
            assert moderator_id != owner_id, f"item {pk} is claimed by its owner"
            assert moderator_id != excluded_id, (
                f"item {pk} is claimed by the moderator whose decision is appealed"
            )

    @invariant()
    def one_open_item_per_thing_and_source(self) -> None:
        # The thing an item is about: its version, or else the member reported.
        things = Counter(
            (source, ("version", version_id) if version_id else ("member", member_id))
            for source, version_id, member_id in QueueItem.objects.filter(
                state=QueueItem.State.OPEN
            ).values_list("source", "version_id", "target_user_id")
        )
        assert max(things.values(), default=1) == 1, things

    @invariant()
    def hidden_content_is_not_visible_to_a_stranger(self) -> None:
        # Worked out here from the rows, not with the visibility filter under test.
        statuses = ModelVersion.objects.values_list("pk", "status", "model__status")
        hidden = {pk for pk, status, model_status in statuses
                  if status in HIDDEN or model_status != Status.PUBLISHED}  # fmt: skip
        blocked = {pk for pk, status, _ in statuses if status == Status.BLOCKED}
        visible = set(ModelVersion.objects.visible_to(self.stranger).values_list("pk", flat=True))
        assert not visible & hidden, f"versions {visible & hidden} are visible to a stranger"
        images = GalleryImage.objects.visible_to(self.stranger).values_list("pk", "version_id")
        leaked = {pk for pk, version_id in images if version_id in blocked}
        assert not leaked, f"images {leaked} of blocked versions are visible to a stranger"

    @invariant()
    def appeals_are_their_owners_and_one_per_action(self) -> None:
        appeals = list(Appeal.objects.select_related("action"))
        for appeal in appeals:
            assert appeal.appellant_id == appeal.action.owner_id, appeal
        per_action = Counter(appeal.action_id for appeal in appeals)
        assert max(per_action.values(), default=1) == 1, per_action


@pytest.mark.django_db
def test_the_queue_keeps_its_invariants_under_random_steps():
    QueueMachine.baseline = _table_counts()
    run_state_machine_as_test(
        QueueMachine,
        settings=settings(
            # Bounded for CI: 12-14 s on SQLite and 20-25 s on PostgreSQL on two cores.
            # derandomize: every run tries the same sequences, so CI is deterministic and a
            # failure reproduces locally (changing this file changes the sequences).
            max_examples=40,
            stateful_step_count=25,
            derandomize=True,
            database=None,  # nothing to replay: the same sequences run every time
            deadline=None,  # database steps vary in time; a deadline would be flaky
            suppress_health_check=[HealthCheck.too_slow],
        ),
    )
    # The last example's savepoint was rolled back too.
    assert _table_counts() == QueueMachine.baseline
