from django.db import migrations


def load(apps, schema_editor):
    from content.services import library_load, redflag_rules_load

    # The first deploy has the checklist and the library at once; `manage.py load_content` keeps them
    # in line with their files afterwards.
    redflag_rules_load(apps=apps)
    library_load(apps=apps)


class Migration(migrations.Migration):
    dependencies = [("content", "0003_library")]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
