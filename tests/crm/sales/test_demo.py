"""The demo pipeline: a few opportunities across the stages (one won, one lost per
salesperson) and a draft and a sent quote per salesperson, made once through the services."""

from collections import Counter

import pytest

pytestmark = pytest.mark.django_db


def test_demo_sales_data_is_made_once(tenant_a, in_tenant):
    from crm.catalog.services import catalog_load_demo
    from crm.sales.models import Opportunity, OpportunityStageChange, Quote
    from crm.sales.services import sales_load_demo
    from tenants.demo import demo_customers_ensure

    demo_customers_ensure(tenant_a)
    with in_tenant(tenant_a):
        catalog_load_demo()
        assert sales_load_demo() == 6  # three per salesperson (sales, sales2)
        assert Counter(Opportunity.objects.values_list("status", flat=True)) == {"open": 2, "won": 2, "lost": 2}
        assert all(o.owner_id == o.customer.owner_id for o in Opportunity.objects.select_related("customer"))
        assert OpportunityStageChange.objects.count() == 6 + 4
        assert Counter(Quote.objects.values_list("status", flat=True)) == {"draft": 2, "sent": 2}
        assert all(q.total > 0 and q.lines.count() == 2 for q in Quote.objects.all())
        assert sales_load_demo() == 0


def test_demo_projects_in_the_project_tenant(tenant_b, in_tenant):
    from crm.sales.models import Opportunity
    from crm.sales.services import sales_load_demo
    from tenants.demo import demo_customers_ensure

    demo_customers_ensure(tenant_b)
    with in_tenant(tenant_b):
        assert sales_load_demo() == 3
        assert set(Opportunity.objects.values_list("pipeline", flat=True)) == {"project"}
        assert "contract" in set(Opportunity.objects.values_list("stage", flat=True))
