"""The superuser's user and group pages with the permissions named in the staff member's language.

Django stores a permission's name once, in English ("Can add transaction": ``create_permissions``
writes ``verbose_name_raw``), and its user and group forms list that stored name. The pages here
name a permission when they show it instead: the model's translated verbose name with the
translated action ("取引を追加できる"), and the catalogue's translation of a custom permission's
name (declared with ``gettext_noop``/``gettext_lazy``, stored in English).
"""

from __future__ import annotations

from django.contrib import admin
from django.contrib.auth.admin import GroupAdmin, UserAdmin
from django.contrib.auth.models import Group, Permission, User
from django.utils.translation import gettext
from django.utils.translation import gettext_lazy as _

ACTIONS = {
    "add": _("Can add %(model)s"),
    "change": _("Can change %(model)s"),
    "delete": _("Can delete %(model)s"),
    "view": _("Can view %(model)s"),
    "import": _("Can import %(model)s"),
    "export": _("Can export %(model)s"),
}


def permission_label(permission: Permission) -> str:
    """``アプリ | モデル | 何ができるか`` in the active language, as Django's ``app | model | name`` reads."""
    model = permission.content_type.model_class()
    if model is None:  # a model that no longer exists: its stored name is all there is
        return str(permission)
    action, _sep, model_name = permission.codename.partition("_")
    label = model_label(model)
    if action in ACTIONS and model_name == model._meta.model_name:
        name = ACTIONS[action] % {"model": label}
    else:
        name = gettext(permission.name)
    return f"{model._meta.app_config.verbose_name} | {label} | {name}"


def model_label(model) -> str:
    """A model's translated name; simple-history's ("historical 地区", fixed at import) as 「地区の変更履歴」."""
    recorded = getattr(model, "instance_type", None)
    if recorded is None:
        return str(model._meta.verbose_name)
    owner = recorded._meta.auto_created  # the history of a many-to-many field (Mission.requires)
    if owner:
        field = next(f for f in owner._meta.many_to_many if f.remote_field.through is recorded)
        what = f"{owner._meta.verbose_name}（{field.verbose_name}）"
    else:
        what = recorded._meta.verbose_name
    return gettext("history of %(model)s") % {"model": what}


class PermissionLabels:
    """The permissions field of a user or group form, its choices named by ``permission_label``."""

    def formfield_for_manytomany(self, db_field, request=None, **kwargs):
        field = super().formfield_for_manytomany(db_field, request, **kwargs)
        if field is not None and db_field.remote_field.model is Permission:
            field.label_from_instance = permission_label
        return field


admin.site.unregister(User)
admin.site.unregister(Group)


@admin.register(User)
class StaffUserAdmin(PermissionLabels, UserAdmin):
    pass


@admin.register(Group)
class StaffGroupAdmin(PermissionLabels, GroupAdmin):
    pass
