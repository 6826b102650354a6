"""Scope tokens (owner, department, region) in the search vectors of customers and contacts,
so a search narrowed to a manager's region is answered by the GIN index alone (see
crm.customers.search.scope_tokens). One statement per table; the other tokens are kept."""

from django.db import migrations

KEPT = ("ARRAY(SELECT t FROM unnest(tsvector_to_array(coalesce({alias}.search_vector, ''::tsvector))) AS t "
        "WHERE t !~ '^s[odr]:')")
FRESH = "array_remove(ARRAY['so:' || c.owner_id, 'sd:' || c.department_id, 'sr:' || c.region_id], NULL)"

FORWARD = [
    f"UPDATE customers_customer AS c SET search_vector = array_to_tsvector({KEPT.format(alias='c')} || {FRESH})",
    f"UPDATE customers_contact AS k SET search_vector = array_to_tsvector({KEPT.format(alias='k')} || {FRESH}) "
    "FROM customers_customer AS c WHERE k.customer_id = c.id",
]
BACKWARD = [
    f"UPDATE customers_customer AS c SET search_vector = array_to_tsvector({KEPT.format(alias='c')})",
    f"UPDATE customers_contact AS k SET search_vector = array_to_tsvector({KEPT.format(alias='k')})",
]


class Migration(migrations.Migration):
    dependencies = [("customers", "0004_customer_sort_indexes")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD, elidable=False)]
