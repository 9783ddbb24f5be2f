"""Lean write path for the scoring tables on PostgreSQL: no per-row FK checks, no redundant indexes.

A full re-score writes about 1.3 million stamps, 0.6 million ledger lines and one stamp card per
member; every inserted row paid a deferred foreign-key check per FK at commit (a third of the
re-score) and an entry in every index. This migration removes, on PostgreSQL only:

- the database FK constraints of the columns the scoring engine writes (stamp: campaign, member,
  mission, clearing transaction and video view; ledger line: campaign, member, mission; stamp
  card: campaign, member). The engine only writes ids it has just read under the chunk's card
  locks (members of the campaign's own records, the campaign's active missions, the records
  that cleared the mission), and deletions go through Django, whose collector still applies
  every ``on_delete`` (CASCADE, PROTECT, SET_NULL) as declared on the models. Double awards stay
  impossible: that is the ledger's unique constraint ``ledger_line_once``, which is kept.
- the single-column indexes that duplicate the leading column of a kept index: stamp
  ``member_id`` (of ``stamp_one_per_mission``) and ``mission_id`` (of ``stamp_mission_cleared``);
  ledger ``campaign_id`` (of ``ledger_line_once``), ``member_id`` (of ``ledger_member``) and the
  auto-index on ``export_id`` (same column as ``ledger_export``); stamp card ``campaign_id`` (of
  ``stamp_card_unique``); and the ``varchar_pattern_ops`` copies of ``member_id`` (the admin
  searches members case-insensitively, which no index serves).

The model state is unchanged (the ORM's behaviour does not depend on it), so this is done with
introspection rather than ``AlterField``; SQLite keeps its schema. The reverse recreates all of it.
"""

from django.db import migrations

# (model, FK fields whose constraint goes, fields whose single-column index goes)
LEAN = [
    (
        "Stamp",
        ["campaign", "member", "mission", "cleared_by_transaction", "cleared_by_video_view"],
        ["member", "mission"],
    ),
    ("LedgerLine", ["campaign", "member", "mission"], ["campaign", "member", "export"]),
    ("StampCard", ["campaign", "member"], ["campaign"]),
]
# Kept in any case: indexes declared in the models' Meta (``ledger_export`` is on ``export_id`` alone).
KEEP = {"ledger_export", "card_lottery", "card_stamps", "stamp_mission_cleared", "ledger_member"}
LIKE_ONLY = {("StampCard", "member")}  # the card's member_id index serves the member's cascade: keep it


def _lean(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for model_name, fks, indexed in LEAN:
        model = apps.get_model("missions", model_name)
        for name in fks:
            column = model._meta.get_field(name).column
            for constraint in schema_editor._constraint_names(model, [column], foreign_key=True):
                schema_editor.execute(schema_editor._delete_fk_sql(model, constraint))
        for name in [*indexed, *(f for m, f in LIKE_ONLY if m == model_name)]:
            column = model._meta.get_field(name).column
            for index in schema_editor._constraint_names(model, [column], index=True, unique=False, primary_key=False):
                if index in KEEP or ((model_name, name) in LIKE_ONLY and not index.endswith("_like")):
                    continue
                schema_editor.execute(schema_editor._delete_index_sql(model, index))
        # The member_id pattern-ops copies of the stamp and the ledger go with their plain index above.


def _restore(apps, schema_editor):
    if schema_editor.connection.vendor != "postgresql":
        return
    for model_name, fks, indexed in LEAN:
        model = apps.get_model("missions", model_name)
        for name in fks:
            field = model._meta.get_field(name)
            if not schema_editor._constraint_names(model, [field.column], foreign_key=True):
                schema_editor.execute(schema_editor._create_fk_sql(model, field, "_fk_%(to_table)s_%(to_column)s"))
        for name in [*indexed, *(f for m, f in LIKE_ONLY if m == model_name)]:
            field = model._meta.get_field(name)
            existing = set(schema_editor._constraint_names(model, [field.column], index=True, unique=False))
            plain = schema_editor._create_index_name(model._meta.db_table, [field.column])
            if plain not in existing and (model_name, name) not in LIKE_ONLY:
                schema_editor.execute(schema_editor._create_index_sql(model, fields=[field]))
            like = schema_editor._create_like_index_sql(model, field)
            if (
                like is not None
                and schema_editor._create_index_name(model._meta.db_table, [field.column], suffix="_like")
                not in existing
            ):
                schema_editor.execute(like)


class Migration(migrations.Migration):
    dependencies = [("missions", "0001_initial")]

    operations = [migrations.RunPython(_lean, _restore, elidable=False)]
