from functools import lru_cache
from zoneinfo import available_timezones

from django.core.exceptions import ValidationError


@lru_cache(maxsize=1)
def iana_zones() -> frozenset[str]:
    return frozenset(available_timezones())


def validate_iana_zone(value: str) -> None:
    if value not in iana_zones():
        raise ValidationError(f"'{value}' is not an IANA time zone (e.g. Europe/Berlin).", code="invalid")
