"""System API of the campaign app (SPEC 3.3): transactions, entries, video views, the public campaign.

One APIView per operation with small nested serializers; the work is done by services
(``campaign.imports``, ``campaign.services``). A body that is not JSON, too large or of the
wrong shape gets a 4xx with a message that says what is wrong, never a 500.
"""

from __future__ import annotations

from django.conf import settings
from django.core.exceptions import RequestDataTooBig
from django.utils.translation import gettext_lazy as _
from drf_spectacular.utils import extend_schema, extend_schema_serializer, inline_serializer
from rest_framework import serializers, status
from rest_framework.exceptions import APIException, NotFound
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView, exception_handler

from campaign.auth import IsSystemClient
from campaign.env import JST
from campaign.imports.entries import entry_create, video_view_record
from campaign.imports.pushing import API_MAX_RECORDS, transactions_ingest
from campaign.models import Campaign, RecordSource
from campaign.observability import counter_add, log_member_bind
from campaign.services import Refused
from campaign.throttling import WindowScopedRateThrottle
from merchants.models import Merchant
from missions.kinds import KIND_CHOICES
from missions.models import Course, Mission


class PayloadTooLarge(APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = _("The request body is too large.")
    default_code = "too_large"


def api_exception_handler(exc, context):
    """DRF's handler, plus a 413 for a body beyond DATA_UPLOAD_MAX_MEMORY_SIZE (Django raises it as an
    error) and a 404 when no campaign is running (``Campaign.objects.current()``), rather than a 500."""
    if isinstance(exc, RequestDataTooBig):
        exc = PayloadTooLarge()
    elif isinstance(exc, Campaign.DoesNotExist):
        exc = NotFound(_("No campaign is running."))
    return exception_handler(exc, context)


class SystemApiView(APIView):
    """For the Wesmo! system: token clients of the system-clients group, throttled on the `system` rate."""

    permission_classes = [IsSystemClient]
    throttle_classes = [WindowScopedRateThrottle]
    throttle_scope = "system"

    def initial(self, request, *args, **kwargs):
        super().initial(request, *args, **kwargs)
        try:
            length = int(request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            length = 0
        limit = settings.DATA_UPLOAD_MAX_MEMORY_SIZE
        if limit is not None and length > limit:
            raise PayloadTooLarge(
                _("The request body is %(size)s bytes; the limit is %(limit)s bytes.")
                % {"size": length, "limit": limit}
            )


def _refused(exc: Refused) -> Response:
    return Response({"code": exc.code, "detail": exc.message}, status=status.HTTP_400_BAD_REQUEST)


def _jst(value) -> str | None:
    return value.astimezone(JST).isoformat() if value else None


class AnyJSONRecord(serializers.Field):
    """Any JSON value, judged by ``transactions_ingest`` alone: a ``null`` item or a number too large
    for a float (1e400) is one rejected record, where DRF's JSONField refused the whole batch."""

    def __init__(self, **kwargs):
        super().__init__(allow_null=True, **kwargs)

    def to_internal_value(self, data):
        return data


class TransactionsApi(SystemApiView):
    """Store up to 1,000 transactions; the answer lists the rejected ones by index."""

    class TransactionInput(serializers.Serializer):
        # Documentation only: each record is checked by the importer's rules, one by one,
        # so that one bad record does not refuse the others.
        transaction_id = serializers.CharField(max_length=64)
        member_id = serializers.CharField(max_length=64)
        type = serializers.ChoiceField(choices=["charge", "payment", "cancel", "チャージ", "支払", "取消"])
        amount = serializers.IntegerField(min_value=0, help_text='Whole yen; "1,000" is accepted.')
        points_used = serializers.IntegerField(min_value=0, required=False, help_text="Payments only.")
        merchant_code = serializers.CharField(required=False, allow_blank=True, help_text="Payments: required.")
        occurred_at = serializers.CharField(help_text="ISO 8601; without an offset it means Japan time.")
        original_transaction_id = serializers.CharField(required=False, allow_blank=True, help_text="Cancels.")
        charge_method = serializers.ChoiceField(
            choices=["card", "jwest_card", "seven_atm", "bank"], required=False, allow_blank=True
        )

    class InputSerializer(serializers.Serializer):
        transactions = serializers.ListField(child=AnyJSONRecord(), allow_empty=True, max_length=API_MAX_RECORDS)

    class RejectedOutput(serializers.Serializer):
        index = serializers.IntegerField()
        transaction_id = serializers.CharField()
        errors = serializers.DictField(child=serializers.ListField(child=serializers.CharField()))

    class OutputSerializer(serializers.Serializer):
        accepted = serializers.IntegerField()
        duplicates = serializers.IntegerField()
        rejected = serializers.ListField(child=serializers.DictField())

    @extend_schema(
        operation_id="transactions_create",
        request=inline_serializer(
            "TransactionBatch",
            {"transactions": serializers.ListField(child=TransactionInput(), max_length=API_MAX_RECORDS)},
        ),
        responses={
            200: inline_serializer(
                "TransactionBatchResult",
                {
                    "accepted": serializers.IntegerField(),
                    "duplicates": serializers.IntegerField(),
                    "rejected": RejectedOutput(many=True),
                    "warnings": serializers.ListField(
                        child=serializers.CharField(), required=False, help_text="Unknown top-level keys, ignored."
                    ),
                },
            ),
        },
    )
    def post(self, request):
        if not isinstance(request.data, dict):
            return Response(
                {"detail": _('The body must be a JSON object: {"transactions": [...]}.')},
                status=status.HTTP_400_BAD_REQUEST,
            )
        unknown = sorted(set(request.data) - {"transactions"})
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        result = transactions_ingest(
            campaign=Campaign.objects.current(),
            records=serializer.validated_data["transactions"],
            source=RecordSource.API,
        )
        counter_add("records:api:accepted", result.accepted)
        counter_add("records:api:duplicates", result.duplicates)
        counter_add("records:api:rejected", len(result.rejections))
        body = {
            "accepted": result.accepted,
            "duplicates": result.duplicates,
            "rejected": [
                {"index": r.index, "transaction_id": r.transaction_id, "errors": r.errors} for r in result.rejections
            ],
        }
        if unknown:
            body["warnings"] = [_("Unknown keys were ignored: %(keys)s.") % {"keys": ", ".join(unknown)}]
        return Response(body, status=status.HTTP_200_OK)


class EntriesApi(SystemApiView):
    """Enter a member (R2): 201 new entry, 200 already entered, 400 outside the entry window."""

    @extend_schema_serializer(component_name="EntryInput")
    class InputSerializer(serializers.Serializer):
        member_id = serializers.CharField(max_length=64, trim_whitespace=True)
        entered_at = serializers.DateTimeField(
            required=False, allow_null=True, help_text="When the app recorded the entry; without offset: JST."
        )

    @extend_schema_serializer(component_name="EntryOutput")
    class OutputSerializer(serializers.Serializer):
        member_id = serializers.CharField()
        entered_at = serializers.DateTimeField()
        created = serializers.BooleanField()

    @extend_schema(
        operation_id="entries_create",
        request=InputSerializer,
        responses={201: OutputSerializer, 200: OutputSerializer},
    )
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        log_member_bind(serializer.validated_data["member_id"])
        try:
            entry, created = entry_create(
                campaign=Campaign.objects.current(),
                member_id=serializer.validated_data["member_id"],
                entered_at=serializer.validated_data.get("entered_at"),
            )
        except Refused as exc:
            return _refused(exc)
        return Response(
            {"member_id": entry.member_id, "entered_at": _jst(entry.entered_at), "created": created},
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


class VideoViewsApi(SystemApiView):
    """Record a video watched to the end (mission mania-1): 201 new, 200 already recorded."""

    @extend_schema_serializer(component_name="VideoViewInput")
    class InputSerializer(serializers.Serializer):
        member_id = serializers.CharField(max_length=64, trim_whitespace=True)
        video = serializers.CharField(max_length=32, help_text="video-1 or video-2")
        watched_at = serializers.DateTimeField(required=False, allow_null=True)

    @extend_schema_serializer(component_name="VideoViewOutput")
    class OutputSerializer(serializers.Serializer):
        member_id = serializers.CharField()
        video = serializers.CharField()
        watched_at = serializers.DateTimeField()
        created = serializers.BooleanField()

    @extend_schema(
        operation_id="video_views_create",
        request=InputSerializer,
        responses={201: OutputSerializer, 200: OutputSerializer},
    )
    def post(self, request):
        serializer = self.InputSerializer(data=request.data)
        serializer.is_valid(raise_exception=True)
        data = serializer.validated_data
        log_member_bind(data["member_id"])
        try:
            view, created = video_view_record(
                campaign=Campaign.objects.current(),
                member_id=data["member_id"],
                video_code=data["video"],
                watched_at=data.get("watched_at"),
            )
        except Refused as exc:
            return _refused(exc)
        return Response(
            {
                "member_id": view.member_id,
                "video": data["video"],
                "watched_at": _jst(view.watched_at),
                "created": created,
            },
            status=status.HTTP_201_CREATED if created else status.HTTP_200_OK,
        )


@extend_schema_serializer(component_name="Localized")
class Localized(serializers.Serializer):
    """A text in Japanese and English."""

    ja = serializers.CharField()
    en = serializers.CharField()


@extend_schema_serializer(component_name="Span")
class Span(serializers.Serializer):
    starts_at = serializers.DateTimeField()
    ends_at = serializers.DateTimeField()


@extend_schema_serializer(component_name="MissionRule")
class CampaignRuleOutput(serializers.Serializer):
    kind = serializers.ChoiceField(choices=KIND_CHOICES, help_text="The kind of mission (missions/kinds.py).")
    min_amount = serializers.IntegerField(help_text="Least eligible amount in yen that counts; 0: any.")
    target_count = serializers.IntegerField(help_text="What the kind counts to: records, days, shops, yen, videos.")
    window_start = serializers.CharField(allow_null=True, help_text="HH:MM:SS, JST, inclusive; null: all day.")
    window_end = serializers.CharField(allow_null=True, help_text="HH:MM:SS, JST, exclusive.")
    weekdays = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=7), help_text="ISO weekdays; empty: every day."
    )
    bonus_merchants_only = serializers.BooleanField()
    unit_points = serializers.IntegerField(allow_null=True, help_text="Points per unit counted (videos).")
    requires = serializers.ListField(child=serializers.CharField(), help_text="Missions a completion needs.")
    counts_for_lottery = serializers.BooleanField()


@extend_schema_serializer(component_name="CampaignMission")
class CampaignMissionOutput(serializers.Serializer):
    code = serializers.CharField()
    order = serializers.IntegerField()
    label = Localized()
    title = Localized()
    description = Localized()
    reward_points = serializers.IntegerField()
    max_points = serializers.IntegerField()
    point_type = serializers.ChoiceField(choices=["limited", "basic"])
    rule = CampaignRuleOutput()


@extend_schema_serializer(component_name="CampaignCourse")
class CampaignCourseOutput(serializers.Serializer):
    code = serializers.CharField()
    name = Localized()
    missions = CampaignMissionOutput(many=True)


@extend_schema_serializer(component_name="BonusMerchant")
class BonusMerchantOutput(serializers.Serializer):
    code = serializers.CharField()
    name = serializers.CharField()
    name_kana = serializers.CharField()
    district = serializers.CharField(allow_null=True)
    district_name = Localized(allow_null=True)
    address = serializers.CharField()


class CampaignApi(APIView):
    """Public: the campaign's period, courses, missions and rewards, lottery, bonus merchants."""

    permission_classes = [AllowAny]
    authentication_classes: list = []
    throttle_classes = [AnonRateThrottle]

    @extend_schema_serializer(component_name="Campaign")
    class OutputSerializer(serializers.Serializer):
        code = serializers.CharField()
        name = Localized()
        period = Span(help_text="[starts_at, ends_at), Japan time")
        entry_window = Span(help_text="[starts_at, ends_at) in which members can enter, Japan time")
        data_cutoff_at = serializers.DateTimeField()
        courses = CampaignCourseOutput(many=True)
        lottery = inline_serializer(
            "CampaignLottery",
            {
                "winners": serializers.IntegerField(),
                "prize_points": serializers.IntegerField(),
                "point_type": serializers.ChoiceField(choices=["limited", "basic"]),
            },
        )
        bonus_merchants = BonusMerchantOutput(many=True)

    @extend_schema(operation_id="campaign_retrieve", responses={200: OutputSerializer})
    def get(self, request):
        campaign = Campaign.objects.current()
        missions = (
            Mission.objects.filter(campaign=campaign, is_active=True)
            .prefetch_related("requires")
            .order_by("course__order", "order")
        )
        by_course: dict[int, list[dict]] = {}
        for mission in missions:
            by_course.setdefault(mission.course_id, []).append(
                {
                    "code": mission.code,
                    "order": mission.order,
                    "label": {"ja": mission.label_ja, "en": mission.label_en},
                    "title": {"ja": mission.title_ja, "en": mission.title_en},
                    "description": {"ja": mission.description_ja, "en": mission.description_en},
                    "reward_points": mission.reward_points,
                    "max_points": mission.max_points,
                    "point_type": mission.point_type,
                    "rule": {
                        "kind": mission.kind,
                        "min_amount": mission.min_amount,
                        "target_count": mission.target_count,
                        "window_start": mission.window_start.isoformat() if mission.window_start else None,
                        "window_end": mission.window_end.isoformat() if mission.window_end else None,
                        "weekdays": mission.weekdays,
                        "bonus_merchants_only": mission.bonus_merchants_only,
                        "unit_points": mission.unit_points,
                        "requires": sorted(m.code for m in mission.requires.all()),
                        "counts_for_lottery": mission.counts_for_lottery,
                    },
                }
            )
        courses = [
            {
                "code": course.code,
                "name": {"ja": course.name_ja, "en": course.name_en},
                "missions": by_course.get(course.pk, []),
            }
            for course in Course.objects.filter(campaign=campaign).order_by("order")
        ]
        merchants = [
            {
                "code": merchant.code,
                "name": merchant.name,
                "name_kana": merchant.name_kana,
                "district": merchant.district.code if merchant.district else None,
                "district_name": (
                    {"ja": merchant.district.name_ja, "en": merchant.district.name_en} if merchant.district else None
                ),
                "address": merchant.address,
            }
            for merchant in Merchant.objects.bonus().select_related("district")
        ]
        return Response(
            {
                "code": campaign.code,
                "name": {"ja": campaign.name_ja, "en": campaign.name_en},
                "period": {"starts_at": _jst(campaign.starts_at), "ends_at": _jst(campaign.ends_at)},
                "entry_window": {"starts_at": _jst(campaign.entry_starts_at), "ends_at": _jst(campaign.entry_ends_at)},
                "data_cutoff_at": _jst(campaign.data_cutoff_at),
                "courses": courses,
                "lottery": {
                    "winners": campaign.lottery_winners,
                    "prize_points": campaign.lottery_prize_points,
                    "point_type": campaign.lottery_point_type,
                },
                "bonus_merchants": merchants,
            }
        )
