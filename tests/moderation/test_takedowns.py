"""Takedown requests from people without an account: what the form refuses, the rate limit
per address, the answer that never reveals the registry, and what accepting one does."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from django.core import mail
from django.core.files.uploadedfile import SimpleUploadedFile

from models_hub.choices import Status
from moderation import queue
from moderation.models import (
    ModerationAction,
    ProtectedPerson,
    QueueItem,
    Rule,
    TakedownPhoto,
    TakedownRequest,
)
from tests.factories import published_model
from tests.moderation.conftest import make_moderator

pytestmark = pytest.mark.django_db
FACES = Path(__file__).parents[1] / "fixtures" / "faces"
Kind = ModerationAction.Kind


def photo(name: str = "obama.jpg") -> SimpleUploadedFile:
    return SimpleUploadedFile(name, (FACES / name).read_bytes(), content_type="image/jpeg")


def likeness_form(**changes) -> dict:
    form = {
        "kind": "likeness", "name": "Barack Obama", "aliases": "オバマ, Obama",
        "contact_email": "office@example.invalid", "consent": "on",
        "statement": "Models here are trained on my face without my consent.",
        "photos": [photo()],
    }  # fmt: skip
    form.update(changes)
    return {key: value for key, value in form.items() if value is not None}


def test_a_likeness_request_is_queued_and_confirmed_by_e_mail(
    client, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post("/takedown/", likeness_form())
    assert response.status_code == 200 and b"Request received" in response.content
    request = TakedownRequest.objects.get()
    assert request.aliases == ["オバマ", "Obama"] and request.photos.count() == 1
    assert request.sender_hash and "127.0.0.1" not in request.sender_hash
    item = request.item
    assert (item.source, item.priority, item.rule.code) == (
        "takedown", QueueItem.Priority.HIGH, "real-person-likeness"
    )  # fmt: skip
    assert mail.outbox[0].to == ["office@example.invalid"]
    assert f"number {request.pk}" in mail.outbox[0].body


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"consent": None}, b"Confirm the statement"),
        ({"contact_email": ""}, b"Give an e-mail address"),
        ({"contact_email": "not an address"}, b"Give an e-mail address"),
        ({"statement": "  "}, b"Say what is wrong"),
        ({"photos": []}, b"Add at least one photo"),
        ({"photos": [SimpleUploadedFile("face.jpg", b"%PDF-1.4 not an image")]},
         b"is not a photo we can use"),
        ({"kind": "copyright", "photos": []}, b"Say which work is yours"),
        ({"kind": "anything"}, b"Choose what the request is about"),
    ],
)  # fmt: skip
def test_the_form_refuses_what_staff_could_not_act_on(client, changes, message):
    response = client.post("/takedown/", likeness_form(**changes))
    assert response.status_code == 400 and message in response.content
    assert not TakedownRequest.objects.exists() and not TakedownPhoto.objects.exists()
    assert not QueueItem.objects.exists()


def test_one_address_may_send_only_so_many_requests_a_day(client, settings):
    settings.HUB_TAKEDOWNS_PER_DAY = 2
    for _ in range(2):
        assert client.post("/takedown/", likeness_form()).status_code == 200
    flooded = client.post("/takedown/", likeness_form())
    assert flooded.status_code == 429 and flooded["Retry-After"] == "86400"
    other = client.post("/takedown/", likeness_form(), REMOTE_ADDR="192.0.2.7")
    assert other.status_code == 200
    assert TakedownRequest.objects.count() == 3


def test_behind_a_trusted_proxy_the_limit_counts_the_address_the_proxy_saw(client, settings):
    settings.HUB_TAKEDOWNS_PER_DAY = 1
    settings.TRUST_PROXY_HEADERS = True
    # The client may forge the first entries; the proxy appends the real one last.
    first = client.post("/takedown/", likeness_form(), HTTP_X_FORWARDED_FOR="1.1.1.1, 203.0.113.9")
    forged = client.post("/takedown/", likeness_form(), HTTP_X_FORWARDED_FOR="2.2.2.2, 203.0.113.9")
    assert (first.status_code, forged.status_code) == (200, 429)


def test_the_answer_never_says_whether_the_person_is_protected_already(client):
    first = client.post("/takedown/", likeness_form()).content.decode()
    ProtectedPerson.objects.create(name="Barack Obama")
    second = client.post("/takedown/", likeness_form()).content.decode()
    assert re.sub(r"number \d+", "number N", first) == re.sub(r"number \d+", "number N", second)


def test_a_link_to_another_site_with_the_same_path_names_no_upload_here(client):
    # Civitai's pages are /models/<id> too: its model 4201 is not ours.
    version = published_model(name="Unrelated").versions.get()
    civitai = f"https://civitai.com/models/{version.model_id}/x?version={version.pk}"
    client.post("/takedown/", likeness_form(content_url=civitai))
    request = TakedownRequest.objects.get()
    assert request.version is None and request.content_url == civitai


def test_accepting_a_likeness_request_protects_the_person_and_takes_the_upload_down(
    client, client_for, django_capture_on_commit_callbacks, settings
):
    settings.SITE_URL = "https://hub.example"
    alice = make_moderator("alice")
    version = published_model(name="Famous face LoRA").versions.get()
    form = likeness_form(
        content_url=f"https://hub.example/models/{version.model_id}/x?version={version.pk}"
    )
    with django_capture_on_commit_callbacks(execute=True):
        client.post("/takedown/", form)
    request = TakedownRequest.objects.get()
    assert request.version == version
    item = request.item
    queue.item_claim(item_id=item.pk, moderator=alice)
    assert queue.allowed_actions(item)[:2] == [Kind.ACCEPT, Kind.REJECT]
    assert Kind.APPROVE not in queue.allowed_actions(item)
    page = client_for(alice).get(f"/moderation/items/{item.pk}/").content
    assert b"office@example.invalid" in page and b"/moderation/evidence/takedown/" in page
    with django_capture_on_commit_callbacks(execute=True):
        queue.item_act(item_id=item.pk, moderator=alice, kind=Kind.ACCEPT,
                       rule=Rule.objects.get(code="real-person-likeness"),
                       reason="Verified with the office by phone.")  # fmt: skip
    request.refresh_from_db()
    version.refresh_from_db()
    person = request.person
    assert request.state == "accepted" and person.name == "Barack Obama"
    assert person.aliases == ["オバマ", "Obama"] and person.photos.count() == 1
    assert len(person.photos.get().embedding) == 128
    assert version.status == Status.BLOCKED
    # The public page of the upload now says which rule removed it.
    removed = client.get(version.model.get_absolute_url() + f"?version={version.pk}")
    assert removed.status_code == 410 and b"Real-person likeness" in removed.content
    assert b"Famous face" not in removed.content
    to_requester = [m.body for m in mail.outbox if m.to == ["office@example.invalid"]]
    assert "was accepted" in to_requester[-1] and "Verified with the office" in to_requester[-1]
    to_owner = [m for m in mail.outbox if m.to == [version.model.owner.email]]
    assert "Taken down after a request" in to_owner[-1].subject


def test_rejecting_a_request_tells_the_requester_and_changes_nothing(
    client, django_capture_on_commit_callbacks
):
    alice = make_moderator("alice")
    client.post("/takedown/", likeness_form(kind="copyright", photos=[], work="My LoRA"))
    request = TakedownRequest.objects.get()
    queue.item_claim(item_id=request.item_id, moderator=alice)
    with django_capture_on_commit_callbacks(execute=True):
        queue.item_act(item_id=request.item_id, moderator=alice, kind=Kind.REJECT,
                       rule=Rule.objects.get(code="copyright-license"),
                       reason="No proof of authorship.")  # fmt: skip
    request.refresh_from_db()
    assert request.state == "rejected" and not ProtectedPerson.objects.exists()
    assert "could not be accepted" in mail.outbox[-1].body
    assert "No proof of authorship." in mail.outbox[-1].body
