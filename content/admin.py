from django.contrib import admin

from .models import RedFlagRule, RedFlagRuleSet


class RedFlagRuleInline(admin.TabularInline):
    model = RedFlagRule
    extra = 0


@admin.register(RedFlagRuleSet)
class RedFlagRuleSetAdmin(admin.ModelAdmin):
    list_display = ("version", "loaded_at", "checksum")
    inlines = [RedFlagRuleInline]
