"""The moderation queue's lifecycle, as an explicit state machine:

    open ──claim──▶ claimed by M ──act (by M)──▶ closed
      ▲                  │
      └── release, or the claim lapses (HUB_QUEUE_CLAIM_MINUTES)

A claim is one conditional UPDATE, so two moderators never hold one item. An action locks the
item (select_for_update) and needs the actor's live claim. Every action names a rule and a
reason, is written to the append-only ModerationAction log, changes the content, and tells
its owner what happened and why.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.urls import reverse
from django.utils import timezone
from django.utils.translation import gettext as _

from community.services import notify
from models_hub.api.answers import public_content_changed
from models_hub.choices import NsfwLevel, Status
from models_hub.models import GalleryImage, ModelVersion
from moderation import pipeline, takedowns
from moderation.checks.findings import Finding, RuleCode
from moderation.models import SIDE_ACTIONS, Appeal, ModerationAction, QueueItem, Rule, rule_url
from moderation.permissions import is_moderator

Kind = ModerationAction.Kind
RATINGS = NsfwLevel.viewable()
SUSPENSION_DAYS = (1, 7, 30)


class Refused(Exception):
    """The transition is not allowed; the message tells the moderator why."""


def _claim_lapses_before(now):
    return now - timedelta(minutes=settings.HUB_QUEUE_CLAIM_MINUTES)


def claim_is_live(item: QueueItem, moderator, now=None) -> bool:
    now = now or timezone.now()
    return (
        item.claimed_by_id == moderator.pk
        and item.claimed_at is not None
        and item.claimed_at >= _claim_lapses_before(now)
    )


def allowed_actions(item: QueueItem) -> list[str]:
    """What a moderator may do with an item. A check's hold is resolved by a decision on
    the content; dismissing (no change) is for reports, appeals and takedown requests.
    Reports about a member (no content) can only be dismissed for now."""
    if item.source == QueueItem.Source.TAKEDOWN:
        actions = [Kind.ACCEPT, Kind.REJECT]
    elif item.version_id is None:
        actions = [Kind.DISMISS]
    else:
        actions = [Kind.APPROVE, Kind.APPROVE_AS, Kind.REQUEST_CHANGES, Kind.UNPUBLISH, Kind.BLOCK]
        if item.source != QueueItem.Source.CHECK:
            actions.append(Kind.DISMISS)
    if item.source == QueueItem.Source.APPEAL:
        # Undo the decision under appeal, whatever it was (a suspension, a rating, a block).
        actions.append(Kind.OVERTURN)
    if item.version_id is not None:
        actions += [Kind.RATE_IMAGES, Kind.MARK_REAL_PERSON]
    if item.version_id is not None or item.target_user_id is not None:
        actions += [Kind.SUSPEND, Kind.BAN]
    return actions


def not_yours_to_decide(item: QueueItem, moderator) -> str:
    """Why this moderator may not take this item, or ""."""
    owner_id = item.version.model.owner_id if item.version else item.target_user_id
    if owner_id == moderator.pk:
        return _("This is your own content: another moderator must decide it.")
    if item.excluded_moderator_id == moderator.pk:
        return _("You made the decision under appeal: another moderator must decide it.")
    return ""


def item_claim(*, item_id: int, moderator) -> None:
    item = QueueItem.objects.select_related("version__model").filter(pk=item_id).first()
    if item is not None and (why := not_yours_to_decide(item, moderator)):
        raise Refused(why)
    now = timezone.now()
    # Conditions on the row's own columns only: PostgreSQL re-checks them on the newest row
    # after waiting for a concurrent claim's lock, so of two claims at once one matches
    # nothing. (A filter through a join becomes "id IN (subquery)", which is not re-checked.)
    taken = (
        QueueItem.objects.filter(pk=item_id, state=QueueItem.State.OPEN)
        .filter(
            Q(claimed_by__isnull=True)
            | Q(claimed_by=moderator)
            | Q(claimed_at__lt=_claim_lapses_before(now))
        )
        .update(claimed_by=moderator, claimed_at=now)
    )
    if not taken:
        raise Refused(_why_not_claimable(item_id))


def _why_not_claimable(item_id: int) -> str:
    item = QueueItem.objects.select_related("claimed_by").filter(pk=item_id).first()
    if item is None or item.state != QueueItem.State.OPEN:
        return _("This item is closed already.")
    return _("%(moderator)s is working on this item.") % {"moderator": item.claimed_by}


def item_release(*, item_id: int, moderator) -> None:
    QueueItem.objects.filter(pk=item_id, state=QueueItem.State.OPEN, claimed_by=moderator).update(
        claimed_by=None, claimed_at=None
    )


@transaction.atomic
def item_act(
    *,
    item_id: int,
    moderator,
    kind: str,
    rule: Rule,
    reason: str,
    level: int | None = None,
    days: int | None = None,
    image_ids: list[int] = (),
) -> ModerationAction:
    """Decide an item: change the content, log the action, close the item, tell the owner.
    Side actions (rate some images, suspend or ban the uploader) leave the item open."""
    # The version is locked before the item, in the order the pipeline locks them (the
    # version, then its queue item), so that the two never wait on each other.
    version_id = QueueItem.objects.filter(pk=item_id).values_list("version_id", flat=True).first()
    if version_id is not None:
        ModelVersion.objects.select_for_update().filter(pk=version_id).exists()
    item = (
        QueueItem.objects.select_for_update(of=("self",))
        .select_related("version__model__owner", "target_user")
        .filter(pk=item_id)
        .first()
    )
    if item is None or item.state != QueueItem.State.OPEN:
        raise Refused(_("This item is closed already."))
    version = item.version
    owner = version.model.owner if version else item.target_user
    if why := not_yours_to_decide(item, moderator):
        raise Refused(why)
    if not claim_is_live(item, moderator):
        raise Refused(_("Claim the item first: another moderator may be working on it."))
    if kind not in allowed_actions(item):
        raise Refused(
            _("“%(action)s” is not an action for this item.")
            % {"action": dict(Kind.choices).get(kind, kind)}
        )
    reason = (reason or "").strip()
    if not reason:
        raise Refused(_("Give a reason: the owner is shown it."))
    if kind == Kind.APPROVE_AS and level not in RATINGS:
        raise Refused(_("Choose the rating to approve it with."))
    if kind in SIDE_ACTIONS:
        details = _side_action(kind, item, owner, moderator, level, days, image_ids)
    elif kind == Kind.OVERTURN:
        details = _overturn(item, reason)
    elif kind in (Kind.ACCEPT, Kind.REJECT):
        details = takedowns.settle(item, accept=kind == Kind.ACCEPT, reason=reason)
        if kind == Kind.ACCEPT and version:
            # A person's likeness comes down for good; a license dispute can be fixed.
            effect = Kind.BLOCK if item.rule.code == RuleCode.LIKENESS else Kind.UNPUBLISH
            details.update(_apply(effect, item, version, reason, None), effect=effect)
    else:
        details = _apply(kind, item, version, reason, level) if version else {}
    action = ModerationAction.objects.create(
        kind=kind, rule=rule, reason=reason, details=details, moderator=moderator,
        item=item, version=version, owner=owner,
    )  # fmt: skip
    # Some decisions write with UPDATE, which sends no signal (_rate, _overturn).
    public_content_changed()
    if kind in SIDE_ACTIONS:
        if kind in (Kind.SUSPEND, Kind.BAN, Kind.MARK_REAL_PERSON):
            _tell_owner(owner, action)
        return action
    item.state = QueueItem.State.CLOSED
    item.closed_at = timezone.now()
    item.save(update_fields=["state", "closed_at", "updated_at"])
    appeal = _settle_appeal(item, action) if item.source == QueueItem.Source.APPEAL else None
    if appeal is not None:
        _tell_appellant(appeal, action)
    elif owner is not None and kind not in (Kind.DISMISS, Kind.REJECT):
        # (A dismissed report or a rejected request changed nothing the owner must know.)
        _tell_owner(owner, action)
    if item.source == QueueItem.Source.REPORT:
        _tell_reporters(item, action)
    return action


def _apply(kind: str, item: QueueItem, version: ModelVersion, reason: str, level) -> dict:
    from models_hub.services import model_refresh_derived, version_publish

    version = ModelVersion.objects.select_for_update().get(pk=version.pk)
    details = {"status_before": version.status}
    # Whatever staff decided, the findings they decided on do not hold the version again
    # when the pipeline re-runs (a late check, a registry rescan); new findings do.
    version.staff_reviewed = sorted(
        {*version.staff_reviewed, *(Finding.from_json(f).key for f in item.findings)}
    )
    version.save(update_fields=["staff_reviewed"])
    if kind in (Kind.APPROVE, Kind.APPROVE_AS):
        if kind == Kind.APPROVE_AS:
            version.nsfw_level = level
            _rate(version.images.exclude(nsfw_level=NsfwLevel.BLOCKED), level)  # hidden stay so
            details["level"] = level
        version.decision = "publish"
        version.hold_reason = ""
        version.save(update_fields=["nsfw_level", "decision", "hold_reason"])
        if version.status != Status.DRAFT or version.publish_requested:
            try:
                version_publish(version=version, allow_unchecked=True)
            except ValidationError as exc:
                raise Refused(" ".join(exc.messages)) from None
    elif kind == Kind.REQUEST_CHANGES:
        version.status = Status.DRAFT
        version.publish_requested = False
        version.hold_reason = f"Changes requested by staff: {reason}"
        version.save(update_fields=["status", "publish_requested", "hold_reason"])
    elif kind in (Kind.UNPUBLISH, Kind.BLOCK):
        version.status = Status.UNPUBLISHED if kind == Kind.UNPUBLISH else Status.BLOCKED
        version.publish_requested = False
        verb = "Unpublished" if kind == Kind.UNPUBLISH else "Blocked"
        version.hold_reason = f"{verb} by staff: {reason}"
        version.decision = "block" if kind == Kind.BLOCK else version.decision
        version.save(update_fields=["status", "publish_requested", "hold_reason", "decision"])
    if details["status_before"] == Status.PUBLISHED or version.status == Status.PUBLISHED:
        model_refresh_derived(model=version.model)
    details["status_after"] = version.status
    return details


def _side_action(kind, item, owner, moderator, level, days, image_ids) -> dict:

    if kind == Kind.RATE_IMAGES:
        if level not in [*RATINGS, NsfwLevel.BLOCKED]:
            raise Refused(_("Choose the rating for the selected images (or hide them)."))
        images = GalleryImage.objects.filter(version=item.version, pk__in=list(image_ids))
        chosen = sorted(images.values_list("pk", flat=True))
        if not chosen:
            raise Refused(_("Select the images to rate."))
        _rate(images, level)
        # The pipeline works out the version's level from its images, as after any check,
        # and so also blocks a version marked as a real person that is now rated R or above.
        transaction.on_commit(lambda: pipeline.version_decide(version_id=item.version_id))
        return {"images": chosen, "level": level}
    if kind == Kind.MARK_REAL_PERSON:
        ModelVersion.objects.filter(pk=item.version_id).update(depicts_real_person=True)
        # With the mark, the pipeline blocks it if it is (or becomes) rated R or above.
        transaction.on_commit(lambda: pipeline.version_decide(version_id=item.version_id))
        return {"depicts_real_person": True}
    if owner.is_superuser or owner.is_staff or is_moderator(owner):
        raise Refused(_("Staff and moderators are suspended or banned by an administrator."))
    if kind == Kind.SUSPEND:
        if days not in SUSPENSION_DAYS:
            raise Refused(_("Choose how long the suspension lasts."))
        owner.suspended_until = timezone.now() + timedelta(days=days)
        owner.save(update_fields=["suspended_until"])
        return {"days": days, "until": owner.suspended_until.isoformat()}
    # A ban: no more signing in, and the visibility querysets hide everything of a closed
    # account (lifting the ban shows it again as it was).
    owner.is_active = False
    owner.save(update_fields=["is_active"])
    return {}


def _rate(images, level: int) -> None:
    """A moderator's rating of some images: kept as the pipeline's input, shown at once."""
    images.update(staff_nsfw_level=level, nsfw_level=level)


def _overturn(item: QueueItem, reason: str) -> dict:
    """Undo the decision an appeal is about."""
    appeal = Appeal.objects.select_related("action__owner").filter(item=item).first()
    if appeal is None:
        raise Refused(_("Only an appeal can be overturned."))
    appealed = appeal.action
    details = {"overturned": appealed.pk}
    version_id = appealed.version_id
    if appealed.kind == Kind.SUSPEND:
        type(appealed.owner).objects.filter(pk=appealed.owner_id).update(suspended_until=None)
    elif appealed.kind == Kind.BAN:
        type(appealed.owner).objects.filter(pk=appealed.owner_id).update(is_active=True)
    elif appealed.kind == Kind.MARK_REAL_PERSON:
        ModelVersion.objects.filter(pk=version_id).update(depicts_real_person=False)
    elif appealed.kind in (Kind.RATE_IMAGES, Kind.APPROVE_AS):
        images = GalleryImage.objects.filter(version_id=version_id)
        if appealed.kind == Kind.RATE_IMAGES:
            images = images.filter(pk__in=appealed.details.get("images", []))
        images.update(staff_nsfw_level=None)
    elif item.version is not None:  # a block, an unpublishing, a request for changes
        details.update(_apply(Kind.APPROVE, item, item.version, reason, None))
        version_id = None  # published: nothing left for the pipeline to redo
    if version_id is not None:
        # The check's own ratings and findings take over again.
        transaction.on_commit(lambda: pipeline.version_decide(version_id=version_id))
    return details


OWNER_TITLES = {
    Kind.APPROVE: "Approved: {name}",
    Kind.APPROVE_AS: "Approved with a rating: {name}",
    Kind.REQUEST_CHANGES: "Changes requested: {name}",
    Kind.UNPUBLISH: "Unpublished: {name}",
    Kind.BLOCK: "Blocked: {name}",
    Kind.ACCEPT: "Taken down after a request: {name}",
    Kind.MARK_REAL_PERSON: "Marked as depicting a real person: {name}",
    Kind.SUSPEND: "Your account is suspended",
    Kind.BAN: "Your account is closed",
}


def _tell_owner(owner, action: ModerationAction) -> None:
    version = action.version
    name = str(version) if version else "your content"
    rule = action.rule
    body = (
        f"A moderator decided: {action.get_kind_display().lower()}.\n"
        f"Rule: {rule.title} ({rule_url(rule.code)})\n"
        f"Reason: {action.reason}"
    )
    if "level" in action.details:
        body += f"\nRating: {NsfwLevel(action.details['level']).label}"
    if action.kind == Kind.SUSPEND:
        body += (
            f"\nUntil: {action.details['until'][:16].replace('T', ' ')} UTC. You can still sign "
            "in, read and appeal; new uploads wait until then."
        )
    if action.kind == Kind.BAN:
        body += "\nYou can no longer sign in, and your models are no longer public."
    elif action.kind != Kind.APPROVE:
        appeal_url = reverse("moderation:appeal", args=[action.pk])
        body += (
            f"\n\nIf you think this is wrong, you can appeal once: {settings.SITE_URL}{appeal_url}"
        )
    url = version.get_absolute_url() if version else ""
    notify(user=owner, title=OWNER_TITLES[action.kind].format(name=name), body=body, url=url)


# --- Appeals ------------------------------------------------------------------------------


def appeal_create(*, action: ModerationAction, appellant, statement: str) -> Appeal:
    """The owner's one appeal of a decision; it goes to the queue for another moderator."""
    if action.owner_id is None or action.owner_id != appellant.pk:
        raise Refused(_("Only the owner of the content can appeal this decision."))
    if action.kind == Kind.APPROVE:
        raise Refused(_("An approval cannot be appealed."))
    statement = (statement or "").strip()
    if not statement:
        raise Refused(_("Say why the decision is wrong: the moderator reads it."))
    if Appeal.objects.filter(action=action).exists():
        raise Refused(_("You have appealed this decision already; each decision once."))
    try:
        with transaction.atomic():
            item = QueueItem.objects.create(
                source=QueueItem.Source.APPEAL, rule=action.rule,
                priority=QueueItem.Priority.HIGH, version=action.version,
                target_user=None if action.version_id else action.owner,
                excluded_moderator=action.moderator,
                reason=f"The owner appeals “{action.get_kind_display()}” "
                f"({action.created_at:%Y-%m-%d}): {statement[:1000]}",
            )  # fmt: skip
            return Appeal.objects.create(
                action=action, appellant=appellant, statement=statement[:5000], item=item
            )
    except IntegrityError:
        raise Refused(
            _("An appeal about this content is open already; wait for its decision.")
        ) from None


def _settle_appeal(item: QueueItem, action: ModerationAction) -> Appeal | None:
    appeal = Appeal.objects.select_related("action").filter(item=item).first()
    if appeal is None:
        return None
    kept = action.kind in (Kind.DISMISS, appeal.action.kind)
    appeal.outcome = Appeal.Outcome.UPHELD if kept else Appeal.Outcome.OVERTURNED
    appeal.decided_at = timezone.now()
    appeal.save(update_fields=["outcome", "decided_at"])
    return appeal


def _tell_appellant(appeal: Appeal, action: ModerationAction) -> None:
    version = action.version
    name = str(version) if version else "your account"
    if appeal.outcome == Appeal.Outcome.UPHELD:
        title, verdict = f"Appeal refused: {name}", "The decision stands."
    elif action.kind == Kind.OVERTURN:
        title, verdict = f"Appeal accepted: {name}", "The decision was withdrawn."
    else:
        title = f"Appeal accepted: {name}"
        verdict = f"The decision was changed: {action.get_kind_display().lower()}."
    body = (
        f"Another moderator read your appeal. {verdict}\n"
        f"Rule: {action.rule.title}\nReason: {action.reason}"
    )
    url = version.get_absolute_url() if version else ""
    notify(user=appeal.appellant, title=title, body=body, url=url)


def _tell_reporters(item: QueueItem, action: ModerationAction) -> None:
    done = (
        "No rule was broken, so nothing was changed."
        if action.kind in (Kind.DISMISS, Kind.APPROVE)
        else f"Moderators acted: {action.get_kind_display().lower()}."
    )
    reporters = {report.reporter for report in item.reports.select_related("reporter")}
    for reporter in reporters:
        notify(
            user=reporter,
            title="Your report was reviewed",
            body=f"Thank you for your report under “{item.rule.title}”. {done}",
        )
