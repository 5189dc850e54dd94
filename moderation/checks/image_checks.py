"""The checks of one gallery image and of a version's text, tied to the catalogue's rows.

The detectors themselves (nudity.py, faces.py, names.py) know nothing of Django; this module
opens the stored image, asks them, and turns their answers into findings.
"""

from __future__ import annotations

from django.conf import settings
from PIL import Image

from models_hub.formats.images import open_checked_image
from models_hub.models import GalleryImage, ModelVersion
from moderation.checks import faces, names, nudity
from moderation.checks.findings import Finding, RuleCode, Severity
from moderation.models import ProtectedPerson, ProtectedPhoto


def _open(image: GalleryImage) -> Image.Image:
    with image.image.open("rb") as stream:
        picture = open_checked_image(stream, max_pixels=settings.HUB_MAX_IMAGE_PIXELS)
    return picture


def run_nsfw(image: GalleryImage) -> tuple[list[Finding], dict]:
    picture = _open(image)
    detections = nudity.detect(picture)
    image_rating = nudity.rate_detections(detections)
    prompt_rating = nudity.rate_prompt(nudity.prompt_text(image.generation_params))
    level, findings = nudity.combine(image_rating, prompt_rating)
    result = {
        "level": int(level),
        "image_level": int(image_rating.level),
        "prompt_level": int(prompt_rating.level),
        "reasons": list(image_rating.reasons),
        "sexual_terms": list(prompt_rating.sexual_terms),
        "minor_terms": list(prompt_rating.minor_terms),
        "detections": [
            {"label": d.label, "score": round(d.score, 3), "box": list(d.box)} for d in detections
        ],
    }
    return findings, result


def references(person_ids: list[int] | None = None) -> list[faces.Reference]:
    rows = ProtectedPhoto.objects.filter(person__is_active=True, embedding__isnull=False)
    if person_ids is not None:
        rows = rows.filter(person_id__in=person_ids)
    return [
        faces.Reference(person_id=person_id, photo_id=photo_id, embedding=tuple(embedding))
        for photo_id, person_id, embedding in rows.values_list("pk", "person_id", "embedding")
    ]


def name_entries(person_ids: list[int] | None = None) -> list[names.NameEntry]:
    people = ProtectedPerson.objects.filter(is_active=True)
    if person_ids is not None:
        people = people.filter(pk__in=person_ids)
    return [
        names.NameEntry(person_id=person.pk, name=name)
        for person in people
        for name in person.all_names
        if name.strip()
    ]


def face_findings(
    image: GalleryImage, found: list[faces.Face], refs: list[faces.Reference]
) -> list[Finding]:
    threshold = settings.HUB_LIKENESS_THRESHOLD
    matches = faces.match_faces(found, refs, threshold=threshold)
    people = ProtectedPerson.objects.in_bulk({m.person_id for m in matches})
    return [
        Finding(
            RuleCode.LIKENESS,
            Severity.HOLD,
            f"A face in this image looks like {people[m.person_id].name}, who asked not to be "
            "depicted. Staff will look at it.",
            score=round(m.distance, 4),
            evidence={
                "person_id": m.person_id,
                "person": people[m.person_id].name,
                "reference_photo_id": m.photo_id,
                "image_id": image.pk,
                "face_box": list(found[m.face_index].box),
                "distance": round(m.distance, 4),
                "threshold": threshold,
            },
        )
        for m in matches
        if m.person_id in people
    ]


def name_findings(text: str, entries: list[names.NameEntry], where: str) -> list[Finding]:
    return [
        Finding(
            RuleCode.LIKENESS,
            Severity.HOLD,
            f"The {where} names {match.name}, who asked not to be depicted. Staff will look at it.",
            evidence={"person_id": match.person_id, "name": match.name, "found": match.found},
        )
        for match in names.find_names(text, entries)
    ]


def image_likeness_findings(
    image: GalleryImage,
    found: list[faces.Face],
    refs: list[faces.Reference],
    entries: list[names.NameEntry],
) -> list[Finding]:
    """Faces like a protected person's, and protected names in the image's prompt."""
    prompt = nudity.prompt_text(image.generation_params)
    return face_findings(image, found, refs) + name_findings(prompt, entries, "generation prompt")


def stored_faces(result: dict) -> list[faces.Face]:
    """The faces a likeness run kept, to compare them again without the detector."""
    return [
        faces.Face(box=tuple(f["box"]), score=f["score"], embedding=tuple(f["embedding"]))
        for f in result.get("faces", [])
    ]


def run_likeness(image: GalleryImage) -> tuple[list[Finding], dict]:
    found = faces.find_faces(_open(image))
    findings = image_likeness_findings(image, found, references(), name_entries())
    # The embeddings are kept so that a person added to the registry later is compared
    # with every checked image without running the detector again (see stored_faces).
    result = {
        "faces": [
            {"box": list(face.box), "score": round(face.score, 3), "embedding": face.embedding}
            for face in found
        ]
    }
    return findings, result


def version_text(version: ModelVersion) -> str:
    model = version.model
    parts = [
        model.name,
        " ".join(tag.name for tag in model.tags.all()),  # prefetched by batch callers
        model.description,
        version.name,
        " ".join(str(word) for word in version.trained_words),
        version.description,
    ]
    return "\n".join(part for part in parts if part)


def text_likeness_findings(version: ModelVersion, entries: list[names.NameEntry]) -> list[Finding]:
    return name_findings(
        version_text(version), entries, "title, tags, trigger words or description"
    )


def run_text_likeness(version: ModelVersion) -> tuple[list[Finding], dict]:
    return text_likeness_findings(version, name_entries()), {}
