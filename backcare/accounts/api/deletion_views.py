from django.contrib.auth import logout
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from backcare.accounts import deletion
from backcare.accounts.api import serializers as s
from backcare.core.permissions import IsPatient
from backcare.core.throttling import ScopedRateThrottle


class AccountDeleteView(APIView):
    """Delete my account and all my data, now and for good. The access log of who viewed my data is kept."""

    permission_classes = [IsPatient]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth"

    @extend_schema(
        request=s.AccountDeleteInputSerializer,
        responses={
            200: s.AccountDeletedOutputSerializer,
            400: OpenApiResponse(description="Wrong password, or the confirmation is not the exact phrase."),
            429: OpenApiResponse(description="Too many failed attempts; try again later."),
        },
        tags=["auth"],
    )
    def post(self, request):
        data = s.AccountDeleteInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = request.user
        deletion.account_reauthenticate(request=request._request, user=user, password=data.validated_data["password"])
        result = deletion.account_delete(user=user)
        logout(request._request)
        return Response(s.AccountDeletedOutputSerializer(result).data)
