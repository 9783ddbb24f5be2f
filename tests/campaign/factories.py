"""factory_boy factories for the campaign app: members, users, entries, transactions, video views."""

from __future__ import annotations

import zipfile
from datetime import datetime
from pathlib import Path

import factory
import openpyxl
from django.contrib.auth import get_user_model

from campaign.env import JST
from campaign.models import Campaign, Entry, Member, RecordSource, Transaction


def jst(text: str) -> datetime:
    """``jst("2026-03-06 07:30")`` → an aware datetime in Japan time."""
    return datetime.fromisoformat(text).replace(tzinfo=JST)


def xlsx_broken_at(path: Path, lines: list[str], line: int) -> Path:
    """An XLSX of the comma-separated ``lines`` whose sheet XML stops being XML at row ``line``: a file that
    cannot be read in the middle (the csv module reads any CSV to its end). Put that row some 16 KB of XML
    (60 rows and more) into the sheet: the XML parser reads that much before it finds the fault. Not written
    in write-only mode, the sheet states its dimension: else openpyxl parses all of it to find that out."""
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for text in lines:
        sheet.append([value or None for value in text.split(",")])
    written = path.with_suffix(".written.xlsx")
    workbook.save(written)
    with zipfile.ZipFile(written) as source, zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as target:
        for item in source.infolist():
            data = source.read(item.filename)
            if item.filename.startswith("xl/worksheets/"):
                data = data.replace(f'<row r="{line}"'.encode(), f'<row r="{line}"><c></row><row r="{line}"'.encode())
            target.writestr(item, data)
    return path


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        django_get_or_create = ("username",)

    username = factory.Sequence(lambda n: f"user{n}")
    password = factory.PostGenerationMethodCall("set_password", "pw-for-tests-123")


class MemberFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Member
        django_get_or_create = ("member_id",)

    member_id = factory.Sequence(lambda n: f"M{n:07d}")


class EntryFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Entry

    campaign = factory.LazyFunction(lambda: Campaign.objects.current())
    member = factory.SubFactory(MemberFactory)
    entered_at = factory.LazyFunction(lambda: jst("2026-03-02 09:00"))
    received_at = factory.SelfAttribute("entered_at")


class TransactionFactory(factory.django.DjangoModelFactory):
    """A payment by default; ``TransactionFactory(type="charge", amount=10000)`` for a charge."""

    class Meta:
        model = Transaction

    transaction_id = factory.Sequence(lambda n: f"T{n:09d}")
    campaign = factory.LazyFunction(lambda: Campaign.objects.current())
    member = factory.SubFactory(MemberFactory)
    type = "payment"
    amount = 1000
    points_used = 0
    merchant_code = factory.LazyAttribute(lambda o: "SHOP-0001" if o.type == "payment" else "")
    occurred_at = factory.LazyFunction(lambda: jst("2026-03-10 12:00"))
    original_transaction_id = ""
    charge_method = ""
    source = RecordSource.API
    received_at = factory.SelfAttribute("occurred_at")
