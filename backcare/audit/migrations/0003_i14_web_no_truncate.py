from django.db import migrations

# TRUNCATE skips row triggers, so the append-only log needs a statement-level trigger of its own.
# Test databases are emptied with TRUNCATE between transactional tests: a database whose owner has run
# `ALTER DATABASE <name> SET backcare.allow_truncate = 'on'` (tests/conftest.py does, for the test
# database only) may be truncated. The trigger reads that from the catalog, not from the session, so a
# client's own `SET backcare.allow_truncate` does not open the door.
POSTGRES_UP = """
CREATE FUNCTION audit_accesslog_no_truncate() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    IF EXISTS (
        SELECT 1 FROM pg_db_role_setting s JOIN pg_database d ON d.oid = s.setdatabase
        WHERE d.datname = current_database() AND s.setrole = 0
          AND 'backcare.allow_truncate=on' = ANY (s.setconfig)
    ) THEN
        RETURN NULL;
    END IF;
    RAISE EXCEPTION 'audit_accesslog is append-only: TRUNCATE refused' USING ERRCODE = 'insufficient_privilege';
END;
$$;
CREATE TRIGGER audit_accesslog_no_truncate BEFORE TRUNCATE ON audit_accesslog
    FOR EACH STATEMENT EXECUTE FUNCTION audit_accesslog_no_truncate();
"""
POSTGRES_DOWN = """
DROP TRIGGER IF EXISTS audit_accesslog_no_truncate ON audit_accesslog;
DROP FUNCTION IF EXISTS audit_accesslog_no_truncate();
"""


def trigger_create(apps, schema_editor):
    # SQLite has no TRUNCATE (Django's flush DELETEs there, which migration 0001's trigger refuses already).
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRES_UP, params=None)


def trigger_drop(apps, schema_editor):
    if schema_editor.connection.vendor == "postgresql":
        schema_editor.execute(POSTGRES_DOWN, params=None)


class Migration(migrations.Migration):
    dependencies = [("audit", "0002_i14_web_request_ids")]

    operations = [migrations.RunPython(trigger_create, trigger_drop, elidable=False)]
