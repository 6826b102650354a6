"""Order.partner_id becomes a foreign key to crm.partners (the column, its values and the
order_partner index stay as they are; only the constraint is added, validated separately so
that a big tenant's orders are not locked while it is checked)."""

import django.db.models.deletion
from django.db import migrations, models

ADD = ("ALTER TABLE orders_order ADD CONSTRAINT orders_order_partner_id_fk_partners_partner_id "
       "FOREIGN KEY (partner_id) REFERENCES partners_partner (id) DEFERRABLE INITIALLY DEFERRED NOT VALID")
VALIDATE = "ALTER TABLE orders_order VALIDATE CONSTRAINT orders_order_partner_id_fk_partners_partner_id"
DROP = "ALTER TABLE orders_order DROP CONSTRAINT IF EXISTS orders_order_partner_id_fk_partners_partner_id"


class Migration(migrations.Migration):

    dependencies = [
        ('orders', '0002_orderevent_finance_kinds'),
        ('partners', '0001_initial'),
    ]

    operations = [
        migrations.SeparateDatabaseAndState(
            state_operations=[
                migrations.RemoveIndex(model_name='order', name='order_partner'),
                migrations.RemoveField(model_name='order', name='partner_id'),
                migrations.AddField(
                    model_name='order',
                    name='partner',
                    field=models.ForeignKey(blank=True, db_index=False, null=True,
                                            on_delete=django.db.models.deletion.PROTECT, related_name='+',
                                            to='partners.partner', verbose_name='渠道伙伴'),
                ),
                migrations.AddIndex(
                    model_name='order',
                    index=models.Index(condition=models.Q(('partner_id__isnull', False)),
                                       fields=['partner', '-created_at'], name='order_partner'),
                ),
            ],
            database_operations=[
                migrations.RunSQL(ADD, DROP),
                migrations.RunSQL(VALIDATE, migrations.RunSQL.noop),
            ],
        ),
    ]
