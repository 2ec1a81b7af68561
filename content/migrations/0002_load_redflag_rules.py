from django.db import migrations


def load(apps, schema_editor):
    from content.services import redflag_rules_load

    redflag_rules_load(
        ruleset_model=apps.get_model("content", "RedFlagRuleSet"),
        rule_model=apps.get_model("content", "RedFlagRule"),
    )


class Migration(migrations.Migration):
    dependencies = [("content", "0001_initial")]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
