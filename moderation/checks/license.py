"""License and lineage check of one version.

The child's permissions may not exceed its own license, nor the most restrictive of its
parents: the versions it declares, the base model it was made for, and the models its files'
own metadata name. Conflicts are explained in plain words with the parent and its license.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import PurePosixPath

from django.contrib.auth.models import AnonymousUser

from models_hub.choices import CommercialUse
from models_hub.models import License, ModelVersion
from models_hub.selectors import versions_by_file_hash
from models_hub.validation import license_permission_errors
from moderation.checks.findings import Finding, RuleCode, Severity

CHECKER_VERSION = 1

# File names of well-known base checkpoints, as training and merge tools record them, so
# that "trained on v1-5-pruned-emaonly.safetensors" counts as the declared base model.
BASE_MODEL_FILE_NAMES = {
    "sd-1-5": ["v15pruned", "v15prunedemaonly", "sdv15", "stablediffusionv15", "sd15"],
    "sdxl-1-0": ["sdxlbase10", "sdxlbase", "stablediffusionxlbase10", "sdxl10"],
    "pony": ["ponydiffusionv6xl", "ponydiffusion"],
    "illustrious": ["illustriousxl", "illustrious"],
    "sd-3-5": ["sd35large", "sd35medium", "stablediffusion35"],
    "flux-1-dev": ["flux1dev", "fluxdev"],
    "flux-1-schnell": ["flux1schnell", "fluxschnell"],
}


# How a conflict message names the parent, by how the version is related to it.
RELATION_PHRASES = {
    "base": "The base model {name}",
    "merge": "The parent {name}",
    "finetune": "The parent {name}",
    "named": "{name}, named in the file's metadata,",
}


@dataclass(frozen=True)
class Terms:
    """What a model (or a base model) lets others do, after its license caps its own claims."""

    name: str
    url: str
    license: License | None
    commercial_use: str
    derivatives: bool
    relicensing: bool
    credit: bool

    @property
    def license_name(self) -> str:
        return self.license.name if self.license else "an unknown license"

    def as_evidence(self) -> dict:
        return {
            "parent": self.name,
            "parent_url": self.url,
            "license": self.license.slug if self.license else "",
            "license_name": self.license_name,
            "license_url": self.license.url if self.license else "",
        }


def _min_commercial(a: str, b: str) -> str:
    return a if CommercialUse.rank(a) <= CommercialUse.rank(b) else b


def terms_of_version(version: ModelVersion) -> Terms:
    model = version.model
    license = model.license
    return Terms(
        name=str(version),
        url=model.get_absolute_url(),
        license=license,
        commercial_use=_min_commercial(model.allow_commercial_use, license.commercial_use),
        derivatives=model.allow_derivatives and license.derivatives_allowed,
        relicensing=model.allow_different_license and license.relicensing_allowed,
        credit=license.credit_required or not model.allow_no_credit,
    )


def terms_of_license(name: str, license: License) -> Terms:
    return Terms(
        name=name,
        url=license.url,
        license=license,
        commercial_use=license.commercial_use,
        derivatives=license.derivatives_allowed,
        relicensing=license.relicensing_allowed,
        credit=license.credit_required,
    )


def _compact(name: str) -> str:
    """'models/SD_XL base 1.0.safetensors' -> 'sdxlbase10': what name comparisons use."""
    stem = PurePosixPath(name.replace("\\", "/")).name
    stem = re.sub(r"\.(safetensors|ckpt|pt|pth|bin|gguf)$", "", stem, flags=re.IGNORECASE)
    return re.sub(r"[^0-9a-z]", "", stem.casefold())


def _hash_matches(a: str, b: str) -> bool:
    a, b = a.strip().lower(), b.strip().lower()
    return len(a) >= 8 and len(b) >= 8 and (a.startswith(b) or b.startswith(a))


def _file_hashes(version: ModelVersion) -> list[str]:
    return [
        value
        for f in version.files.all()
        for value in (f.sha256, f.autov1, f.autov2, f.autov3)
        if value
    ]


def _hub_version_by_hash(digest: str) -> ModelVersion | None:
    """The public version holding a file with this hash: only what everyone may see can be
    named as a parent (its name and link are shown on the child's page)."""
    # versions_by_file_hash already keeps what anyone may see, newest first.
    return versions_by_file_hash(digest, AnonymousUser()).select_related("model__license").first()


def _is_base_model(name: str, version: ModelVersion) -> bool:
    compact = _compact(name)
    base = version.base_model
    known = [_compact(base.name), *BASE_MODEL_FILE_NAMES.get(base.slug, [])]
    return bool(compact) and any(alias and alias in compact for alias in known)


def _declared_parent_for(named: dict, declared: list) -> object | None:
    name, digest = str(named.get("name", "")), str(named.get("hash", ""))
    for parent in declared:
        hashes = [parent.external_hash]
        if parent.parent_version is not None:
            hashes += _file_hashes(parent.parent_version)
            names = [parent.name, parent.parent_version.model.name]
        else:
            names = [parent.name]
        if digest and any(_hash_matches(digest, h) for h in hashes if h):
            return parent
        compact = _compact(name)
        if compact and any(
            _compact(n) and (_compact(n) in compact or compact in _compact(n)) for n in names
        ):
            return parent
    return None


def _own_license_findings(version: ModelVersion) -> list[Finding]:
    """What the model grants beyond its own license: the upload form's rule, re-checked
    here because the license or the permissions may have changed since (admin, API)."""
    model, license = version.model, version.model.license
    errors = license_permission_errors(
        license=license,
        allow_commercial_use=model.allow_commercial_use,
        allow_no_credit=model.allow_no_credit,
        allow_derivatives=model.allow_derivatives,
        allow_different_license=model.allow_different_license,
        license_other_url=model.license_other_url,
        license_other_text=model.license_other_text,
    )
    evidence = {"license": license.slug, "license_name": license.name, "license_url": license.url}
    return [
        Finding(RuleCode.LICENSE, Severity.HOLD, message, evidence={**evidence, "field": field})
        for field, message in errors.items()
    ]


def _lineage_findings(child: Terms, parent: Terms, relation: str) -> list[Finding]:
    evidence = {**parent.as_evidence(), "relation": relation}
    label = f"{RELATION_PHRASES[relation].format(name=parent.name)} ({parent.license_name})"
    findings = []
    if not parent.derivatives:
        findings.append(
            Finding(
                RuleCode.LICENSE,
                Severity.BLOCK,
                f"{label} does not allow derivatives, so a model made from it cannot be shared.",
                evidence=evidence,
            )
        )
    if CommercialUse.rank(child.commercial_use) > CommercialUse.rank(parent.commercial_use):
        allowed = CommercialUse(parent.commercial_use).label
        findings.append(
            Finding(
                RuleCode.LICENSE,
                Severity.HOLD,
                f"{label} allows commercial use only up to “{allowed}”, but this model "
                f"allows “{CommercialUse(child.commercial_use).label}”. Lower it to “{allowed}”.",
                evidence={**evidence, "allowed_commercial_use": parent.commercial_use},
            )
        )
    if not parent.relicensing and parent.license and child.license != parent.license:
        findings.append(
            Finding(
                RuleCode.LICENSE,
                Severity.HOLD,
                f"{label} requires derivatives to keep its license, but this model uses "
                f"{child.license_name}. Choose {parent.license_name}.",
                evidence=evidence,
            )
        )
    if (
        parent.license
        and parent.license.has_use_restrictions
        and not (child.license and child.license.has_use_restrictions)
    ):
        findings.append(
            Finding(
                RuleCode.LICENSE,
                Severity.HOLD,
                f"{label} has use restrictions that every derivative must carry, and "
                f"{child.license_name} does not carry them. Choose {parent.license_name} or "
                "another license of the same family.",
                evidence=evidence,
            )
        )
    if parent.credit:
        findings.append(
            Finding(
                RuleCode.LICENSE,
                Severity.INFO,
                f"Credit {parent.name}: its terms require it. The version page names it.",
                evidence={**evidence, "credit": True},
            )
        )
    return findings


def run(version: ModelVersion) -> tuple[list[Finding], dict]:
    """All license findings of a version, and the parents it was judged against."""
    version = ModelVersion.objects.select_related("model__license", "base_model__license").get(
        pk=version.pk
    )
    child = terms_of_version(version)
    findings = _own_license_findings(version)
    parents: list[tuple[Terms, str]] = []
    base = version.base_model
    if base.license is not None:
        parents.append((terms_of_license(base.name, base.license), "base"))
    declared = list(
        version.parents.select_related("parent_version__model__license").prefetch_related(
            "parent_version__files"
        )
    )
    unknown_external = []
    for parent in declared:
        hub_version = parent.parent_version
        if hub_version is None and parent.external_hash:
            hub_version = _hub_version_by_hash(parent.external_hash)
        if hub_version is not None:
            parents.append((terms_of_version(hub_version), parent.relation))
        else:
            unknown_external.append(parent.name)

    undeclared = []
    for model_file in version.files.all():
        for named in model_file.named_parents:
            if not isinstance(named, dict) or _is_base_model(str(named.get("name", "")), version):
                continue
            if _declared_parent_for(named, declared) is not None:
                continue
            undeclared.append({**named, "file": model_file.name})
            hub_version = _hub_version_by_hash(str(named.get("hash", "")))
            if hub_version is not None and hub_version.pk != version.pk:
                parents.append((terms_of_version(hub_version), "named"))
    for named in undeclared:
        findings.append(
            Finding(
                RuleCode.LICENSE,
                Severity.HOLD,
                f"The file {named['file']} says it was made from {named.get('name')} "
                f"(its “{named.get('source') or 'metadata'}”), which is not declared as a "
                "parent. Declare it, or staff will look at it.",
                evidence={"undeclared_parent": named},
            )
        )
    for name in unknown_external:
        findings.append(
            Finding(
                RuleCode.LICENSE,
                Severity.INFO,
                f"The parent {name} is not on this hub, so its license could not be checked. "
                "You are responsible for respecting it.",
                evidence={"parent": name},
            )
        )
    for terms, relation in parents:
        findings.extend(_lineage_findings(child, terms, relation))
    result = {
        "parents": [{**terms.as_evidence(), "relation": rel} for terms, rel in parents],
        "credits": sorted({t.name for t, _ in parents if t.credit}),
    }
    return findings, result
