"""Mission kinds from the registry (missions/kinds.py): "payments on different days" becomes a kind of
its own instead of a flag on the payment kind, and kind codes may be longer."""

from django.db import migrations, models

import missions.kinds


def days_flag_to_kind(apps, schema_editor):
    Mission = apps.get_model("missions", "Mission")
    Mission.objects.filter(kind="payment", distinct_days=True).update(kind="payment_days")


def days_kind_to_flag(apps, schema_editor):
    Mission = apps.get_model("missions", "Mission")
    Mission.objects.filter(kind="payment_days").update(kind="payment", distinct_days=True)


class Migration(migrations.Migration):
    dependencies = [("missions", "0005_card_indexes_for_reads")]

    operations = [
        migrations.AlterField(
            model_name="mission",
            name="kind",
            field=models.CharField(choices=missions.kinds.KIND_CHOICES, max_length=32, verbose_name="counts"),
        ),
        migrations.RunPython(days_flag_to_kind, days_kind_to_flag),
        migrations.RemoveField(model_name="mission", name="distinct_days"),
        migrations.RemoveField(model_name="historicalmission", name="distinct_days"),
        migrations.AlterField(
            model_name="historicalmission",
            name="kind",
            field=models.CharField(choices=missions.kinds.KIND_CHOICES, max_length=32, verbose_name="counts"),
        ),
    ]
