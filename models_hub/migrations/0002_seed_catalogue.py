"""Seed the licenses and base models, and index search on PostgreSQL."""

from django.db import migrations

# slug, name, url, commercial use, credit, derivatives, relicensing, use restrictions, summary
LICENSES = [
    (
        "creativeml-openrail-m",
        "CreativeML Open RAIL-M",
        "https://huggingface.co/spaces/CompVis/stable-diffusion-license",
        "Sell",
        False,
        True,
        True,
        True,
        "Open use, including commercial, under use restrictions that every derivative must carry.",
    ),
    (
        "creativeml-openrail-plus-plus-m",
        "CreativeML Open RAIL++-M",
        "https://github.com/Stability-AI/generative-models/blob/main/model_licenses/LICENSE-SDXL1.0",
        "Sell",
        False,
        True,
        True,
        True,
        "The SDXL license: open use, including commercial, under carried-forward use restrictions.",
    ),
    (
        "openrail-m",
        "OpenRAIL-M",
        "https://www.licenses.ai/blog/2022/8/26/bigscience-open-rail-m-license",
        "Sell",
        False,
        True,
        True,
        True,
        "Open use under behavioural use restrictions that derivatives must keep.",
    ),
    (
        "flux-1-dev-non-commercial",
        "FLUX.1 [dev] Non-Commercial License",
        "https://huggingface.co/black-forest-labs/FLUX.1-dev/blob/main/LICENSE.md",
        "None",
        False,
        True,
        False,
        True,
        "Non-commercial use of the model and its derivatives only, under an acceptable use policy.",
    ),
    (
        "stabilityai-community",
        "Stability AI Community License",
        "https://stability.ai/community-license-agreement",
        "Sell",
        True,
        True,
        False,
        True,
        "Commercial use is free only below USD 1M annual revenue; attribution and the acceptable "
        "use policy are required.",
    ),
    (
        "apache-2.0",
        "Apache-2.0",
        "https://www.apache.org/licenses/LICENSE-2.0",
        "Sell",
        True,
        True,
        True,
        False,
        "Permissive: any use, keep the notice.",
    ),
    (
        "mit",
        "MIT",
        "https://opensource.org/license/mit",
        "Sell",
        True,
        True,
        True,
        False,
        "Permissive: any use, keep the copyright notice.",
    ),
    (
        "cc0-1.0",
        "CC0-1.0",
        "https://creativecommons.org/publicdomain/zero/1.0/",
        "Sell",
        False,
        True,
        True,
        False,
        "Public domain dedication: no conditions.",
    ),
    (
        "cc-by-4.0",
        "CC-BY-4.0",
        "https://creativecommons.org/licenses/by/4.0/",
        "Sell",
        True,
        True,
        True,
        False,
        "Any use with credit to the creator.",
    ),
    (
        "cc-by-sa-4.0",
        "CC-BY-SA-4.0",
        "https://creativecommons.org/licenses/by-sa/4.0/",
        "Sell",
        True,
        True,
        False,
        False,
        "Any use with credit; derivatives must be shared under the same license.",
    ),
    (
        "cc-by-nc-4.0",
        "CC-BY-NC-4.0",
        "https://creativecommons.org/licenses/by-nc/4.0/",
        "None",
        True,
        True,
        False,
        False,
        "Non-commercial use only, with credit.",
    ),
]

# slug, name, license slug
BASE_MODELS = [
    ("sd-1-5", "SD 1.5", "creativeml-openrail-m"),
    ("sdxl-1-0", "SDXL 1.0", "creativeml-openrail-plus-plus-m"),
    ("pony", "Pony", "creativeml-openrail-plus-plus-m"),
    ("illustrious", "Illustrious", "creativeml-openrail-plus-plus-m"),
    ("sd-3-5", "SD 3.5", "stabilityai-community"),
    ("flux-1-dev", "FLUX.1 dev", "flux-1-dev-non-commercial"),
    ("flux-1-schnell", "FLUX.1 schnell", "apache-2.0"),
    ("other", "Other", None),
]

SEARCH_INDEX = (
    "CREATE INDEX IF NOT EXISTS models_hub_model_search_gin ON models_hub_model "
    "USING gin (to_tsvector('simple'::regconfig, COALESCE(search_document, '')))"
)


def seed(apps, schema_editor):
    License = apps.get_model("models_hub", "License")
    BaseModel = apps.get_model("models_hub", "BaseModel")
    for position, row in enumerate(LICENSES):
        slug, name, url, commercial, credit, derivatives, relicensing, restricted, summary = row
        License.objects.update_or_create(
            slug=slug,
            defaults=dict(
                name=name,
                url=url,
                commercial_use=commercial,
                credit_required=credit,
                derivatives_allowed=derivatives,
                relicensing_allowed=relicensing,
                has_use_restrictions=restricted,
                summary=summary,
                position=position,
            ),
        )
    License.objects.update_or_create(
        slug="other",
        defaults=dict(
            name="Other",
            url="",
            commercial_use="Sell",
            credit_required=False,
            derivatives_allowed=True,
            relicensing_allowed=True,
            has_use_restrictions=False,
            is_other=True,
            position=len(LICENSES),
            summary="A license not in this list: the uploader gives its link and text.",
        ),
    )
    for position, (slug, name, license_slug) in enumerate(BASE_MODELS):
        license = License.objects.get(slug=license_slug) if license_slug else None
        BaseModel.objects.update_or_create(
            slug=slug, defaults=dict(name=name, license=license, position=position)
        )


def create_search_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(SEARCH_INDEX)


def drop_search_index(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute("DROP INDEX IF EXISTS models_hub_model_search_gin")


class Migration(migrations.Migration):
    dependencies = [("models_hub", "0001_initial")]

    operations = [
        migrations.RunPython(seed, migrations.RunPython.noop),
        migrations.RunPython(create_search_index, drop_search_index),
    ]
