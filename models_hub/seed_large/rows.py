"""The rows of each seeded table, from the plan: every counter counted from the rows that
it counts, every derived value as the services derive it."""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta

import numpy as np
from django.db import models
from django.utils import timezone
from django.utils.text import slugify

from community.models import Comment, Favorite, Follow, Reaction, Review, User
from models_hub.choices import (
    FileFormat,
    FileType,
    JobStatus,
    ModelType,
    NsfwLevel,
    Precision,
    ScanResult,
    Status,
)
from models_hub.formats.hashing import AUTOV1_OFFSET
from models_hub.formats.pickles import SCANNER_VERSION
from models_hub.models import DownloadDay, GalleryImage, Model, ModelFile, ModelVersion
from models_hub.seed_large.plan import PUBLISHED, STATUSES, Plan, moment_between
from models_hub.seed_large.words import (
    ADJECTIVES,
    BIOS,
    CHECKPOINT_MB,
    COMMENT_TEXTS,
    CONFIG_TYPES,
    DOWNLOAD_DAY_SHARE,
    DOWNLOAD_DAYS,
    NEGATIVE,
    NOUNS,
    PICKLE_TYPES,
    PROMPT_BITS,
    REVIEW_TEXTS,
    SAMPLERS,
    SENTENCES,
    SIZE_MB,
    TRIGGERED_TYPES,
    VERSION_NOTES,
)
from models_hub.services import NO_CODE_MESSAGES
from moderation.checks import license as license_check
from moderation.checks.findings import Severity
from moderation.models import CheckRun, ModerationAction
from moderation.services import CHECKERS, IMAGE_CHECKS, VERSION_CHECKS

MODEL_TAGS = Model.tags.through
USER_GROUPS = User.groups.through


def ts(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, tz=UTC)


class Rows:
    """The rows of each table, from the plan and the first id of each table. Each method
    returns (columns, rows); call them in order: they draw from the plan's generator."""

    def __init__(self, plan: Plan, ids: dict[type[models.Model], int], tag_ids: list[int]):
        self.p, self.ids, self.tag_ids = plan, ids, tag_ids
        self.usernames = self._usernames()

    def _usernames(self) -> list[str]:
        p = self.p
        rng, n, base = p.rng, p.sizes.users, self.ids[User]
        first = rng.integers(0, len(ADJECTIVES), n)
        second = rng.integers(0, len(NOUNS), n)
        style = rng.integers(0, 3, n)
        names = []
        for i in range(n):
            a, b = ADJECTIVES[first[i]], NOUNS[second[i]]
            stem = (f"{a}{b}", f"{a}_{b}", f"{a.title()}{b.title()}")[style[i]]
            names.append(f"{stem}{base + i}")
        taken = set()
        for chunk in range(0, n, 5000):
            taken |= set(
                User.objects.filter(username__in=names[chunk : chunk + 5000]).values_list(
                    "username", flat=True
                )
            )
        # Someone may have one of these names already (--append): theirs wins.
        return [f"{name}_{rng.integers(1 << 30):x}" if name in taken else name for name in names]

    def users(self):
        p = self.p
        rng, n, base = p.rng, p.sizes.users, self.ids[User]
        self.user_followers = np.bincount(p.follow_creator, minlength=n)
        levels = rng.choice([1, 3, 7, 31], n, p=[0.7, 0.15, 0.08, 0.07])
        blur = rng.random(n) < 0.1
        bios = rng.integers(0, len(BIOS) * 3, n)
        logged_in = rng.random(n) < 0.6
        last_login = moment_between(rng, p.user_joined, p.now)
        columns = [
            "id", "password", "last_login", "is_superuser", "username", "first_name",
            "last_name", "email", "is_staff", "is_active", "date_joined", "bio", "avatar",
            "links", "browsing_level", "above_level", "follower_count", "suspended_until",
        ]  # fmt: skip

        def rows():
            for i in range(n):
                name = self.usernames[i]
                yield (
                    base + i, "!", ts(last_login[i]) if logged_in[i] else None, False, name,
                    "", "", f"{name.lower()}@example.invalid", bool(p.user_staff[i]),
                    bool(p.user_active[i]), ts(p.user_joined[i]),
                    BIOS[bios[i]] if bios[i] < len(BIOS) else "", "",
                    f'["https://example.invalid/{name}"]' if bios[i] == 0 else "[]",
                    int(levels[i]), "blur" if blur[i] else "hide", int(self.user_followers[i]),
                    None,
                )  # fmt: skip

        return columns, rows()

    def user_groups(self):
        p = self.p
        columns = ["id", "user_id", "group_id"]
        staff = np.flatnonzero(p.user_staff) if p.group_id else []
        base, users = self.ids[USER_GROUPS], self.ids[User]
        return columns, ((base + n, users + int(i), p.group_id) for n, i in enumerate(staff))

    def models(self):
        p = self.p
        rng, s, tr = p.rng, p.sizes, p.text_rng
        base, users, images = self.ids[Model], self.ids[User], self.ids[GalleryImage]
        favorites = np.bincount(p.fav_model, minlength=s.models)
        visible = ~p.model_comments["hidden"] & ~p.model_comments["deleted"]
        comments = np.bincount(p.model_comments["target"][visible], minlength=s.models)
        up, down = self._thumbs()
        model_up = np.bincount(p.version_model, weights=up, minlength=s.models)
        model_down = np.bincount(p.version_model, weights=down, minlength=s.models)
        downloads = np.bincount(p.version_model, weights=p.version_downloads, minlength=s.models)
        tags_of: list[list[str]] = [[] for _ in range(s.models)]
        for m, t in zip(p.tag_model, p.tag_index, strict=True):
            tags_of[m].append(p.tag_names[t])
        # Trained words of published versions, newest first (the services' query order).
        words_of: list[list[str]] = [[] for _ in range(s.models)]
        for v in np.flatnonzero(p.version_status == PUBLISHED)[::-1]:
            words_of[p.version_model[v]].extend(p.trained_words[v])
        edited = rng.random(s.models) < 0.2
        updated = np.where(edited, moment_between(rng, p.model_created, p.now), p.model_created)
        columns = [
            "id", "owner_id", "name", "description", "type", "status", "nsfw_level",
            "license_id", "license_other_url", "license_other_text", "allow_commercial_use",
            "allow_no_credit", "allow_derivatives", "allow_different_license", "cover_image_id",
            "download_count", "like_count", "comment_count", "thumbs_up_count",
            "thumbs_down_count", "search_document", "created_at", "updated_at", "published_at",
        ]  # fmt: skip

        def rows():
            for i in range(s.models):
                name = p.model_names[i]
                mtype = p.types[p.model_type[i]]
                base_model = p.bases[p.model_base[i]]
                description = self._description(tr, name, p.type_labels[mtype], base_model.name)
                license = p.model_license[i]
                commercial, no_credit, derivatives, relicensing = p.model_permissions[i]
                owner = p.model_owner[i]
                document = "\n".join(
                    part
                    for part in (
                        name,
                        " ".join(sorted(tags_of[i])),
                        self.usernames[owner],
                        " ".join(words_of[i]),
                        description[:5000],
                    )
                    if part
                )
                first = p.model_first_version[i]
                published = p.version_published_at[first] if p.model_was_published[i] else None
                yield (
                    base + i, users + int(owner), name, description, mtype.value,
                    STATUSES[p.model_status[i]].value, int(p.model_level[i]), license.pk,
                    f"https://example.invalid/licenses/{i}" if license.is_other else "",
                    "Free to use with credit; no resale." if license.is_other else "",
                    commercial, no_credit, derivatives, relicensing,
                    images + int(p.model_cover[i]) if p.model_cover[i] >= 0 else None,
                    int(downloads[i]), int(favorites[i]), int(comments[i]),
                    int(model_up[i]), int(model_down[i]), document,
                    ts(p.model_created[i]), ts(updated[i]),
                    ts(published) if published is not None else None,
                )  # fmt: skip

        return columns, rows()

    @staticmethod
    def _description(tr: random.Random, name: str, type_label: str, base: str) -> str:
        def sentence() -> str:
            return tr.choice(SENTENCES).format(
                n=tr.randint(20, 4000), res=tr.choice((512, 768, 1024)), w=tr.randint(4, 6),
                w2=tr.randint(7, 9), sampler=tr.choice(SAMPLERS), steps=tr.randint(20, 40),
                cfg=tr.choice((3.5, 5, 6.5, 7)), type=type_label, base=base,
            )  # fmt: skip

        paragraphs = [
            " ".join(sentence() for _ in range(tr.randint(1, 4))) for _ in range(tr.randint(1, 4))
        ]
        tips = "\n".join(f"* {sentence()}" for _ in range(tr.randint(0, 4)))
        return f"## {name}\n\n" + "\n\n".join(paragraphs) + (f"\n\n{tips}" if tips else "")

    def _thumbs(self) -> tuple[np.ndarray, np.ndarray]:
        p = self.p
        counted = ~p.review_hidden
        up = counted & p.review_recommended
        down = counted & ~p.review_recommended
        n = p.sizes.versions
        return (
            np.bincount(p.review_version[up], minlength=n),
            np.bincount(p.review_version[down], minlength=n),
        )

    def model_tags(self):
        p = self.p
        base, models_base = self.ids[MODEL_TAGS], self.ids[Model]
        columns = ["id", "model_id", "tag_id"]
        return columns, (
            (base + n, models_base + int(m), self.tag_ids[t])
            for n, (m, t) in enumerate(zip(p.tag_model, p.tag_index, strict=True))
        )

    def versions(self):
        p = self.p
        s, tr = p.sizes, p.text_rng
        base, models_base = self.ids[ModelVersion], self.ids[Model]
        up, down = self._thumbs()
        columns = [
            "id", "model_id", "name", "description", "base_model_id", "trained_words", "status",
            "nsfw_level", "declared_nsfw_level", "decision", "decided_at", "staff_reviewed",
            "depicts_real_person", "publish_requested", "hold_reason", "download_count",
            "thumbs_up_count", "thumbs_down_count", "created_at", "updated_at", "published_at",
        ]  # fmt: skip

        def rows():
            for v in range(s.versions):
                m = p.version_model[v]
                status = STATUSES[p.version_status[v]]
                created = p.version_created[v]
                published = p.version_published_at[v]
                ordinal = p.version_ordinal[v]
                decision, hold_reason = "publish", ""
                if status in (Status.BLOCKED, Status.UNPUBLISHED):
                    reason = p.version_reason[v]
                    verb = "Blocked" if status == Status.BLOCKED else "Unpublished"
                    hold_reason = f"{verb} by staff: {reason}"
                    decision = "block" if status == Status.BLOCKED else decision
                checked = created + 30 + tr.random() * 300
                is_published = published == published  # not NaN
                note = VERSION_NOTES[0 if ordinal == 0 else 1 + ordinal % (len(VERSION_NOTES) - 1)]
                yield (
                    base + v, models_base + int(m), f"v{ordinal + 1}.0",
                    note.format(n=tr.randint(10, 400)), p.bases[p.model_base[m]].pk,
                    json.dumps(p.trained_words[v]), status.value, int(p.version_level[v]),
                    int(p.version_declared[v]), decision,
                    ts(min(checked, published) if is_published else checked), "[]", False,
                    status == Status.IN_REVIEW, hold_reason, int(p.version_downloads[v]),
                    int(up[v]), int(down[v]), ts(created),
                    ts(published if is_published else checked),
                    ts(published) if is_published else None,
                )  # fmt: skip

        return columns, rows()

    def files(self):
        p = self.p
        rng, s = p.rng, p.sizes
        base, versions = self.ids[ModelFile], self.ids[ModelVersion]
        size_spread = rng.lognormal(0, 0.6, s.versions)
        # Random but well-formed digests: 104 bytes per file give SHA256, AutoV3 and BLAKE3
        # (64 hex each), AutoV1 and CRC32 (8 each); AutoV2 is SHA256's first 10, as hashing.py.
        digests = rng.bytes(104 * s.versions).hex()
        tensor_counts = rng.integers(200, 2600, s.versions)
        network_dims = 2 ** rng.integers(3, 8, s.versions)
        precisions = [
            x.value for x in (Precision.FP16, Precision.BF16, Precision.FP32, Precision.FP8)
        ]
        precision = rng.choice(len(precisions), s.versions, p=[0.7, 0.15, 0.1, 0.05])
        scanned = rng.uniform(20, 600, s.versions)
        columns = [
            "id", "version_id", "file", "name", "size_bytes", "format", "file_type", "precision",
            "is_primary", "sha256", "autov1", "autov2", "autov3", "crc32", "blake3",
            "hash_status", "hash_error", "scan_result", "scan_message", "scan_globals",
            "scanner_version", "scanned_at", "tensor_count", "metadata", "named_parents",
            "job_updated_at", "job_task_id", "job_attempts", "download_count", "created_at",
        ]  # fmt: skip

        def rows():
            for v in range(s.versions):
                m = p.version_model[v]
                mtype = p.types[p.model_type[m]]
                base_slug = p.bases[p.model_base[m]].slug
                if mtype in CONFIG_TYPES:
                    fmt, ext = FileFormat.OTHER, "yaml" if mtype == ModelType.WILDCARDS else "json"
                elif mtype in PICKLE_TYPES or (mtype == ModelType.MOTION_MODULE and v % 2):
                    fmt, ext = (
                        FileFormat.PICKLETENSOR,
                        "pt" if mtype != ModelType.UPSCALER else "pth",
                    )
                elif base_slug.startswith("flux") and mtype == ModelType.CHECKPOINT and v % 5 == 0:
                    fmt, ext = FileFormat.GGUF, "gguf"
                else:
                    fmt, ext = FileFormat.SAFETENSOR, "safetensors"
                mb = CHECKPOINT_MB[base_slug] if mtype == ModelType.CHECKPOINT else SIZE_MB[mtype]
                size = max(1024, int(mb * size_spread[v] * 1_048_576))
                if fmt == FileFormat.OTHER:
                    size = min(size, 1_000_000)
                h = digests[208 * v : 208 * (v + 1)]
                sha256 = h[:64]
                created = p.version_created[v]
                pickle = fmt == FileFormat.PICKLETENSOR
                tensors = None
                metadata = "{}"
                if fmt == FileFormat.SAFETENSOR:
                    tensors = int(tensor_counts[v])
                    metadata = (
                        f'{{"format": "pt", "ss_output_name": "{slugify(p.model_names[m])}",'
                        f' "ss_network_dim": "{network_dims[v]}"}}'
                        if mtype in TRIGGERED_TYPES
                        else '{"format": "pt"}'
                    )
                stem = slugify(p.model_names[m]).replace("-", "_") or "model"
                yield (
                    base + v, versions + v, f"models/{sha256[:2]}/{sha256[:32]}.{ext}",
                    f"{stem}_v{p.version_ordinal[v] + 1}.{ext}", size, fmt.value,
                    (FileType.CONFIG if fmt == FileFormat.OTHER else FileType.MODEL).value,
                    "" if fmt == FileFormat.OTHER else precisions[precision[v]],
                    fmt != FileFormat.OTHER, sha256,
                    h[192:200] if size > AUTOV1_OFFSET else "", sha256[:10],
                    h[64:128] if fmt == FileFormat.SAFETENSOR else "", h[200:208], h[128:192],
                    JobStatus.DONE.value, "", ScanResult.SUCCESS.value,
                    "1 pickle(s) checked; only tensor-rebuilding globals."
                    if pickle
                    else NO_CODE_MESSAGES.get(fmt, ""),
                    '["collections.OrderedDict", "torch._utils._rebuild_tensor_v2", '
                    '"torch.FloatStorage"]'
                    if pickle
                    else "[]",
                    SCANNER_VERSION if pickle else 0,
                    ts(created + scanned[v]) if pickle else ts(created), tensors, metadata,
                    "[]", ts(created + scanned[v]), "", 0, int(p.version_downloads[v]),
                    ts(created),
                )  # fmt: skip

        return columns, rows()

    def images(self):
        p = self.p
        rng, s = p.rng, p.sizes
        base, versions = self.ids[GalleryImage], self.ids[ModelVersion]
        prompts = [
            json.dumps(", ".join(p.text_rng.sample(PROMPT_BITS, p.text_rng.randint(4, 14))))
            for _ in range(2000)
        ]
        negatives = [json.dumps(n) for n in NEGATIVE]
        prompt = rng.integers(0, len(prompts), s.images)
        negative = rng.integers(0, len(negatives), s.images)
        sampler = rng.integers(0, len(SAMPLERS), s.images)
        steps = rng.integers(20, 45, s.images)
        cfg = rng.choice([3.5, 5.0, 6.0, 6.5, 7.0, 7.5], s.images)
        seeds = rng.integers(0, 1 << 32, s.images)
        no_params = rng.random(s.images) < 0.1
        processed = rng.uniform(5, 120, s.images)
        visible = ~p.image_comments["hidden"] & ~p.image_comments["deleted"]
        comments = np.bincount(p.image_comments["target"][visible], minlength=s.images)
        reactions = [
            np.bincount(p.reaction_image[p.reaction_kind == k], minlength=s.images)
            for k in range(len(p.kinds))
        ]
        columns = [
            "id", "version_id", "image", "thumbnail", "width", "height", "nsfw_level",
            "generation_params", "blurhash", "position", "process_status", "process_error",
            "staff_nsfw_level", "job_updated_at", "job_task_id", "job_attempts",
            "like_count", "heart_count", "laugh_count", "cry_count", "comment_count",
            "created_at",
        ]  # fmt: skip
        counted = dict(zip(p.kinds, reactions, strict=True))
        like, heart, laugh, cry = (counted[k] for k in Reaction.Kind)

        def rows():
            for i in range(s.images):
                v = p.image_version[i]
                picture = p.pictures[p.image_picture[i]]
                params = (
                    "{}"
                    if no_params[i]
                    else (
                        f'{{"prompt": {prompts[prompt[i]]}, "negativePrompt": '
                        f'{negatives[negative[i]]}, "steps": {steps[i]}, "sampler": '
                        f'"{SAMPLERS[sampler[i]]}", "cfgScale": {cfg[i]}, "seed": {seeds[i]}, '
                        f'"Size": "{picture.width}x{picture.height}"}}'
                    )
                )
                created = p.version_created[v]
                yield (
                    base + i, versions + int(v), picture.image, picture.thumbnail,
                    picture.width, picture.height, int(p.image_level[i]), params,
                    picture.blurhash, int(p.image_position[i]), JobStatus.DONE.value, "",
                    NsfwLevel.BLOCKED.value if p.image_blocked[i] else None,
                    ts(created + processed[i]), "", 0, int(like[i]), int(heart[i]),
                    int(laugh[i]), int(cry[i]), int(comments[i]), ts(created),
                )  # fmt: skip

        return columns, rows()

    def check_runs(self):
        """The checks every upload gets (moderation.services.checks_create_for_version),
        all done; the license check's parents and credits as license.run states them."""
        p = self.p
        s = p.sizes
        base = self.ids[CheckRun]
        versions, images = self.ids[ModelVersion], self.ids[GalleryImage]
        took = p.rng.uniform(5, 200, s.versions)  # seconds from upload to decision
        license_results = {}
        for b in p.bases:
            parents = (
                [(license_check.terms_of_license(b.name, b.license), "base")] if b.license else []
            )
            result = {
                "parents": [{**t.as_evidence(), "relation": rel} for t, rel in parents],
                "credits": sorted({t.name for t, _ in parents if t.credit}),
            }
            findings = [
                f.as_json()
                for t, _ in parents
                if t.credit
                for f in license_check._lineage_findings(t, t, "base")
                if f.severity == Severity.INFO
            ]
            license_results[b.pk] = (json.dumps(findings), json.dumps(result))
        columns = [
            "id", "kind", "version_id", "image_id", "state", "attempts", "task_id", "findings",
            "result", "error", "checker_version", "started_at", "finished_at", "duration_ms",
            "created_at", "updated_at",
        ]  # fmt: skip
        done = JobStatus.DONE.value

        def rows():
            n = base
            for v in range(s.versions):
                created = p.version_created[v]
                finished = ts(created + took[v])
                for kind in VERSION_CHECKS:
                    if kind == CheckRun.Kind.LICENSE:
                        findings, result = license_results[
                            p.bases[p.model_base[p.version_model[v]]].pk
                        ]
                    else:
                        findings, result = "[]", "{}"
                    yield (
                        n, kind.value, versions + v, None, done, 1, "", findings, result, "",
                        CHECKERS[kind][1], ts(created + 2), finished, 40, ts(created), finished,
                    )  # fmt: skip
                    n += 1
            for i in range(s.images):
                v = p.image_version[i]
                created = p.version_created[v]
                started, finished = ts(created + 3), ts(created + took[v])
                level = int(p.image_check_level[i])
                for kind in IMAGE_CHECKS:
                    result = (
                        f'{{"level": {level}, "image_level": {level}, "prompt_level": 1, '
                        '"reasons": [], "sexual_terms": [], "minor_terms": [], "detections": []}'
                        if kind == CheckRun.Kind.NSFW
                        else '{"faces": []}'
                    )
                    yield (
                        n, kind.value, versions + int(v), images + i, done, 1, "", "[]", result,
                        "", CHECKERS[kind][1], started, finished, 350, ts(created), finished,
                    )  # fmt: skip
                    n += 1

        return columns, rows()

    def moderation_actions(self):
        """The moderator's decision behind each blocked or unpublished version."""
        p = self.p
        base, users, versions = self.ids[ModerationAction], self.ids[User], self.ids[ModelVersion]
        staff = np.flatnonzero(p.user_staff)
        columns = [
            "id", "kind", "rule_id", "reason", "details", "moderator_id", "item_id",
            "version_id", "owner_id", "created_at",
        ]  # fmt: skip

        def rows():
            for n, v in enumerate(sorted(p.version_reason)):
                status = STATUSES[p.version_status[v]]
                kind = (
                    ModerationAction.Kind.BLOCK
                    if status == Status.BLOCKED
                    else ModerationAction.Kind.UNPUBLISH
                )
                details = {"status_before": Status.PUBLISHED.value, "status_after": status.value}
                yield (
                    base + n, kind.value, p.rules[v % len(p.rules)],
                    p.version_reason[v], json.dumps(details),
                    users + int(staff[v % len(staff)]), None, versions + v,
                    users + int(p.model_owner[p.version_model[v]]),
                    ts(p.version_removed_at[v]),
                )  # fmt: skip

        return columns, rows()

    def reviews(self):
        p = self.p
        rng, n = p.rng, len(p.review_version)
        base, users, versions = self.ids[Review], self.ids[User], self.ids[ModelVersion]
        at = moment_between(rng, p.version_published_at[p.review_version] + 60, p.now)
        text = rng.integers(0, len(REVIEW_TEXTS) * 2, n)
        columns = [
            "id", "version_id", "author_id", "recommended", "text", "hidden", "created_at",
            "updated_at",
        ]  # fmt: skip
        return columns, (
            (
                base + k,
                versions + int(p.review_version[k]),
                users + int(p.review_user[k]),
                bool(p.review_recommended[k]),
                REVIEW_TEXTS[text[k]] if text[k] < len(REVIEW_TEXTS) else "",
                bool(p.review_hidden[k]),
                ts(at[k]),
                ts(at[k]),
            )  # fmt: skip
            for k in range(n)
        )

    def favorites(self):
        p = self.p
        rng, n = p.rng, len(p.fav_model)
        base, users, models_base = self.ids[Favorite], self.ids[User], self.ids[Model]
        start = np.nan_to_num(p.version_published_at[p.model_first_version[p.fav_model]])
        at = moment_between(rng, start + 60, p.now)
        return ["id", "user_id", "model_id", "created_at"], (
            (base + k, users + int(p.fav_user[k]), models_base + int(p.fav_model[k]),
             ts(at[k]))
            for k in range(n)
        )  # fmt: skip

    def comments(self):
        p = self.p
        base, users = self.ids[Comment], self.ids[User]
        models_base, images = self.ids[Model], self.ids[GalleryImage]
        on_models, on_images = p.model_comments, p.image_comments
        offset = len(on_models["target"])
        columns = [
            "id", "author_id", "model_id", "image_id", "parent_id", "body", "hidden", "deleted",
            "created_at", "edited_at",
        ]  # fmt: skip

        def rows():
            for data, first_id, on_model in (
                (on_models, base, True),
                (on_images, base + offset, False),
            ):
                for k in range(len(data["target"])):
                    target = int(data["target"][k])
                    parent = data["parent"][k]
                    deleted = bool(data["deleted"][k])
                    yield (
                        first_id + k, users + int(data["user"][k]),
                        models_base + target if on_model else None,
                        None if on_model else images + target,
                        first_id + int(parent) if parent >= 0 else None,
                        "" if deleted else COMMENT_TEXTS[(k * 7 + target) % len(COMMENT_TEXTS)],
                        bool(data["hidden"][k]), deleted, ts(data["at"][k]), None,
                    )  # fmt: skip

        return columns, rows()

    def reactions(self):
        p = self.p
        rng, n = p.rng, len(p.reaction_image)
        base, users, images = self.ids[Reaction], self.ids[User], self.ids[GalleryImage]
        start = np.nan_to_num(p.version_published_at[p.image_version[p.reaction_image]])
        at = moment_between(rng, start + 60, p.now)
        kinds = [k.value for k in p.kinds]
        return ["id", "user_id", "image_id", "kind", "created_at"], (
            (base + k, users + int(p.reaction_user[k]), images + int(p.reaction_image[k]),
             kinds[p.reaction_kind[k]], ts(at[k]))
            for k in range(n)
        )  # fmt: skip

    def follows(self):
        p = self.p
        rng, n = p.rng, len(p.follow_follower)
        base, users = self.ids[Follow], self.ids[User]
        start = np.maximum(p.user_joined[p.follow_follower], p.user_joined[p.follow_creator])
        at = moment_between(rng, start + 60, p.now)
        return ["id", "follower_id", "creator_id", "created_at"], (
            (base + k, users + int(p.follow_follower[k]), users + int(p.follow_creator[k]),
             ts(at[k]))
            for k in range(n)
        )  # fmt: skip

    def download_days(self):
        """Daily rows for the last DOWNLOAD_DAYS days of the most downloaded public versions:
        a quarter of their downloads, more on recent days (what download_record counts)."""
        p = self.p
        rng = p.rng
        public = np.flatnonzero(p.version_public & (p.version_downloads >= 4))
        top = public[np.argsort(-p.version_downloads[public], kind="stable")]
        top = top[: max(1, round(len(public) * DOWNLOAD_DAY_SHARE))] if len(top) else top
        base, versions = self.ids[DownloadDay], self.ids[ModelVersion]
        # Days as download_record counts them: in TIME_ZONE.
        today = timezone.localtime(ts(p.now)).date()
        days = [today - timedelta(days=DOWNLOAD_DAYS - 1 - d) for d in range(DOWNLOAD_DAYS)]
        trend = 1 + np.arange(DOWNLOAD_DAYS) / DOWNLOAD_DAYS

        def rows():
            n = base
            for v in top:
                published = timezone.localtime(ts(p.version_published_at[v])).date()
                weights = trend * rng.random(DOWNLOAD_DAYS)
                counts = rng.multinomial(p.version_downloads[v] // 4, weights / weights.sum())
                for day, count in zip(days, counts, strict=True):
                    if count and day >= published:
                        yield (n, versions + int(v), day, int(count))
                        n += 1

        return ["id", "version_id", "day", "count"], rows()
