"""CustomerNameGram: each customer's pairs of neighbouring name characters with its update
time, so a two-character query that thousands of customers share reads its newest matches
from one index range (crm.customers.search._newest_by_name_gram). Filled from the customers'
stored ``b:`` search tokens in batches of BATCH customers, each committed on its own (the
migration is not atomic), before the index is built; then VACUUM ANALYZE."""

import django.db.models.deletion
from django.db import migrations, models

BATCH = 20000


def fill(apps, schema_editor):
    from crm.customers.migration_ops import fill_in_batches
    from crm.customers.search import customer_name_grams_fill

    fill_in_batches(schema_editor, customer_name_grams_fill, BATCH)


def vacuum(apps, schema_editor):
    from crm.customers.migration_ops import vacuum_analyze

    vacuum_analyze(schema_editor, "customers_customernamegram")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ('customers', '0007_contact_phone_gram'),
    ]

    operations = [
        migrations.CreateModel(
            name='CustomerNameGram',
            fields=[
                ('pk', models.CompositePrimaryKey('customer', 'gram', blank=True, editable=False, primary_key=True, serialize=False)),
                ('gram', models.IntegerField(help_text="the two characters' code points (16 bits each), minus 2**31")),
                ('updated_at', models.DateTimeField(help_text="the customer's")),
                ('customer', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='customers.customer')),
            ],
        ),
        migrations.RunPython(fill, migrations.RunPython.noop, elidable=True),
        migrations.AddIndex(
            model_name='customernamegram',
            index=models.Index(fields=['gram', '-updated_at', '-customer'], name='customer_name_gram_newest'),
        ),
        migrations.RunPython(vacuum, migrations.RunPython.noop, elidable=True),
    ]
