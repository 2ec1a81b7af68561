from django.db import migrations


def load(apps, schema_editor):
    from recovery.treatment.services.protocol import PROTOCOL_V1, protocol_version_load

    ProtocolVersion = apps.get_model("recovery", "ProtocolVersion")
    version, _ = protocol_version_load(source=PROTOCOL_V1, model=ProtocolVersion)
    # Episodes opened before protocols were versioned follow v1.
    apps.get_model("recovery", "Episode").objects.filter(protocol_version__isnull=True).update(protocol_version=version)


class Migration(migrations.Migration):
    dependencies = [("recovery", "0002_protocol")]

    operations = [migrations.RunPython(load, migrations.RunPython.noop)]
