"""Keep each model's search vector in a stored generated column (PostgreSQL only).

Ranking a text search ran `to_tsvector` again for every matching row: "anime" matches about
half of 100,000 seeded models, and the ranked API page took 0.9 s of SQL. PostgreSQL now
computes the vector once, when `search_document` is written, and the GIN index is built on
that column instead of on the expression (docs/PERFORMANCE.md). The column is not a field on
the model, so ordinary reads do not fetch it; `models_hub.selectors.search_models` names it.
SQLite, which has no full-text vectors, is left as it was.
"""

from django.db import migrations

VECTOR = "to_tsvector('simple'::regconfig, COALESCE(search_document, ''))"

FORWARD = [
    f"ALTER TABLE models_hub_model ADD COLUMN search_vector tsvector "
    f"GENERATED ALWAYS AS ({VECTOR}) STORED",
    "CREATE INDEX models_hub_model_search_vector ON models_hub_model USING gin (search_vector)",
    "DROP INDEX IF EXISTS models_hub_model_search_gin",
]
BACKWARD = [
    f"CREATE INDEX IF NOT EXISTS models_hub_model_search_gin ON models_hub_model "
    f"USING gin ({VECTOR})",
    "ALTER TABLE models_hub_model DROP COLUMN search_vector",
]


def _run(statements):
    def run(apps, schema_editor):
        if schema_editor.connection.vendor == "postgresql":
            for sql in statements:
                schema_editor.execute(sql)

    return run


class Migration(migrations.Migration):
    dependencies = [
        ("models_hub", "0014_gallery_image_path_indexes"),
    ]

    operations = [
        migrations.RunPython(_run(FORWARD), _run(BACKWARD), elidable=False),
    ]
