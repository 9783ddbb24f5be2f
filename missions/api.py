"""System and member API of the scoring engine: progress (SPEC 3.5) and why each transaction counted."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.pagination import PageNumberPagination
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from campaign.auth import IsSystemClient
from campaign.identifiers import id_problem
from campaign.models import Campaign, Member
from campaign.observability import log_member_bind
from campaign.throttling import WindowScopedRateThrottle
from missions.services import progress_document, transactions_explained


class MissionProgressOutput(serializers.Serializer):
    code = serializers.CharField()
    cleared = serializers.BooleanField()
    cleared_at = serializers.DateTimeField(allow_null=True)
    progress = serializers.IntegerField()
    target = serializers.IntegerField()
    points = serializers.IntegerField()
    max_points = serializers.IntegerField()


class CourseProgressOutput(serializers.Serializer):
    code = serializers.CharField()
    points = serializers.IntegerField()
    max_points = serializers.IntegerField()
    missions = MissionProgressOutput(many=True)


class ProgressOutput(serializers.Serializer):
    """The progress document (SPEC 3.5); times in ISO 8601, Japan time."""

    member_id = serializers.CharField()
    entered = serializers.BooleanField()
    entered_at = serializers.DateTimeField(allow_null=True)
    scored_at = serializers.DateTimeField(allow_null=True)
    points = inline_serializer("Points", {"limited": serializers.IntegerField(), "basic": serializers.IntegerField()})
    lottery = inline_serializer(
        "LotteryStatus",
        {
            "eligible": serializers.BooleanField(),
            "status": serializers.ChoiceField(choices=["not_drawn", "won", "lost", "not_eligible"]),
        },
    )
    courses = CourseProgressOutput(many=True)
    would_earn = inline_serializer(
        "WouldEarn",
        {"limited": serializers.IntegerField(), "basic": serializers.IntegerField()},
        required=False,
        help_text="Only for a member who has not entered: the points entering now would already earn.",
    )


class ReasonOutput(serializers.Serializer):
    code = serializers.ChoiceField(
        choices=[
            "is_cancel",
            "cancelled",
            "outside_period",
            "paid_with_points",
            "zero_amount",
            "not_entered_yet",
            "below_threshold",
            "outside_window",
            "wrong_weekday",
            "not_bonus_merchant",
            "mission_already_cleared",
            "day_already_counted",
        ]
    )
    message = serializers.CharField()
    missions = serializers.ListField(child=serializers.CharField())


class ExplainedTransactionOutput(serializers.Serializer):
    transaction_id = serializers.CharField()
    type = serializers.CharField()
    amount = serializers.IntegerField()
    points_used = serializers.IntegerField()
    eligible_amount = serializers.IntegerField()
    merchant_code = serializers.CharField()
    bonus_merchant = serializers.BooleanField()
    occurred_at = serializers.DateTimeField()
    original_transaction_id = serializers.CharField()
    cancelled = serializers.BooleanField()
    counted_for = serializers.ListField(child=serializers.CharField())
    would_count_for = serializers.ListField(child=serializers.CharField())
    reasons = ReasonOutput(many=True)


class TransactionsPagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


def _campaign() -> Campaign:
    try:
        return Campaign.objects.current_kept()
    except Campaign.DoesNotExist:
        raise Http404("No campaign is running.") from None


def _member_id_from_url(member_id: str) -> str:
    """The member id of the URL, or 404 when no member can have it (``campaign.identifiers``)."""
    if id_problem(member_id, member=True) is not None:
        raise Http404("No member can have this ID.")
    log_member_bind(member_id)
    return member_id


def _member_of(request) -> Member:
    member = getattr(request.user, "member", None) if request.user.is_authenticated else None
    if member is None:
        raise Http404("This login has no Wesmo! member.")
    return member


def _transactions_page(view: APIView, request, member_id: str) -> Response:
    paginator = view.pagination_class()
    page = paginator.paginate_queryset(transactions_explained(campaign=_campaign(), member_id=member_id), request, view)
    return paginator.get_paginated_response(page)


class SystemView(APIView):
    permission_classes = [IsSystemClient]
    throttle_classes = [WindowScopedRateThrottle]
    throttle_scope = "system"


class MemberView(APIView):
    authentication_classes = [SessionAuthentication]
    permission_classes = [IsAuthenticated]
    throttle_classes = [WindowScopedRateThrottle]
    throttle_scope = "member"


class MemberProgressApi(SystemView):
    @extend_schema(
        operation_id="member_progress",
        summary="A member's progress (SPEC 3.5)",
        description="For a member the portal has no data for yet: entered false and no progress (not 404).",
        responses=ProgressOutput,
    )
    def get(self, request, member_id: str):
        return Response(progress_document(campaign=_campaign(), member_id=_member_id_from_url(member_id)))


class MeProgressApi(MemberView):
    @extend_schema(operation_id="me_progress", summary="The signed-in member's own progress", responses=ProgressOutput)
    def get(self, request):
        return Response(progress_document(campaign=_campaign(), member_id=_member_of(request).member_id))


class MemberTransactionsApi(SystemView):
    pagination_class = TransactionsPagination  # also tells the schema the answer is paginated

    @extend_schema(
        operation_id="member_transactions",
        summary="A member's transactions, newest first, with the missions each counted toward or why none",
        responses=ExplainedTransactionOutput(many=True),
    )
    def get(self, request, member_id: str):
        return _transactions_page(self, request, _member_id_from_url(member_id))


class MeTransactionsApi(MemberView):
    pagination_class = TransactionsPagination

    @extend_schema(
        operation_id="me_transactions",
        summary="The signed-in member's transactions and why each counted",
        responses=ExplainedTransactionOutput(many=True),
    )
    def get(self, request):
        return _transactions_page(self, request, _member_of(request).member_id)
