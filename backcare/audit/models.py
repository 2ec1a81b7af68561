"""The access log: who read which patient's data, what, when, in which request. Append-only.

Rows are never changed or removed: the model and its queryset refuse updates and deletes, and
database triggers refuse UPDATE, DELETE (migration 0001) and TRUNCATE (0002), whatever client does the writing. The people are
referenced without a foreign-key constraint, so the log outlives an account that is deleted, as the
law asks; the actor's name is kept as it was at the time of the access.
"""

from django.conf import settings
from django.db import connection, models


class AppendOnlyError(Exception):
    """Something tried to change or remove an access-log row."""


class AccessLogQuerySet(models.QuerySet):
    def append_reads(
        self,
        *,
        at,
        actor_id: int,
        actor_label: str,
        patient_ids: list[int],
        action: str,
        path: str,
        request_id: str,
        client_request_id: str = "",
        client_address: str | None = None,
    ) -> int:
        """One row per patient, all else shared: one INSERT statement (on PostgreSQL without building a model per
        row: the queue logs fifty patients per page, and model instances cost more than the write)."""
        if connection.vendor != "postgresql":
            rows = [
                AccessLog(
                    at=at,
                    actor_id=actor_id,
                    actor_label=actor_label,
                    patient_id=patient_id,
                    action=action,
                    path=path,
                    request_id=request_id,
                    client_request_id=client_request_id,
                    client_address=client_address,
                )
                for patient_id in patient_ids
            ]
            return len(self.bulk_create(rows))
        with connection.cursor() as cursor:
            cursor.execute(
                f"INSERT INTO {AccessLog._meta.db_table} "  # noqa: S608  # nosec B608  # the table's own name; values bound
                "(at, actor_id, actor_label, patient_id, action, path, request_id, client_request_id, client_address) "
                "SELECT %s, %s, %s, patient, %s, %s, %s, %s, %s::inet FROM unnest(%s::bigint[]) AS patient",
                [
                    at,
                    actor_id,
                    actor_label,
                    action,
                    path,
                    request_id,
                    client_request_id,
                    client_address,
                    list(patient_ids),
                ],
            )
            return cursor.rowcount

    def update(self, **kwargs):
        raise AppendOnlyError("The access log is append-only: rows are never updated.")

    def delete(self):
        raise AppendOnlyError("The access log is append-only: rows are never deleted.")


class AccessLog(models.Model):
    at = models.DateTimeField(help_text="When the data was read (UTC)")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    actor_label = models.CharField(max_length=254, help_text="The reader's name at the time")
    patient = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    action = models.CharField(max_length=40, help_text="What was read, e.g. patient.timeline")
    path = models.CharField(max_length=500, help_text="The request's path and query")
    request_id = models.CharField(max_length=64, help_text="The server's id of the request (X-Request-ID answered)")
    client_request_id = models.CharField(
        max_length=64, blank=True, default="", help_text="The X-Request-ID the client sent, if any (its word only)"
    )
    client_address = models.GenericIPAddressField(
        null=True, blank=True, help_text="The client's address, as far as trusted proxies tell (backcare/core/net.py)"
    )

    objects = AccessLogQuerySet.as_manager()

    class Meta:
        ordering = ["-at", "-id"]
        indexes = [
            models.Index(fields=["patient", "-at", "-id"], name="accesslog_patient_time"),
            models.Index(fields=["actor", "-at"], name="accesslog_actor_time"),
        ]

    def __str__(self) -> str:
        return f"{self.actor_label} read {self.action} of patient {self.patient_id} at {self.at}"

    def save(self, *args, **kwargs):
        if not self._state.adding:
            raise AppendOnlyError("The access log is append-only: rows are never updated.")
        super().save(*args, **kwargs)

    def delete(self, *args, **kwargs):
        raise AppendOnlyError("The access log is append-only: rows are never deleted.")
