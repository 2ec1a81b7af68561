from django.contrib.auth import authenticate, login, logout
from drf_spectacular.utils import OpenApiResponse, extend_schema
from knox.models import AuthToken
from rest_framework import permissions, status
from rest_framework.response import Response
from rest_framework.views import APIView

from backcare.accounts import services, signin_guard
from backcare.accounts.api import serializers as s
from backcare.core.net import client_address
from backcare.core.throttling import ScopedRateThrottle


class RegisterView(APIView):
    """Create a patient account. Physiotherapist accounts are created by staff."""

    authentication_classes: list = []
    permission_classes = [permissions.AllowAny]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth"

    @extend_schema(
        request=s.RegisterInputSerializer,
        responses={
            201: s.UserOutputSerializer,
            409: OpenApiResponse(description="An account with this email already exists."),
        },
        tags=["auth"],
    )
    def post(self, request):
        data = s.RegisterInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        user = services.user_register(**data.validated_data)
        return Response(s.UserOutputSerializer(user).data, status=status.HTTP_201_CREATED)


class LoginView(APIView):
    """Sign in: answers a token for native clients and sets the session cookie for the web app."""

    authentication_classes: list = []
    permission_classes = [permissions.AllowAny]
    throttle_classes = [ScopedRateThrottle]
    throttle_scope = "auth"

    @extend_schema(
        request=s.LoginInputSerializer,
        responses={
            200: s.LoginOutputSerializer,
            400: OpenApiResponse(description="Wrong email or password."),
            429: OpenApiResponse(description="Too many failed attempts; wait as long as Retry-After says."),
        },
        tags=["auth"],
    )
    def post(self, request):
        data = s.LoginInputSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        django_request = request._request
        email = data.validated_data["email"].lower()
        attempt = signin_guard.SignInAttempt(
            email=email,
            address=client_address(django_request),
            device_cookie=django_request.COOKIES.get(signin_guard.DEVICE_COOKIE),
        )
        signin_guard.signin_wait(attempt=attempt)
        user = authenticate(django_request, email=email, password=data.validated_data["password"])
        if user is None or not user.is_active:
            signin_guard.signin_failed(attempt=attempt)
            return Response({"non_field_errors": ["Wrong email or password."]}, status=status.HTTP_400_BAD_REQUEST)
        device = signin_guard.signin_succeeded(attempt=attempt)
        login(django_request, user, backend="django.contrib.auth.backends.ModelBackend")
        token, raw = services.auth_token_issue(user=user)
        out = {"token": raw, "expiry": token.expiry, "user": user}
        response = Response(s.LoginOutputSerializer(out).data)
        signin_guard.device_cookie_set(response, value=device)
        return response


class LogoutView(APIView):
    """End the session and revoke the token used for this request, if any."""

    @extend_schema(request=None, responses={204: None}, tags=["auth"])
    def post(self, request):
        if isinstance(request.auth, AuthToken):
            request.auth.delete()
        logout(request._request)
        return Response(status=status.HTTP_204_NO_CONTENT)


class MeView(APIView):
    @extend_schema(responses={200: s.UserOutputSerializer}, tags=["auth"])
    def get(self, request):
        return Response(s.UserOutputSerializer(request.user).data)


class ProfileView(APIView):
    @extend_schema(responses={200: s.ProfileSerializer}, tags=["auth"])
    def get(self, request):
        profile = services.profile_get_or_create(user=request.user)
        return Response(s.ProfileSerializer(profile).data)

    @extend_schema(request=s.ProfileSerializer, responses={200: s.ProfileSerializer}, tags=["auth"])
    def patch(self, request):
        profile = services.profile_get_or_create(user=request.user)
        data = s.ProfileSerializer(profile, data=request.data, partial=True)
        data.is_valid(raise_exception=True)
        profile = services.profile_update(user=request.user, data=data.validated_data)
        return Response(s.ProfileSerializer(profile).data)
