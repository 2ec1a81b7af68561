from django.contrib import admin
from django.utils.translation import gettext_lazy as _

from .models import LibraryItem, RedFlagRule, RedFlagRuleSet, Tag
from .services import library_item_save


class RedFlagRuleInline(admin.TabularInline):
    model = RedFlagRule
    extra = 0
    can_delete = False
    readonly_fields = ("position", "code", "level", "question", "guidance", "alert_physiotherapist")

    def has_add_permission(self, request, obj=None) -> bool:
        return False


@admin.register(RedFlagRuleSet)
class RedFlagRuleSetAdmin(admin.ModelAdmin):
    """Read-only: check-ins point at the version they were asked with, so a version never changes.

    The checklist is edited in content/library/red-flags/; loading it stores a new version.
    """

    list_display = ("version", "reviewed_on", "loaded_at", "checksum")
    readonly_fields = ("version", "checksum", "loaded_at", "reviewed_on", "references", "levels")
    inlines = [RedFlagRuleInline]

    def has_add_permission(self, request) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


@admin.register(Tag)
class TagAdmin(admin.ModelAdmin):
    search_fields = ("slug",)


@admin.register(LibraryItem)
class LibraryItemAdmin(admin.ModelAdmin):
    list_display = ("title", "kind", "language", "phase_from", "phase_until", "version", "reviewed_on", "published")
    list_filter = ("kind", "language", "published", "phase_from", "tags")
    search_fields = ("slug", "title", "summary")
    filter_horizontal = ("tags",)
    readonly_fields = ("version", "source_path", "updated_at", "body_html")
    fieldsets = (
        (None, {"fields": ("kind", "slug", "language", "title", "summary", "body_markdown", "tags", "published")}),
        (_("When it applies"), {"fields": ("phase_from", "phase_until", "position")}),
        (_("Exercise"), {"fields": ("steps", "hold_seconds", "repetitions", "stop_if", "avoid")}),
        (_("Review"), {"fields": ("references", "reviewed_on")}),
        (_("Stored"), {"fields": ("version", "source_path", "updated_at", "body_html")}),
    )

    def save_model(self, request, obj, form, change):
        # Rendering and the version bump live in the service; tag changes count as a change too.
        library_item_save(item=obj, changed=bool(form.changed_data))
