"""The seeded catalogue decided with numpy before anything is written: who owns what, how
popular it is, which status each row is in, and every count and derived value that follows.
Reads the catalogue tables (licenses, base models, rules); writes nothing."""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass

import numpy as np
from django.contrib.auth.models import Group

from community.models import Reaction
from models_hub.choices import CommercialUse, NsfwLevel, Status
from models_hub.models import BaseModel, License
from models_hub.seed_large.words import (
    ADJECTIVES,
    BASE_WEIGHTS,
    COMMENTS_PER_IMAGE,
    COMMENTS_PER_MODEL,
    DAY,
    FAVORITES_PER_MODEL,
    FOLLOWS_PER_USER,
    HISTORY_DAYS,
    MAX_IMAGES_PER_VERSION,
    MODEL_STATUS_WEIGHTS,
    MODERATION_REASONS,
    NOUNS,
    RATING_WEIGHTS,
    REACTIONS_PER_IMAGE,
    REVIEWS_PER_VERSION,
    SUFFIXES,
    TAGS,
    TRIGGERED_TYPES,
    TYPE_WEIGHTS,
    VERSION_STATUS_WEIGHTS,
    WAS_PUBLISHED,
)
from moderation.checks import license as license_check
from moderation.checks.findings import Severity
from moderation.models import Rule
from moderation.permissions import MODERATORS_GROUP

# Statuses are planned as small integers (their index here), not as strings.
STATUSES = list(Status)
PUBLISHED, DRAFT, IN_REVIEW = (
    STATUSES.index(s) for s in (Status.PUBLISHED, Status.DRAFT, Status.IN_REVIEW)
)
REMOVED = [STATUSES.index(s) for s in (Status.BLOCKED, Status.UNPUBLISHED)]


class SeedRefused(Exception):
    """The seed will not run; the message says why and what to pass to make it run."""


@dataclass(frozen=True)
class Sizes:
    users: int
    models: int
    versions: int
    images: int

    @classmethod
    def scaled(
        cls, *, users: int, models: int, versions_per_model: float, images: int, scale: float
    ) -> Sizes:
        if scale <= 0 or versions_per_model < 1 or min(users, models, images) < 0:
            raise SeedRefused(
                "--scale must be above 0, --versions-per-model at least 1, and no size negative."
            )
        n_models = max(1, round(models * scale))
        return cls(
            users=max(2, round(users * scale)),
            models=n_models,
            versions=max(n_models, round(n_models * versions_per_model)),
            images=max(0, round(images * scale)),
        )


@dataclass(frozen=True)
class Picture:
    """A real picture in storage that seeded gallery images point to."""

    image: str
    thumbnail: str
    width: int
    height: int
    blurhash: str


def proportions(table: dict) -> tuple[list, np.ndarray]:
    keys = list(table)
    values = np.array([table[k] for k in keys], dtype=float)
    return keys, values / values.sum()


def status_codes(statuses: Iterable[Status]) -> list[int]:
    return [STATUSES.index(s) for s in statuses]


def group_starts(counts: np.ndarray) -> np.ndarray:
    """Index of the first child of each parent, for children stored parent by parent."""
    return np.concatenate(([0], np.cumsum(counts)[:-1])).astype(np.int64)


def allocate(rng, total: int, weights: np.ndarray, base: int, cap: int) -> np.ndarray:
    """`total` children over parents: `base` each, the rest in proportion to `weights`, no
    parent above `cap` (the excess goes to parents with room). Sums to `total` exactly."""
    n = len(weights)
    counts = np.full(n, base, dtype=np.int64)
    rest = total - base * n
    p = weights / weights.sum()
    while rest > 0:
        counts += rng.multinomial(rest, p)
        over = counts > cap
        rest = int((counts[over] - cap).sum())
        counts[over] = cap
        room = counts < cap
        if rest and not room.any():
            raise SeedRefused("Too many children for their parents at this scale.")
        p = np.where(room, p, 0)
        p = p / p.sum() if p.sum() else room / room.sum()
    return counts


def distinct_pairs(
    rng, n: int, p_left: np.ndarray, p_right: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """About `n` distinct (left, right) pairs drawn by weight (duplicates dropped)."""
    if n <= 0 or not p_left.sum() or not p_right.sum():
        return np.zeros(0, np.int64), np.zeros(0, np.int64)
    left = rng.choice(len(p_left), n, p=p_left / p_left.sum())
    right = rng.choice(len(p_right), n, p=p_right / p_right.sum())
    keys = np.unique(left.astype(np.int64) * len(p_right) + right)
    return keys // len(p_right), keys % len(p_right)


def moment_between(rng, start: np.ndarray, end: float) -> np.ndarray:
    """A moment between each `start` and `end`, later ones more likely (activity grows)."""
    return start + (end - start) * np.sqrt(rng.random(len(start)))


class Plan:
    """Everything about the seeded rows except their ids, as arrays indexed from 0."""

    def __init__(self, sizes: Sizes, seed: int, now: float, pictures: list[Picture]) -> None:
        self.sizes, self.now, self.pictures = sizes, now, pictures
        self.rng = np.random.default_rng(seed)
        self.text_rng = random.Random(seed)
        self.licenses = {lic.slug: lic for lic in License.objects.all()}
        self.bases = list(BaseModel.objects.select_related("license").order_by("position"))
        self.rules = list(Rule.objects.order_by("position").values_list("id", flat=True))
        group = Group.objects.filter(name=MODERATORS_GROUP).first()
        self.group_id = group.pk if group else None
        self._plan_users()
        self._plan_models()
        self._plan_versions()
        self._plan_names()
        self._plan_images()
        self._plan_community()

    def _plan_users(self) -> None:
        rng, n = self.rng, self.sizes.users
        self.user_staff = np.zeros(n, bool)
        self.user_staff[rng.choice(n, max(1, n // 1000), replace=False)] = True
        self.user_active = (rng.random(n) > 0.003) | self.user_staff
        self.user_joined = self.now - (HISTORY_DAYS + 180) * DAY * rng.random(n) ** 1.5
        # How active each person is: a few people do most of the liking and reviewing.
        self.user_activity = rng.pareto(1.2, n) + 1
        n_creators = max(1, round(n * 0.2))
        creators = rng.choice(n, n_creators, replace=False)
        creator_weight = rng.pareto(1.1, n_creators) + 1
        self.model_owner = creators[
            rng.choice(n_creators, self.sizes.models, p=creator_weight / creator_weight.sum())
        ]

    def _plan_models(self) -> None:
        rng, n = self.rng, self.sizes.models
        types, p = proportions(TYPE_WEIGHTS)
        self.types = types
        self.type_labels = {t: str(t.label) for t in types}  # lazy translations, once
        # Every type at least once when there is room for it.
        self.model_type = rng.choice(len(types), n, p=p)
        self.model_type[: min(n, len(types))] = np.arange(min(n, len(types)))
        rng.shuffle(self.model_type)
        base_slugs, p = proportions({b.slug: BASE_WEIGHTS.get(b.slug, 1) for b in self.bases})
        self.model_base = rng.choice(len(base_slugs), n, p=p)
        ratings, p = proportions(RATING_WEIGHTS)
        self.model_rating = np.array(ratings)[rng.choice(len(ratings), n, p=p)]
        statuses, p = proportions(MODEL_STATUS_WEIGHTS)
        self.model_status = np.array(status_codes(statuses))[rng.choice(len(statuses), n, p=p)]
        self.model_was_published = np.isin(self.model_status, status_codes(WAS_PUBLISHED))
        age = HISTORY_DAYS * DAY * (1 - np.sqrt(rng.random(n))) + DAY
        self.model_created = np.maximum(self.now - age, self.user_joined[self.model_owner] + 60)
        self.model_created = np.minimum(self.model_created, self.now - DAY / 2)
        # Popularity: a Pareto tail, so a few models have most of the downloads; older
        # models have had longer to collect them.
        popularity = (rng.pareto(1.1, n) + 1) * rng.lognormal(0, 0.5, n)
        age_factor = 0.3 + (self.now - self.model_created) / (HISTORY_DAYS * DAY)
        self.model_popularity = popularity * age_factor
        self.model_downloads = np.where(
            self.model_was_published, np.floor(self.model_popularity * 40), 0
        ).astype(np.int64)
        self._plan_licenses()
        tags = TAGS
        tag_weight = 1 / np.arange(1, len(tags) + 1) ** 0.9
        rng.shuffle(tag_weight)
        per_model = np.clip(rng.poisson(3.5, n), 1, 12)
        drawn = rng.choice(len(tags), int(per_model.sum()), p=tag_weight / tag_weight.sum())
        model_of = np.repeat(np.arange(n), per_model)
        keys = np.unique(model_of.astype(np.int64) * len(tags) + drawn)
        self.tag_model, self.tag_index = keys // len(tags), keys % len(tags)
        self.tag_names = tags

    def _plan_licenses(self) -> None:
        """Each model's license and permissions, chosen so the license check finds nothing
        to hold (a held version would not be published): the base model's license, or
        another one the base model allows, permissions within both."""
        rng, n = self.rng, self.sizes.models
        others = [lic for lic in self.licenses.values() if not lic.is_other]
        self.model_license: list[License] = []
        self.model_permissions: list[tuple[str, bool, bool, bool]] = []
        cache: dict[tuple, bool] = {}
        picks = rng.random((n, 4))
        for i in range(n):
            base = self.bases[self.model_base[i]]
            license = base.license
            if license is None or picks[i, 0] < 0.08:
                license = (
                    self.licenses["other"]
                    if picks[i, 0] < 0.01 and "other" in self.licenses
                    else others[int(picks[i, 1] * len(others))]
                )
            ceiling = CommercialUse.rank(license.commercial_use)
            if base.license is not None:
                ceiling = min(ceiling, CommercialUse.rank(base.license.commercial_use))
            commercial = list(CommercialUse)[int(picks[i, 2] * (ceiling + 1))]
            permissions = (
                commercial.value,
                bool(not license.credit_required and picks[i, 3] < 0.5),
                bool(license.derivatives_allowed and picks[i, 3] < 0.95),
                bool(license.relicensing_allowed and picks[i, 3] < 0.3),
            )
            key = (base.pk, license.pk, permissions)
            if key not in cache:
                cache[key] = self._license_passes(base, license, permissions)
            if not cache[key]:
                license = base.license
                permissions = (CommercialUse.NONE.value, False, license.derivatives_allowed, False)
            self.model_license.append(license)
            self.model_permissions.append(permissions)

    def _license_passes(self, base: BaseModel, license: License, permissions: tuple) -> bool:
        if base.license is None:
            return True
        commercial, no_credit, derivatives, relicensing = permissions
        child = license_check.Terms(
            name="seed",
            url="",
            license=license,
            commercial_use=commercial,
            derivatives=derivatives,
            relicensing=relicensing,
            credit=license.credit_required or not no_credit,
        )
        parent = license_check.terms_of_license(base.name, base.license)
        # The check's own rules, so that what is seeded as published would have passed it.
        findings = license_check._lineage_findings(child, parent, "base")
        return all(f.severity == Severity.INFO for f in findings)

    def _plan_versions(self) -> None:
        rng, s = self.rng, self.sizes
        cap = max(5, int(np.ceil(2 * s.versions / s.models)) - 1)
        self.version_count = allocate(rng, s.versions, self.model_popularity**0.3, base=1, cap=cap)
        starts = group_starts(self.version_count)
        self.model_first_version = starts
        model_of = np.repeat(np.arange(s.models), self.version_count)
        self.version_model = model_of
        ordinal = np.arange(s.versions) - starts[model_of]
        self.version_ordinal = ordinal
        # Creation moments: the first version with the model, later ones spread after it.
        frac = rng.random(s.versions) * 0.98
        frac[ordinal == 0] = 0
        order = np.lexsort((frac, model_of))
        frac = frac[order]
        created = self.model_created[model_of]
        self.version_created = created + (self.now - DAY / 4 - created) * frac
        # Statuses, from the model's.
        statuses, p = proportions(VERSION_STATUS_WEIGHTS)
        drawn = np.array(status_codes(statuses))[rng.choice(len(statuses), s.versions, p=p)]
        model_status = self.model_status[model_of]
        was_published = self.model_was_published[model_of]
        status = np.where(was_published, drawn, DRAFT)
        status[was_published & (ordinal == 0)] = PUBLISHED
        last = ordinal == self.version_count[model_of] - 1
        status[(model_status == IN_REVIEW) & last] = IN_REVIEW
        self.version_status = status
        self.version_ever_published = np.isin(status, status_codes(WAS_PUBLISHED))
        self.version_published_at = np.where(
            self.version_ever_published,
            self.version_created + rng.uniform(60, 3600, s.versions),
            np.nan,
        )
        self.version_public = (status == PUBLISHED) & (model_status == PUBLISHED)
        self.version_public &= self.user_active[self.model_owner[model_of]]
        # Staff decisions on versions that were public once (blocked, unpublished).
        self.version_removed_at = np.where(
            np.isin(status, REMOVED),
            moment_between(rng, np.nan_to_num(self.version_published_at), self.now),
            np.nan,
        )
        # Downloads: the model's split over versions that were published, newer ones more.
        share = np.where(self.version_ever_published, rng.gamma(1.0, 1.0, s.versions), 0)
        share *= 1 + ordinal
        totals = np.bincount(model_of, weights=share, minlength=s.models)
        share = np.divide(share, totals[model_of], out=np.zeros_like(share), where=share > 0)
        downloads = np.floor(share * self.model_downloads[model_of]).astype(np.int64)
        remainder = self.model_downloads - np.bincount(
            model_of, weights=downloads, minlength=s.models
        ).astype(np.int64)
        downloads[starts] += remainder  # the first version was always published
        self.version_downloads = downloads
        # What the creator declared: the model's rating, or PG for some that were rated up.
        rating = self.model_rating[model_of]
        declared = np.where(rng.random(s.versions) < 0.1, NsfwLevel.PG, rating)
        self.version_declared = declared.astype(np.int64)

    def _plan_images(self) -> None:
        rng, s = self.rng, self.sizes
        weights = (self.version_downloads + 3.0) ** 0.5
        base = 1 if s.images >= s.versions else 0
        cap = max(MAX_IMAGES_PER_VERSION, int(np.ceil(2 * s.images / s.versions)))
        self.image_count = allocate(rng, s.images, weights, base=base, cap=cap)
        starts = group_starts(self.image_count)
        version_of = np.repeat(np.arange(s.versions), self.image_count)
        self.image_version = version_of
        self.image_position = np.arange(s.images) - starts[version_of]
        self.image_picture = rng.integers(0, len(self.pictures), s.images)
        # Each image rated at or below its model's rating; a few hidden by staff (BLOCKED).
        rating = self.model_rating[self.version_model[version_of]]
        steps = np.floor(rng.random(s.images) ** 0.7 * (np.log2(rating) + 1)).astype(np.int64)
        level = np.left_shift(1, np.log2(rating).astype(np.int64) - steps)
        level = np.maximum(level, 1)
        self.image_check_level = level.copy()
        blocked = rng.random(s.images) < 0.002
        level[blocked] = NsfwLevel.BLOCKED
        self.image_level = level
        self.image_blocked = blocked
        # A version's level: the OR of its images' (hidden ones left out), else declared.
        combined = np.zeros(s.versions, np.int64)
        counted = ~blocked
        np.bitwise_or.at(combined, version_of[counted], level[counted])
        self.version_level = np.where(combined > 0, combined, self.version_declared)
        # A model's level: the OR of its published versions', else what it was uploaded as.
        model_level = np.zeros(s.models, np.int64)
        published = self.version_status == PUBLISHED
        np.bitwise_or.at(model_level, self.version_model[published], self.version_level[published])
        first_declared = self.version_declared[self.model_first_version]
        self.model_level = np.where(model_level > 0, model_level, first_declared)
        # The cover (model_refresh_derived): the first PG image of the newest published
        # version, by position and id; else the first image of any rating.
        candidates = np.flatnonzero(published[version_of])
        cover = np.full(s.models, -1, np.int64)
        if len(candidates):
            cand_version = version_of[candidates]
            order = np.lexsort(
                (
                    candidates,
                    self.image_position[candidates],
                    -self.version_published_at[cand_version],
                    level[candidates] != NsfwLevel.PG,
                    self.version_model[cand_version],
                )
            )
            ordered = candidates[order]
            models_of = self.version_model[version_of[ordered]]
            first_models, first = np.unique(models_of, return_index=True)
            cover[first_models] = ordered[first]
        self.model_cover = cover
        # Reactions and comments go to public images of popular versions, first ones most.
        public = self.version_public[version_of] & ~blocked
        self.image_weight = np.where(
            public,
            (self.version_downloads[version_of] + 1.0) ** 0.7 / (1 + self.image_position) ** 0.5,
            0,
        )

    def _plan_community(self) -> None:
        rng, s = self.rng, self.sizes
        activity = self.user_activity
        public_model = (self.model_status == PUBLISHED) & self.user_active[self.model_owner]
        # Favourites (Model.like_count).
        self.fav_model, self.fav_user = distinct_pairs(
            rng,
            FAVORITES_PER_MODEL * s.models,
            np.where(public_model, self.model_downloads + 1.0, 0),
            activity,
        )
        # Reviews (thumbs); nobody reviews their own model.
        version_weight = np.where(self.version_public, self.version_downloads + 1.0, 0)
        v, u = distinct_pairs(
            rng, round(REVIEWS_PER_VERSION * s.versions), version_weight, activity
        )
        keep = self.model_owner[self.version_model[v]] != u
        self.review_version, self.review_user = v[keep], u[keep]
        n = len(self.review_version)
        self.review_recommended = rng.random(n) < 0.88
        self.review_hidden = rng.random(n) < 0.005
        # Comments on models and on images, some of them replies.
        self.model_comments = self._comments(
            round(COMMENTS_PER_MODEL * s.models),
            np.where(public_model, (self.model_downloads + 1.0) ** 0.8, 0),
            start=np.nan_to_num(self.version_published_at[self.model_first_version]),
            reply_share=0.25,
        )
        self.image_comments = self._comments(
            round(COMMENTS_PER_IMAGE * s.images),
            self.image_weight,
            start=np.nan_to_num(self.version_published_at[self.image_version]),
            reply_share=0.15,
        )
        # Reactions: (image, user, kind) once each.
        kinds = list(Reaction.Kind)
        n = round(REACTIONS_PER_IMAGE * s.images)
        if n and self.image_weight.sum():
            image = rng.choice(s.images, n, p=self.image_weight / self.image_weight.sum())
            user = rng.choice(s.users, n, p=activity / activity.sum())
            kind = rng.choice(len(kinds), n, p=[0.5, 0.3, 0.12, 0.08])
            keys = np.unique((image.astype(np.int64) * s.users + user) * len(kinds) + kind)
            self.reaction_kind = keys % len(kinds)
            self.reaction_user = keys // len(kinds) % s.users
            self.reaction_image = keys // len(kinds) // s.users
        else:
            self.reaction_kind = self.reaction_user = self.reaction_image = np.zeros(0, np.int64)
        self.kinds = kinds
        # Follows, mostly of creators with many downloads; never oneself.
        creator_downloads = np.bincount(
            self.model_owner, weights=self.model_downloads, minlength=s.users
        )
        f, c = distinct_pairs(
            rng, FOLLOWS_PER_USER * s.users, activity, (creator_downloads + 0.01) ** 0.8
        )
        keep = f != c
        self.follow_follower, self.follow_creator = f[keep], c[keep]

    def _comments(self, n: int, weights: np.ndarray, *, start: np.ndarray, reply_share: float):
        """Comments on targets (models or images) by weight, in time order per target, a
        share of them replies to an earlier comment on the same target."""
        rng, s = self.rng, self.sizes
        if n <= 0 or not weights.sum():
            empty = np.zeros(0, np.int64)
            return {"target": empty, "user": empty, "at": empty.astype(float), "parent": empty,
                    "hidden": empty.astype(bool), "deleted": empty.astype(bool)}  # fmt: skip
        target = np.sort(rng.choice(len(weights), n, p=weights / weights.sum()))
        at = moment_between(rng, start[target] + 60, self.now)
        order = np.lexsort((at, target))
        target, at = target[order], at[order]
        first = np.searchsorted(target, target, side="left")
        earlier = np.arange(n) - first
        parent = first + np.floor(rng.random(n) * earlier).astype(np.int64)
        parent = np.where((earlier > 0) & (rng.random(n) < reply_share), parent, -1)
        user = rng.choice(s.users, n, p=self.user_activity / self.user_activity.sum())
        return {
            "target": target, "user": user, "at": at, "parent": parent,
            "hidden": rng.random(n) < 0.01, "deleted": rng.random(n) < 0.01,
        }  # fmt: skip

    def _trained_words(self) -> list[list[str]]:
        rng, s = self.rng, self.sizes
        count = rng.integers(1, 4, s.versions)
        first = rng.integers(0, len(ADJECTIVES), (s.versions, 3))
        second = rng.integers(0, len(NOUNS), (s.versions, 3))
        words = []
        for v in range(s.versions):
            if self.types[self.model_type[self.version_model[v]]] not in TRIGGERED_TYPES:
                words.append([])
                continue
            words.append(
                [f"{ADJECTIVES[first[v, k]]}_{NOUNS[second[v, k]]}" for k in range(count[v])]
            )
        return words

    def _plan_names(self) -> None:
        rng, s = self.rng, self.sizes
        adjective = rng.integers(0, len(ADJECTIVES), s.models)
        noun = rng.integers(0, len(NOUNS), s.models)
        suffix = rng.integers(0, len(SUFFIXES), s.models)
        self.model_names = [
            " ".join(p for p in (ADJECTIVES[a].title(), NOUNS[b].title(), SUFFIXES[c]) if p)
            for a, b, c in zip(adjective, noun, suffix, strict=True)
        ]
        self.trained_words = self._trained_words()
        # Why staff removed each blocked or unpublished version (its hold_reason and action).
        removed = np.flatnonzero(np.isin(self.version_status, REMOVED))
        reasons = rng.integers(0, len(MODERATION_REASONS), len(removed))
        self.version_reason = {
            int(v): MODERATION_REASONS[r] for v, r in zip(removed, reasons, strict=True)
        }
