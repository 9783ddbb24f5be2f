"""Districts and merchants, including the campaign's BLUE-tag bonus list (R7)."""

from __future__ import annotations

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from simple_history.models import HistoricalRecords

from campaign.models import localized


class District(models.Model):
    code = models.SlugField(_("code"), max_length=32, unique=True)
    order = models.PositiveSmallIntegerField(_("order"), default=0)
    name_ja = models.CharField(_("name (Japanese)"), max_length=100)
    name_en = models.CharField(_("name (English)"), max_length=100, blank=True)
    area_ja = models.CharField(_("area (Japanese)"), max_length=100, blank=True, help_text=_("e.g. 神戸"))
    area_en = models.CharField(_("area (English)"), max_length=100, blank=True)
    history = HistoricalRecords()

    class Meta:
        verbose_name = _("district")
        verbose_name_plural = _("districts")
        ordering = ["order", "code"]
        # import/export: django-import-export's admin checks merchants.import_district etc.
        default_permissions = ("add", "change", "delete", "view", "import", "export")

    def __str__(self) -> str:
        return self.name_ja

    @property
    def name(self) -> str:
        return localized(self, "name")

    @property
    def area(self) -> str:
        return localized(self, "area")


class MerchantQuerySet(models.QuerySet):
    def bonus(self) -> MerchantQuerySet:
        """Merchants whose payments count for the bonus mission: on the list and active (R7)."""
        return self.filter(on_bonus_list=True, is_active=True)


class Merchant(models.Model):
    code = models.CharField(_("merchant code"), max_length=64, unique=True)
    name = models.CharField(pgettext_lazy("merchant", "name"), max_length=200)  # not auth's group "name"
    name_kana = models.CharField(_("name (kana)"), max_length=200, blank=True)
    address = models.CharField(_("address"), max_length=300, blank=True)
    district = models.ForeignKey(
        District, on_delete=models.PROTECT, null=True, blank=True, related_name="merchants", verbose_name=_("district")
    )
    order = models.PositiveIntegerField(_("order in the list"), default=0)
    blue_tag = models.BooleanField(_("BLUE tag"), default=True)
    on_bonus_list = models.BooleanField(_("on the bonus list"), default=False)
    is_active = models.BooleanField(_("active"), default=True)
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)
    history = HistoricalRecords()

    objects = MerchantQuerySet.as_manager()

    class Meta:
        verbose_name = _("merchant")
        verbose_name_plural = _("merchants")
        ordering = ["district__order", "order", "code"]
        # import/export: django-import-export's admin checks merchants.import_merchant etc.
        default_permissions = ("add", "change", "delete", "view", "import", "export")

    def __str__(self) -> str:
        return f"{self.code} {self.name}"
