"""The staff groups marketing, operations and lottery with their least-privilege permissions (SPEC §4)."""

from django.contrib.auth.management import create_permissions
from django.db import migrations


def staff_roles_create(apps, schema_editor):
    from campaign.roles import staff_roles_sync

    # Permissions are normally created after all migrations (post_migrate); create them now
    # so the groups can be given them in this same migrate run.
    for app_config in apps.get_app_configs():
        app_config.models_module = True
        create_permissions(app_config, apps=apps, verbosity=0)
        app_config.models_module = None
    staff_roles_sync(apps=apps)


class Migration(migrations.Migration):
    dependencies = [
        ("auth", "0012_alter_user_first_name_max_length"),
        ("contenttypes", "0002_remove_content_type_name"),
        ("campaign", "0002_initial"),
        ("missions", "0001_initial"),
        ("merchants", "0002_import_export_permissions"),
        ("lottery", "0001_initial"),
    ]

    operations = [migrations.RunPython(staff_roles_create, migrations.RunPython.noop)]
