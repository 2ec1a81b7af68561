from django.db import migrations

# This migration used to load the checklist from content/data/red_flags.json. The checklist now lives
# in content/library/ with the rest of the library, and its loader needs the fields 0003 adds, so
# 0004_load_library loads it. Databases that ran the old version keep their v1; the next load
# stores the same rules as v2 (the source changed form).


class Migration(migrations.Migration):
    dependencies = [("content", "0001_initial")]

    operations = []
