"""Scope tokens (owner, and department and region with their ancestors) in the search vectors of customers and contacts,
so a search narrowed to a manager's region is answered by the GIN index alone (see
crm.customers.search.scope_tokens). One statement per table; the other tokens are kept."""

from django.db import migrations

KEPT = ("ARRAY(SELECT t FROM unnest(tsvector_to_array(coalesce({alias}.search_vector, ''::tsvector))) AS t "
        "WHERE t !~ '^s[odr]:')")
# as crm.customers.search.SCOPE_TOKENS_SQL (copied: a migration must not change with the code)
FRESH = (
    "ARRAY(SELECT 'so:' || c.owner_id WHERE c.owner_id IS NOT NULL "
    "UNION ALL SELECT 'sd:' || x::bigint FROM org_department AS d, "
    "regexp_split_to_table(rtrim(d.path, '.'), '[.]') AS x WHERE d.id = c.department_id AND x <> '' "
    "UNION ALL SELECT 'sr:' || x::bigint FROM org_region AS r, "
    "regexp_split_to_table(rtrim(r.path, '.'), '[.]') AS x WHERE r.id = c.region_id AND x <> '')")

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
    dependencies = [("customers", "0004_customer_sort_indexes"), ("org", "0001_initial")]

    operations = [migrations.RunSQL(FORWARD, BACKWARD, elidable=False)]
