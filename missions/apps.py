from django.apps import AppConfig
from django.db.models.signals import m2m_changed, post_delete, post_save
from django.utils.translation import gettext_lazy as _


class MissionsConfig(AppConfig):
    name = "missions"
    verbose_name = _("Missions and points")

    def ready(self) -> None:
        # Not a rule: only forgets this process's cached copy of the courses and missions.
        from missions.models import Course, Mission
        from missions.progress import structure_forget

        for model in (Course, Mission):
            post_save.connect(structure_forget, sender=model, dispatch_uid=f"structure_forget_save_{model.__name__}")
            post_delete.connect(structure_forget, sender=model, dispatch_uid=f"structure_forget_del_{model.__name__}")
        m2m_changed.connect(structure_forget, sender=Mission.requires.through, dispatch_uid="structure_forget_m2m")
