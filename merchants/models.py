"""Districts and merchants, including the campaign's BLUE-tag bonus list (R7)."""

from __future__ import annotations

import unicodedata

from django.core.exceptions import ValidationError
from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import pgettext_lazy
from simple_history.models import HistoricalRecords

from campaign.identifiers import id_problem
from campaign.models import localized


def merchant_code_validate(value: str) -> None:
    """A code as the Wesmo! system sends it in a payment: otherwise no payment would ever match it (R7).

    A control character or a bidi override (which shows the code reversed) cannot be in a payment's
    code, and a code typed with full-width letters or digits is not the one the system sends.
    """
    problem = id_problem(value)
    if problem == "not_printable":
        message = _("The merchant code %(value)s contains a control character or a bidirectional mark: retype it.")
        raise ValidationError(message, code=problem, params={"value": ascii(value)})
    if problem == "formula":
        message = _("The merchant code %(value)s starts like a spreadsheet formula (= + - @): it is refused.")
        raise ValidationError(message, code=problem, params={"value": value})
    narrow = unicodedata.normalize("NFKC", value)
    if narrow != value:
        message = _("The merchant code %(value)s contains full-width characters: write it as %(narrow)s.")
        raise ValidationError(message, code="full_width", params={"value": value, "narrow": narrow})


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
    code = models.CharField(_("merchant code"), max_length=64, unique=True, validators=[merchant_code_validate])
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
