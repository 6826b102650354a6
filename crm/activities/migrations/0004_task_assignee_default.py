from django.db import migrations
from django.db.models import F


def assignee_is_owner(apps, schema_editor):
    Task = apps.get_model("activities", "Task")
    Task.objects.filter(assignee__isnull=True).update(assignee=F("owner"))


class Migration(migrations.Migration):

    dependencies = [
        ("activities", "0003_activities_notifications"),
    ]

    operations = [
        migrations.RunPython(assignee_is_owner, migrations.RunPython.noop),
    ]
