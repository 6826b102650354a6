"""ContactPhoneGram: each contact's runs of four phone digits with its ranking fields, so a
search by four digits reads a few index pages instead of every matching contact's row (see
crm.customers.search._ranked_by_phone_gram). Filled from the contacts' stored ``d:`` search
tokens in batches of BATCH contacts, each committed on its own (the migration is not atomic),
before the ranking index is built; then VACUUM ANALYZE, so that the index-only scans of the
search do not visit the heap and the planner knows the table (about 2M contacts, 20M rows,
in a few minutes)."""

import django.db.models.deletion
from django.db import migrations, models

BATCH = 20000


def fill(apps, schema_editor):
    from crm.customers.migration_ops import fill_in_batches
    from crm.customers.search import contact_phone_grams_fill

    fill_in_batches(schema_editor, contact_phone_grams_fill, BATCH)


def vacuum(apps, schema_editor):
    from crm.customers.migration_ops import vacuum_analyze

    vacuum_analyze(schema_editor, "customers_contactphonegram")


class Migration(migrations.Migration):
    atomic = False

    dependencies = [
        ('customers', '0006_customer_pinyin_key'),
    ]

    operations = [
        migrations.CreateModel(
            name='ContactPhoneGram',
            fields=[
                ('pk', models.CompositePrimaryKey('contact', 'gram', blank=True, editable=False, primary_key=True, serialize=False)),
                ('gram', models.SmallIntegerField(help_text='the four digits as a number (0755 -> 755)')),
                ('rank', models.SmallIntegerField(help_text='0: the folded name is these digits, 1: starts with them, 2: else')),
                ('name_len', models.SmallIntegerField(help_text="the length of the contact's name")),
                ('updated_at', models.DateTimeField(help_text="the contact's")),
                ('contact', models.ForeignKey(db_index=False, on_delete=django.db.models.deletion.CASCADE, related_name='+', to='customers.contact')),
            ],
        ),
        migrations.RunPython(fill, migrations.RunPython.noop, elidable=True),
        migrations.AddIndex(
            model_name='contactphonegram',
            index=models.Index(fields=['gram', 'rank', 'name_len', '-updated_at', 'contact'], name='contact_phone_gram_rank'),
        ),
        migrations.RunPython(vacuum, migrations.RunPython.noop, elidable=True),
    ]
