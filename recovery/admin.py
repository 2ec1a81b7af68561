"""A read-only admin: where operators look first when a patient says "I got nothing".

Nothing here writes. The outbox, the summaries and the links change only through their services (which keep
audit rows, revisions and constraints in step), so every page is view-only, for superusers too. Each changelist
selects its related rows up front, so a page of 100 rows costs the same few queries as a page of one.
"""

from django.contrib import admin
from django.db.models import Count
from django.urls import reverse
from django.utils.html import format_html

from backcare.audit.services import AccessContext, access_record
from recovery.care.models import CareLink
from recovery.episodes.models import Episode
from recovery.reminders.models import Delivery, DeliveryAttempt, Reminder
from recovery.triage.models import TriageSummary


class ReadOnly:
    """No add, change or delete for anyone; viewing follows the usual view permission.

    Every page that shows patients' rows is written to the access log first (one row per patient shown,
    action "admin.<model>"), as a physiotherapist's reads are; if it cannot be written the page fails.
    """

    patient_path = "patient_id"  # how a row names its patient

    def _patient_of(self, obj) -> int:
        value = obj
        for part in self.patient_path.split("."):
            value = getattr(value, part)
        return value

    def _log_read(self, request, objs) -> None:
        access_record(
            actor=request.user,
            patient_ids=[self._patient_of(obj) for obj in objs],
            action=f"admin.{self.model._meta.model_name}",
            context=AccessContext.of(request),
        )

    def changelist_view(self, request, extra_context=None):
        response = super().changelist_view(request, extra_context)
        changelist = getattr(response, "context_data", {}).get("cl")
        if changelist is not None:
            self._log_read(request, changelist.result_list)
        return response

    def change_view(self, request, object_id, form_url="", extra_context=None):
        response = super().change_view(request, object_id, form_url, extra_context)
        original = getattr(response, "context_data", {}).get("original")
        if original is not None:
            self._log_read(request, [original])
        return response

    def has_add_permission(self, request, obj=None) -> bool:
        return False

    def has_change_permission(self, request, obj=None) -> bool:
        return False

    def has_delete_permission(self, request, obj=None) -> bool:
        return False


class DeliveryInline(ReadOnly, admin.TabularInline):
    """Each device the reminder went to; its own page (the link) lists every attempt."""

    model = Delivery
    extra = 0
    show_change_link = True
    fields = ("device_type", "device_id", "status", "attempts", "attempts_logged", "last_status_code", "sent_at")
    readonly_fields = fields

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(logged=Count("attempt_log"))

    @admin.display(description="attempts logged")
    def attempts_logged(self, obj: Delivery):
        url = reverse("admin:recovery_delivery_change", args=[obj.pk])
        return format_html('<a href="{}">{}</a>', url, obj.logged)


@admin.register(Reminder)
class ReminderAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ("id", "patient", "episode", "kind", "slot", "due_at", "status", "sent_at")
    list_filter = ("status", "kind")
    search_fields = ("patient__email", "slot")
    date_hierarchy = "due_at"
    list_select_related = ("patient", "episode")
    inlines = [DeliveryInline]


class DeliveryAttemptInline(ReadOnly, admin.TabularInline):
    model = DeliveryAttempt
    extra = 0
    fields = ("at", "outcome", "status_code", "duration_ms", "error")
    readonly_fields = fields


@admin.register(Delivery)
class DeliveryAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ("id", "reminder", "device_type", "device_id", "status", "attempts", "next_attempt_at", "sent_at")
    list_filter = ("status", "device_type")
    search_fields = ("reminder__patient__email", "reminder__slot")
    list_select_related = ("reminder",)
    inlines = [DeliveryAttemptInline]
    patient_path = "reminder.patient_id"


@admin.register(TriageSummary)
class TriageSummaryAdmin(ReadOnly, admin.ModelAdmin):
    list_display = (
        "patient",
        "revision",
        "computed_revision",
        "computed_at",
        "expires_at",
        "episode_open",
        "last_checkin_at",
        "last_delivery_at",
    )
    list_filter = ("episode_open",)
    search_fields = ("patient__email",)
    list_select_related = ("patient",)


@admin.register(CareLink)
class CareLinkAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ("patient", "physiotherapist", "status", "consented_at", "ended_at", "last_reviewed_at")
    list_filter = ("status",)
    search_fields = ("patient__email", "physiotherapist__email")
    date_hierarchy = "consented_at"
    list_select_related = ("patient", "physiotherapist")


@admin.register(Episode)
class EpisodeAdmin(ReadOnly, admin.ModelAdmin):
    list_display = ("id", "patient", "onset", "trigger", "status", "resolved_at", "checkin_count")
    list_filter = ("status", "trigger")
    search_fields = ("patient__email",)
    date_hierarchy = "onset"
    list_select_related = ("patient",)
    readonly_fields = ("checkin_count",)

    def get_queryset(self, request):
        return super().get_queryset(request).annotate(checkin_total=Count("checkins"))

    @admin.display(description="check-ins", ordering="checkin_total")
    def checkin_count(self, obj: Episode) -> int:
        return obj.checkin_total
