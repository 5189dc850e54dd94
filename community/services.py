"""Writes for people's accounts: notifications for now."""

from __future__ import annotations

import logging

from django.conf import settings
from django.core.mail import send_mail
from django.db import transaction

from community.models import Notification, User

log = logging.getLogger(__name__)


def notify(*, user: User, title: str, body: str, url: str = "") -> Notification:
    """Tell a person something on the site and by e-mail (after commit, so a rolled-back
    decision sends nothing; a mail server that is down never undoes the decision)."""
    notification = Notification.objects.create(user=user, title=title, body=body, url=url)
    if user.email:
        link = f"\n\n{settings.SITE_URL}{url}" if url else ""
        transaction.on_commit(
            lambda: send_email(user.email, f"[{settings.SITE_NAME}] {title}", body + link)
        )
    return notification


def send_email(address: str, subject: str, text: str) -> None:
    """Send one e-mail; a mail server that is down is logged, never raised to the caller."""
    try:
        send_mail(subject, text, None, [address])
    except OSError:
        log.exception("Could not e-mail %s about %r", address, subject)
