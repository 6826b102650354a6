import pytest

pytestmark = pytest.mark.django_db


def test_demo_customers_are_created_once_with_contacts_and_a_call(tenant_a, in_tenant, user_in):
    from crm.activities.models import Activity
    from crm.customers.models import Contact, Customer
    from tenants.demo import DEMO_CUSTOMERS, demo_customers_ensure

    assert demo_customers_ensure(tenant_a) == len(DEMO_CUSTOMERS)
    assert demo_customers_ensure(tenant_a) == 0  # idempotent
    with in_tenant(tenant_a):
        assert Customer.objects.filter(source="demo").count() == len(DEMO_CUSTOMERS)
        assert Contact.objects.filter(customer__source="demo").count() == len(DEMO_CUSTOMERS)
        assert Activity.objects.filter(customer__source="demo", kind="call").count() == len(DEMO_CUSTOMERS)
        owners = set(Customer.objects.filter(source="demo").values_list("owner__roles__code", flat=True))
        assert owners == {"salesperson"}
