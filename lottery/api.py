"""The public record of the draw: ``GET /api/v1/lottery`` (SPEC 3.3)."""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import extend_schema, extend_schema_serializer
from rest_framework import serializers
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.throttling import AnonRateThrottle
from rest_framework.views import APIView

from campaign.models import Campaign
from lottery.services import lottery_public

HEX64 = r"^[0-9a-f]{64}$"


class LotteryApi(APIView):
    """Public: anyone can read the commitment and, after the draw, the seed, and recompute the result."""

    authentication_classes: list = []
    permission_classes = [AllowAny]
    throttle_classes = [AnonRateThrottle]

    @extend_schema_serializer(component_name="LotteryPublic")
    class OutputSerializer(serializers.Serializer):
        status = serializers.ChoiceField(choices=["not_committed", "committed", "drawn", "confirmed"])
        winners_count = serializers.IntegerField(help_text="How many members win (77).")
        eligible_count = serializers.IntegerField(
            allow_null=True, help_text="Members in the frozen eligible list; null before the commit."
        )
        eligible_hash = serializers.RegexField(
            HEX64,
            allow_null=True,
            help_text="SHA-256 (hex) of the eligible member ids sorted by code point, each followed by \\n, UTF-8.",
        )
        seed_hash = serializers.RegexField(HEX64, allow_null=True, help_text="SHA-256 (hex) of the 32 seed bytes.")
        seed = serializers.RegexField(
            HEX64, allow_null=True, help_text="The 32 seed bytes as 64 hex characters; null until the draw."
        )
        cutoff_digest = serializers.RegexField(
            HEX64,
            allow_null=True,
            help_text="The last winner's HMAC-SHA256(seed, member_id) hex digest; null until the draw.",
        )

    @extend_schema(responses=OutputSerializer, auth=[], operation_id="lottery_public")
    def get(self, request):
        campaign = Campaign.objects.filter(is_active=True).order_by("-starts_at").first()
        if campaign is None:
            raise Http404("No campaign.")
        return Response(self.OutputSerializer(lottery_public(campaign=campaign)).data)
