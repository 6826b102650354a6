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


def test_the_demo_operator_signs_in_to_the_console_and_is_asked_to_enrol_a_second_factor(db):
    """make run prints the demo operator (qiao_setup --demo): a public-schema staff user whose
    password opens the console's sign-in, which then asks for a TOTP enrolment, not a page."""
    from django.test import Client

    from crm.org.models import User
    from tenants.demo import DEMO_OPERATOR_EMAIL, DEMO_PASSWORD, demo_operator_ensure

    assert demo_operator_ensure() == DEMO_OPERATOR_EMAIL
    assert demo_operator_ensure() == DEMO_OPERATOR_EMAIL  # idempotent
    operator = User.objects.get(email=DEMO_OPERATOR_EMAIL)
    assert operator.is_staff and operator.check_password(DEMO_PASSWORD)
    client = Client(HTTP_HOST="localhost")
    response = client.post("/console/login/", {"email": DEMO_OPERATOR_EMAIL, "password": DEMO_PASSWORD})
    assert response.status_code == 302 and response["Location"].startswith("/console/login/code/")
    enrol = client.get(response["Location"]).content.decode()
    assert "<svg" in enrol  # the QR code of the authenticator enrolment
    assert client.get("/console/").status_code == 302  # nothing before the second factor
