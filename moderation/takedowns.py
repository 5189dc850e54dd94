"""Takedown requests from people without an account: someone depicted without consent, or a
rights holder. Staff verify each one in the queue. An accepted likeness request adds the
person to the protected registry (which rescans everything already checked); the requester
is written to at every step. Nothing here ever says whether a person is in the registry."""

from __future__ import annotations

import hashlib
import hmac
import io
import logging
from datetime import timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.core.files.base import ContentFile
from django.core.validators import validate_email
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _
from django.utils.translation import ngettext

from community.services import send_email
from models_hub.formats.images import ImageRejected
from models_hub.links import model_link
from models_hub.models import ModelVersion
from moderation import services
from moderation.checks.findings import RuleCode
from moderation.models import (
    ProtectedPerson,
    QueueItem,
    Rule,
    TakedownPhoto,
    TakedownRequest,
)

log = logging.getLogger(__name__)
MAX_PHOTOS = 5


class RequestRejected(ValueError):
    """The request cannot be taken as sent; the message says what to fix."""


class TooManyRequests(Exception):
    """This address sent HUB_TAKEDOWNS_PER_DAY requests in the last day."""


def sender_hash(address: str) -> str:
    """A keyed hash of the sender's address: enough to rate-limit, without keeping it."""
    return hmac.new(settings.SECRET_KEY.encode(), address.encode(), hashlib.sha256).hexdigest()


def takedown_submit(
    *,
    kind: str,
    name: str,
    contact_email: str,
    statement: str,
    consent: bool,
    sender: str,
    aliases: str = "",
    work: str = "",
    proof: str = "",
    content_url: str = "",
    photos: list = (),
) -> TakedownRequest:
    """Check and store a request, queue it for staff, and confirm it to the requester."""
    since = timezone.now() - timedelta(days=1)
    sent = sender_hash(sender)
    if (
        TakedownRequest.objects.filter(sender_hash=sent, created_at__gte=since).count()
        >= settings.HUB_TAKEDOWNS_PER_DAY
    ):
        raise TooManyRequests
    if kind not in TakedownRequest.Kind.values:
        raise RequestRejected(_("Choose what the request is about."))
    contact_email = contact_email.strip()[:254]
    try:
        validate_email(contact_email)
    except ValidationError:
        raise RequestRejected(_("Give an e-mail address where we can write to you.")) from None
    if not consent:
        raise RequestRejected(
            _(
                "Confirm the statement: that you are the person or the rights holder (or act "
                "for them), and that what you say is true."
            )
        )
    if not statement.strip():
        raise RequestRejected(_("Say what is wrong and why."))
    if kind == TakedownRequest.Kind.LIKENESS and not photos:
        raise RequestRejected(
            _("Add at least one photo of the person's face, so staff can compare.")
        )
    if kind == TakedownRequest.Kind.COPYRIGHT and not work.strip():
        raise RequestRejected(_("Say which work is yours and where it is used here."))
    if len(photos) > MAX_PHOTOS:
        raise RequestRejected(
            ngettext("Send at most %(count)d photo.", "Send at most %(count)d photos.", MAX_PHOTOS)
            % {"count": MAX_PHOTOS}
        )
    pictures = [_reference_jpeg(photo) for photo in photos]
    version = _version_named_by(content_url)
    rule_code = RuleCode.LIKENESS if kind == TakedownRequest.Kind.LIKENESS else RuleCode.LICENSE
    with transaction.atomic():
        request = TakedownRequest.objects.create(
            kind=kind, name=name.strip()[:200], contact_email=contact_email,
            aliases=[a.strip() for a in aliases.split(",") if a.strip()][:20],
            statement=statement.strip()[:5000], work=work.strip()[:2000],
            proof=proof.strip()[:5000], content_url=content_url.strip()[:500],
            version=version, sender_hash=sent,
        )  # fmt: skip
        for jpeg in pictures:
            photo = TakedownPhoto(request=request)
            photo.image.save("reference.jpg", ContentFile(jpeg), save=False)
            photo.save()
        request.item = _open_item(Rule.objects.get(code=rule_code), request)
        request.save(update_fields=["item"])
    transaction.on_commit(lambda: _write_to(request, _received_text(request)))
    return request


def _reference_jpeg(upload) -> bytes:
    """A photo as a clean JPEG (no metadata); anything that is not an image is refused."""
    if upload.size > settings.HUB_MAX_IMAGE_BYTES:
        raise RequestRejected(_("%(name)s is too large.") % {"name": upload.name[:80]})
    try:
        picture = services.reference_picture(upload)
        out = io.BytesIO()
        picture.save(out, "JPEG", quality=90)
    except ImageRejected as exc:
        raise RequestRejected(
            _("%(name)s is not a photo we can use: %(problem)s")
            % {"name": upload.name[:80], "problem": exc}
        ) from None
    return out.getvalue()


def _version_named_by(url: str) -> ModelVersion | None:
    """The hub version a pasted link points at (its model's newest public one without
    ?version=), or None: a link elsewhere is kept as text for staff."""
    link = model_link(url)
    if link is None:
        return None
    versions = ModelVersion.objects.filter(model_id=link.model_id).exclude(status="deleted")
    if link.version_id:
        return versions.filter(pk=link.version_id).first()
    return versions.order_by("-published_at", "-id").first()


def _open_item(rule: Rule, request: TakedownRequest) -> QueueItem:
    reason = (
        f"{request.get_kind_display()} — from {request.name}: {request.statement[:600]}"
    )  # fmt: skip
    fields = {"source": QueueItem.Source.TAKEDOWN, "state": QueueItem.State.OPEN}
    if request.version is not None:
        # Requests about one upload share its item, as reports do.
        existing = QueueItem.objects.filter(version=request.version, **fields).first()
        if existing is not None:
            return existing
    try:
        with transaction.atomic():
            return QueueItem.objects.create(
                rule=rule, priority=QueueItem.Priority.HIGH, version=request.version,
                reason=reason, **fields,
            )  # fmt: skip
    except IntegrityError:
        return QueueItem.objects.get(version=request.version, **fields)


def settle(item: QueueItem, *, accept: bool, reason: str) -> dict:
    """Accept or reject the item's open requests; a likeness accepted joins the registry."""
    details: dict = {"requests": [], "people": []}
    for request in item.takedowns.filter(state=TakedownRequest.State.OPEN):
        details["requests"].append(request.pk)
        if accept and request.kind == TakedownRequest.Kind.LIKENESS:
            request.person = _protect(request)
            details["people"].append(request.person.pk)
        request.state = TakedownRequest.State.ACCEPTED if accept else TakedownRequest.State.REJECTED
        request.decided_at = timezone.now()
        request.save(update_fields=["state", "person", "decided_at"])
        text = _outcome_text(request, reason)
        transaction.on_commit(lambda request=request, text=text: _write_to(request, text))
    return details


def _protect(request: TakedownRequest) -> ProtectedPerson:
    person = ProtectedPerson.objects.create(
        name=request.name, aliases=request.aliases, note=f"Takedown request {request.pk}"
    )
    for photo in request.photos.all():
        try:
            with photo.image.open("rb") as stream:
                services.protected_photo_add(person=person, stream=stream, rescan=False)
        except services.PhotoRejected as exc:
            log.info("Takedown %s photo %s not used: %s", request.pk, photo.pk, exc)
    # One rescan for the person, their photos and names together (the name protects even
    # when no photo could be used).
    services.registry_changed(person=person)
    return person


def _received_text(request: TakedownRequest) -> str:
    return (
        f"We received your request ({request.get_kind_display().lower()}), number "
        f"{request.pk}. A moderator will verify it and write to you at this address. "
        "Please do not send it again."
    )


def _outcome_text(request: TakedownRequest, reason: str) -> str:
    if request.state == TakedownRequest.State.ACCEPTED:
        done = (
            "New uploads are now compared with the name and photos you sent, and what was "
            "already here has been checked again."
            if request.kind == TakedownRequest.Kind.LIKENESS
            else "The content you named has been taken down."
        )
        return f"Your request {request.pk} was accepted. {done}\n\nModerator's note: {reason}"
    return f"Your request {request.pk} could not be accepted.\n\nModerator's note: {reason}"


def _write_to(request: TakedownRequest, text: str) -> None:
    send_email(request.contact_email, f"[{settings.SITE_NAME}] Your takedown request", text)
