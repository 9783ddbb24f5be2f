from axes.apps import AppConfig as AxesAppConfig
from django.apps import AppConfig
from django.db.models.signals import post_delete, post_save
from django.utils.translation import gettext_lazy as _


class CampaignConfig(AppConfig):
    default = True  # "campaign" in INSTALLED_APPS is this one, not django-axes' below
    name = "campaign"
    verbose_name = _("Campaign")

    def ready(self) -> None:
        # Not a rule: only forgets this process's kept copy of the current campaign.
        from campaign.models import Campaign, current_forget

        post_save.connect(current_forget, sender=Campaign, dispatch_uid="campaign_current_forget_save")
        post_delete.connect(current_forget, sender=Campaign, dispatch_uid="campaign_current_forget_delete")
        # Operations count the tasks that failed for good (/metrics), in whichever worker they ran.
        from celery.signals import task_failure

        from campaign.observability import task_failure_count

        task_failure.connect(task_failure_count, dispatch_uid="portal_task_failure_count")


class AxesConfig(AxesAppConfig):
    """django-axes under a name staff read (its own config has none: the index said "Axes")."""

    default = False
    verbose_name = _("Sign-in protection")
