# Indexes for the sorts of the customer list (crm.customers.selectors.CUSTOMER_SORTS): created,
# last follow-up (no follow-up counts as the oldest) and name, each as (key, id) for everyone
# and per owner, on live customers.
#
# The name sort uses the collation public.qiao_name_order: ICU's Chinese (pinyin) order where
# the server has ICU, else a copy of "C" (code points; the embedded development server is built
# without ICU). It lives in public, which is on every tenant's search path, so cloned schemas
# share it.
#
# The migration is not atomic so that, run by itself (deploy-time `migrate_tenants` on a
# large tenant), it builds each index CONCURRENTLY without blocking writes; run inside a
# transaction (a new schema migrated from scratch, whose table is empty) it builds them plainly.

import django.db.models.functions.comparison
from django.db import migrations, models, transaction

NAME_COLLATION = "qiao_name_order"


def name_collation_create(apps, schema_editor):
    connection = schema_editor.connection
    with transaction.atomic(using=connection.alias), connection.cursor() as cursor:
        # schemas migrate in parallel processes: one creates it, the others find it
        cursor.execute("SELECT pg_advisory_xact_lock(hashtext('qiao.collation.' || %s))", [NAME_COLLATION])
        cursor.execute(
            "SELECT EXISTS (SELECT 1 FROM pg_collation c JOIN pg_namespace n ON n.oid = c.collnamespace"
            " WHERE n.nspname = 'public' AND c.collname = %s)", [NAME_COLLATION])
        if cursor.fetchone()[0]:
            return
        cursor.execute("SELECT EXISTS (SELECT 1 FROM pg_collation WHERE collprovider = 'i' AND collname = 'zh-x-icu')")
        if cursor.fetchone()[0]:
            cursor.execute(f'CREATE COLLATION public."{NAME_COLLATION}" (provider = icu, locale = \'zh\')')
        else:
            cursor.execute(f'CREATE COLLATION public."{NAME_COLLATION}" FROM "C"')


class AddIndexConcurrentlyOutsideTransaction(migrations.AddIndex):
    """AddIndex, built CONCURRENTLY when the migration runs outside a transaction. A leftover
    of an interrupted concurrent build (an invalid index of the same name) is dropped first."""

    def database_forwards(self, app_label, schema_editor, from_state, to_state):
        model = to_state.apps.get_model(app_label, self.model_name)
        if not self.allow_migrate_model(schema_editor.connection.alias, model):
            return
        concurrently = not schema_editor.connection.in_atomic_block
        if concurrently:
            schema_editor.execute(f'DROP INDEX CONCURRENTLY IF EXISTS "{self.index.name}"')
        schema_editor.add_index(model, self.index, concurrently=concurrently)

    def describe(self):
        return super().describe() + " (concurrently when possible)"


class Migration(migrations.Migration):

    atomic = False

    dependencies = [
        ('customers', '0002_savedview'),
    ]

    operations = [
        migrations.RunPython(name_collation_create, migrations.RunPython.noop, elidable=False),
        AddIndexConcurrentlyOutsideTransaction(
            model_name='customer',
            index=models.Index(condition=models.Q(('merged_into__isnull', True)), fields=['-created_at', '-id'], name='customer_created'),
        ),
        AddIndexConcurrentlyOutsideTransaction(
            model_name='customer',
            index=models.Index(condition=models.Q(('merged_into__isnull', True)), fields=['owner', '-created_at', '-id'], name='customer_owner_created'),
        ),
        AddIndexConcurrentlyOutsideTransaction(
            model_name='customer',
            index=models.Index(models.OrderBy(models.F('last_activity_at'), nulls_first=True), models.OrderBy(models.F('id')), condition=models.Q(('merged_into__isnull', True)), name='customer_last_activity'),
        ),
        AddIndexConcurrentlyOutsideTransaction(
            model_name='customer',
            index=models.Index(models.F('owner'), models.OrderBy(models.F('last_activity_at'), nulls_first=True), models.OrderBy(models.F('id')), condition=models.Q(('merged_into__isnull', True)), name='customer_owner_last_activity'),
        ),
        AddIndexConcurrentlyOutsideTransaction(
            model_name='customer',
            index=models.Index(django.db.models.functions.comparison.Collate('name', NAME_COLLATION), models.F('id'), condition=models.Q(('merged_into__isnull', True)), name='customer_name_sort'),
        ),
        AddIndexConcurrentlyOutsideTransaction(
            model_name='customer',
            index=models.Index(models.F('owner'), django.db.models.functions.comparison.Collate('name', NAME_COLLATION), models.F('id'), condition=models.Q(('merged_into__isnull', True)), name='customer_owner_name_sort'),
        ),
    ]
