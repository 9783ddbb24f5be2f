"""Staff roles (SPEC §4): which permissions each staff group holds, and nothing more.

The groups are created by the data migration ``campaign/0002_staff_roles`` and can be
re-applied with :func:`staff_roles_sync` (idempotent: a group ends with exactly these
permissions). The README's "Staff roles" section describes them for people.
"""

from __future__ import annotations

from django.apps import apps as global_apps
from django.utils.translation import gettext_noop

MARKETING = "marketing"
OPERATIONS = "operations"
LOTTERY = "lottery"

# Permissions that no model's Meta declares: (app_label, model, codename, name); the name is stored in
# English and translated where it is shown (campaign.admin_auth).
CUSTOM_PERMISSIONS = [
    ("campaign", "campaign", "view_dashboard", gettext_noop("Can view the campaign dashboard")),
    ("missions", "stampcard", "rescore_member", gettext_noop("Can re-score members")),
]

STAFF_ROLES: dict[str, list[str]] = {
    # Merchants and the bonus list, mission texts and rewards, the dashboard.
    MARKETING: [
        "merchants.view_district",
        "merchants.add_district",
        "merchants.change_district",
        "merchants.import_district",
        "merchants.export_district",
        "merchants.view_merchant",
        "merchants.add_merchant",
        "merchants.change_merchant",
        "merchants.import_merchant",
        "merchants.export_merchant",
        "missions.view_course",
        "missions.change_course",
        "missions.view_mission",
        "missions.change_mission",
        "missions.view_video",
        "missions.change_video",
        "campaign.view_dashboard",
    ],
    # Transaction imports, entries, the members' stamps and ledger, re-scoring, point exports.
    OPERATIONS: [
        "campaign.view_importbatch",
        "campaign.add_importbatch",
        "campaign.view_importrejection",
        "campaign.view_transaction",
        "campaign.view_videoview",
        "campaign.view_member",
        "campaign.add_member",
        "campaign.view_entry",
        "campaign.add_entry",
        "campaign.change_entry",
        "missions.view_stampcard",
        "missions.view_stamp",
        "missions.view_ledgerline",
        "missions.view_pointexport",
        "missions.add_pointexport",
        "missions.rescore_member",
        "campaign.view_dashboard",
    ],
    # The draw: commit, draw, confirm (a second officer), forfeit.
    LOTTERY: [
        "lottery.view_draw",
        "lottery.run_draw",
        "lottery.view_drawentrant",
        "lottery.view_forfeit",
    ],
}


class RoleError(RuntimeError):
    pass


def _permissions_create_custom(apps) -> None:
    ContentType = apps.get_model("contenttypes", "ContentType")
    Permission = apps.get_model("auth", "Permission")
    for app_label, model, codename, name in CUSTOM_PERMISSIONS:
        content_type, _ = ContentType.objects.get_or_create(app_label=app_label, model=model)
        Permission.objects.update_or_create(content_type=content_type, codename=codename, defaults={"name": name})


def staff_roles_sync(*, apps=global_apps) -> dict[str, int]:
    """Create the staff groups with exactly their permissions; returns the number per group.

    ``apps`` is the registry of a data migration, or the project's. A permission that does
    not exist is an error, never skipped: a group silently missing a right would be a bug.
    """
    Group = apps.get_model("auth", "Group")
    Permission = apps.get_model("auth", "Permission")
    _permissions_create_custom(apps)
    counts: dict[str, int] = {}
    for group_name, perms in STAFF_ROLES.items():
        wanted = [tuple(p.split(".", 1)) for p in perms]
        found = []
        for app_label, codename in wanted:
            permission = Permission.objects.filter(content_type__app_label=app_label, codename=codename).first()
            if permission is None:
                raise RoleError(f"Permission {app_label}.{codename} of the {group_name} group does not exist.")
            found.append(permission)
        group, _ = Group.objects.get_or_create(name=group_name)
        group.permissions.set(found)
        counts[group_name] = len(found)
    return counts
