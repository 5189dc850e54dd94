"""The license and lineage check: a child may not grant more than its license or any parent."""

from __future__ import annotations

import pytest

from models_hub.choices import CommercialUse
from models_hub.models import BaseModel, License, VersionParent
from moderation.checks import license as license_check
from moderation.checks.findings import RuleCode, Severity
from tests.factories import FileFactory, ModelFactory, VersionFactory

pytestmark = pytest.mark.django_db


def lic(slug: str) -> License:
    return License.objects.get(slug=slug)


def base(slug: str) -> BaseModel:
    return BaseModel.objects.get(slug=slug)


def child(
    license="creativeml-openrail-m", base_model="sd-1-5", commercial=CommercialUse.NONE, **model_kw
):
    model = ModelFactory(license=lic(license), allow_commercial_use=commercial, **model_kw)
    return VersionFactory(model=model, base_model=base(base_model))


def parent_version(license="creativeml-openrail-m", **model_kw):
    return VersionFactory(model=ModelFactory(license=lic(license), **model_kw))


def declare(version, parent):
    VersionParent.objects.create(version=version, parent_version=parent, name=str(parent))


def holds_and_blocks(version):
    findings, _ = license_check.run(version)
    return [f for f in findings if f.severity != Severity.INFO]


def test_a_clean_child_of_a_compatible_parent_has_no_conflicts():
    version = child(allow_no_credit=True)
    declare(version, parent_version(allow_no_credit=True))
    assert holds_and_blocks(version) == []


def test_selling_under_a_non_commercial_license_is_a_finding():
    version = child(license="cc-by-nc-4.0", base_model="flux-1-schnell", commercial="Sell")
    findings = holds_and_blocks(version)
    assert any("CC-BY-NC-4.0 allows at most" in f.message for f in findings), findings
    assert all(f.rule == RuleCode.LICENSE for f in findings)


def test_other_license_without_link_and_text_is_held():
    version = child(license="other", base_model="other")
    messages = [f.message for f in holds_and_blocks(version)]
    assert any("Give a link" in m for m in messages)
    assert any("Paste the text" in m for m in messages)


def test_parent_without_derivatives_blocks_the_child():
    version = child()
    declare(version, parent_version(allow_derivatives=False))
    findings = holds_and_blocks(version)
    blocks = [f for f in findings if f.severity == Severity.BLOCK]
    assert len(blocks) == 1 and "does not allow derivatives" in blocks[0].message


def test_non_commercial_parent_caps_the_child_at_none():
    version = child(commercial="Image")
    declare(version, parent_version(allow_commercial_use="None"))
    findings = holds_and_blocks(version)
    assert [f.evidence.get("allowed_commercial_use") for f in findings] == ["None"]
    assert findings[0].severity == Severity.HOLD


def test_flux_dev_base_model_means_non_commercial_and_same_license():
    version = child(license="creativeml-openrail-m", base_model="flux-1-dev", commercial="Rent")
    messages = " ".join(f.message for f in holds_and_blocks(version))
    assert "The base model FLUX.1 dev" in messages
    assert "commercial use only up to" in messages
    assert "requires derivatives to keep its license" in messages
    ok = child(license="flux-1-dev-non-commercial", base_model="flux-1-dev")
    assert holds_and_blocks(ok) == []


def test_parent_that_forbids_relicensing_requires_the_same_license():
    version = child(license="creativeml-openrail-m")
    declare(version, parent_version(license="cc-by-sa-4.0", allow_no_credit=True))
    messages = [f.message for f in holds_and_blocks(version)]
    assert any("keep its license" in m and "CC-BY-SA-4.0" in m for m in messages)


def test_openrail_parent_requires_the_use_restrictions_to_carry():
    version = child(license="mit", base_model="flux-1-schnell")
    declare(version, parent_version(license="creativeml-openrail-m", allow_no_credit=True))
    messages = [f.message for f in holds_and_blocks(version)]
    assert any("use restrictions that every derivative must carry" in m for m in messages)


def test_parent_requiring_credit_is_credited_on_the_page(client):
    version = child()
    parent = parent_version(license="cc-by-4.0")
    declare(version, parent)
    findings, result = license_check.run(version)
    notes = [f for f in findings if f.severity == Severity.INFO and f.evidence.get("credit")]
    assert [n.evidence["parent"] for n in notes] == [str(parent)]
    assert str(parent) in result["credits"]


def test_parent_named_in_metadata_but_not_declared_is_held():
    version = child()
    FileFactory(
        version=version,
        named_parents=[
            {"name": "secretMix_v3.safetensors", "hash": "", "source": "sd_merge_recipe"}
        ],
    )
    findings = holds_and_blocks(version)
    assert len(findings) == 1
    assert "secretMix_v3.safetensors" in findings[0].message
    assert findings[0].evidence["undeclared_parent"]["source"] == "sd_merge_recipe"


def test_metadata_naming_the_base_checkpoint_or_a_declared_parent_is_fine():
    version = child()
    parent = parent_version(allow_no_credit=True)
    parent_file = FileFactory(version=parent, sha256="ab" * 32, autov2="abababab12")
    declare(version, parent)
    FileFactory(
        version=version,
        named_parents=[
            {"name": "v1-5-pruned-emaonly.safetensors", "hash": "", "source": "ss_sd_model_name"},
            {"name": "whatever", "hash": parent_file.sha256[:10], "source": "sd_merge_models"},
        ],
    )
    assert holds_and_blocks(version) == []


def test_an_undeclared_parent_found_on_the_hub_by_hash_is_checked_too():
    version = child()
    hidden = parent_version(allow_derivatives=False)
    FileFactory(version=hidden, sha256="cd" * 32)
    FileFactory(
        version=version,
        named_parents=[{"name": "x", "hash": "cd" * 32, "source": "ss_sd_model_name"}],
    )
    severities = sorted(f.severity for f in holds_and_blocks(version))
    assert severities == [Severity.BLOCK, Severity.HOLD]


def test_a_parent_found_by_hash_must_be_public_for_its_name_to_be_used():
    from models_hub.choices import Status

    version = child()
    draft = parent_version(allow_derivatives=False)
    type(draft).objects.filter(pk=draft.pk).update(status=Status.DRAFT)
    draft.model.__class__.objects.filter(pk=draft.model_id).update(status=Status.DRAFT)
    FileFactory(version=draft, sha256="ef" * 32)
    FileFactory(
        version=version,
        named_parents=[{"name": "x", "hash": "ef" * 32, "source": "ss_sd_model_name"}],
    )
    findings, result = license_check.run(version)
    # Someone's private draft is not named, linked or credited on a public page.
    draft_url = draft.model.get_absolute_url()
    assert all(draft_url not in (p["parent_url"] or "") for p in result["parents"])
    assert all(p["relation"] != "named" for p in result["parents"])
    assert not any("derivatives" in f.message.lower() for f in findings)
