"""Reads about accounts."""

from zoneinfo import ZoneInfo

from backcare.accounts.models import Profile, User

DEFAULT_ZONE = "UTC"  # a person without a profile (or before they set one) lives in UTC


def profile_zone(*, user: User) -> ZoneInfo:
    """The person's IANA zone, from their profile; UTC when they have none.

    Uses the profile already loaded with `user` (select_related("profile")) when there is one, else one query.
    """
    if User.profile.is_cached(user):
        profile = getattr(user, "profile", None)  # cached as "no profile" raises RelatedObjectDoesNotExist
        return ZoneInfo(profile.timezone if profile else DEFAULT_ZONE)
    zone = Profile.objects.filter(user=user).values_list("timezone", flat=True).first()
    return ZoneInfo(zone or DEFAULT_ZONE)
