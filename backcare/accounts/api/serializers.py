from datetime import datetime, timedelta

from rest_framework import serializers

from backcare.accounts.deletion import CONFIRMATION
from backcare.accounts.models import Role
from backcare.accounts.timezones import validate_iana_zone
from backcare.core.api import StrictSerializer


def _zone_field(**kwargs) -> serializers.CharField:
    return serializers.CharField(max_length=64, validators=[validate_iana_zone], **kwargs)


class RegisterInputSerializer(StrictSerializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(max_length=128, write_only=True, trim_whitespace=False)
    display_name = serializers.CharField(max_length=80, required=False, allow_blank=True, default="")
    timezone = _zone_field(required=False, default="UTC")


class LoginInputSerializer(StrictSerializer):
    email = serializers.EmailField(max_length=254)
    password = serializers.CharField(max_length=128, write_only=True, trim_whitespace=False)


class UserOutputSerializer(serializers.Serializer):
    id = serializers.IntegerField()
    email = serializers.EmailField()
    display_name = serializers.CharField()
    role = serializers.ChoiceField(choices=Role.choices)
    date_joined = serializers.DateTimeField()


class LoginOutputSerializer(serializers.Serializer):
    token = serializers.CharField(help_text="Send as 'Authorization: Token <token>' from native clients.")
    expiry = serializers.DateTimeField(allow_null=True)
    user = UserOutputSerializer()


class ProfileSerializer(StrictSerializer):
    timezone = _zone_field(required=False, help_text="IANA time zone, e.g. Europe/Berlin.")
    sleep_start = serializers.TimeField(required=False, help_text="Local time the sleep window starts.")
    sleep_end = serializers.TimeField(required=False, help_text="Local time the sleep window ends.")
    desk_worker = serializers.BooleanField(required=False)
    notify_treatment = serializers.BooleanField(required=False)
    notify_checkin = serializers.BooleanField(required=False)
    notify_movement = serializers.BooleanField(required=False)
    heat_reminders_per_day = serializers.IntegerField(
        required=False,
        allow_null=True,
        min_value=1,
        max_value=8,
        help_text="Heat start reminders a day, 1-8; null for the protocol's rhythm. Remove reminders always come.",
    )
    updated_at = serializers.DateTimeField(read_only=True)

    def validate(self, attrs):
        profile = self.instance
        start = attrs.get("sleep_start", getattr(profile, "sleep_start", None))
        end = attrs.get("sleep_end", getattr(profile, "sleep_end", None))
        if start is not None and end is not None:
            day = datetime(2000, 1, 1)
            length = (datetime.combine(day, end) - datetime.combine(day, start)) % timedelta(days=1)
            if not timedelta(hours=3) <= length <= timedelta(hours=14):
                raise serializers.ValidationError({"sleep_end": ["The sleep window must last between 3 and 14 hours."]})
        return attrs


class AccountDeleteInputSerializer(StrictSerializer):
    password = serializers.CharField(
        max_length=128, write_only=True, trim_whitespace=False, help_text="Your password, again."
    )
    confirm = serializers.ChoiceField(
        choices=[CONFIRMATION],
        error_messages={"invalid_choice": f'Type exactly "{CONFIRMATION}" to confirm.'},
        help_text='Exactly "delete my account".',
    )


class AccountDeletedOutputSerializer(serializers.Serializer):
    user_id = serializers.IntegerField(help_text="The id the account had")
    removed = serializers.DictField(
        child=serializers.IntegerField(), help_text="Rows removed, by kind of record (e.g. recovery.CheckIn)"
    )
    access_log_kept = serializers.IntegerField(
        help_text="Entries of the access log (who viewed your data) kept, as the law requires"
    )
