from .models import RedFlagRuleSet


def redflag_ruleset_current() -> RedFlagRuleSet | None:
    return RedFlagRuleSet.objects.prefetch_related("rules").order_by("-version").first()
