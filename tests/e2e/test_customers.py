"""One-click search in a real browser: the top-bar box finds a customer by two Chinese
characters and by pinyin initials as one types (htmx), and opens the 360° page; on a phone
the customer page does not scroll sideways."""

from __future__ import annotations

import uuid

import pytest

from tests.conftest import PASSWORD

playwright = pytest.importorskip("playwright.sync_api")
expect = playwright.expect

pytestmark = pytest.mark.e2e

ADMIN_EMAIL = "admin@alpha.test"


def sign_in(page, email: str, password: str = PASSWORD) -> None:
    page.get_by_label("邮箱").fill(email)
    page.get_by_label("密码").fill(password)
    page.get_by_test_id("login-submit").click()


def assert_fits_width(page) -> None:
    layout = page.evaluate("""() => {
        const width = document.documentElement.clientWidth;
        const wide = [...document.querySelectorAll('body *')]
            .filter(el => el.getBoundingClientRect().right > width + 1)
            .map(el => el.tagName.toLowerCase() + (el.className ? '.' + el.className : ''));
        return {width, scrollWidth: document.documentElement.scrollWidth, wide: wide.slice(0, 5)};
    }""")
    assert layout["scrollWidth"] <= layout["width"], layout


def watch_for_errors(page) -> list[str]:
    broken: list[str] = []
    page.on("response", lambda r: broken.append(f"{r.status} {r.url}")
            if r.status >= 400 and not r.url.split("?")[0].endswith("/favicon.ico") else None)
    page.on("pageerror", lambda e: broken.append(f"pageerror: {e}"))
    return broken


@pytest.fixture
def searchable_customer(alpha_restored, alpha_admin, in_alpha):
    """A committed customer of tenant alpha (the server sees committed rows only), removed
    afterwards with its owner history; ``alpha_restored`` drops the audit rows."""
    from crm.customers.models import Customer
    from crm.customers.services import customer_create

    name = f"翠鸟合众思壮科技有限公司{uuid.uuid4().hex[:4].upper()}"
    customer = in_alpha(customer_create, actor=alpha_admin,
                        data={"name": name, "phone": "010-6552 7788", "stage": "lead"},
                        duplicate_override=True)
    yield customer
    in_alpha(lambda: Customer.objects.filter(pk=customer.pk).delete())


def test_top_bar_search_finds_a_customer_and_opens_its_page(e2e_server, new_context, alpha_restored,
                                                             searchable_customer, screenshot_dir):
    page = new_context().new_page()
    broken = watch_for_errors(page)
    page.goto(e2e_server.url(alpha_restored, "/login/"))
    sign_in(page, ADMIN_EMAIL)
    box = page.get_by_test_id("top-search")
    expect(box).to_be_visible()

    # two Chinese characters, typed as a person types (an IME commits text with input
    # events, not keyups: both trigger the live results)
    box.press_sequentially("思壮", delay=50)
    hit = page.get_by_test_id("search-customer").filter(has_text=searchable_customer.name)
    expect(hit).to_be_visible()
    page.screenshot(path=screenshot_dir / "qiao-search-two-chars.png")

    # pinyin initials of 合众思壮
    box.fill("")
    box.press_sequentially("hzsz", delay=50)
    expect(hit).to_be_visible()

    hit.click()
    expect(page).to_have_url(e2e_server.url(alpha_restored, f"/customers/{searchable_customer.pk}/"))
    expect(page.get_by_test_id("customer-name")).to_contain_text(searchable_customer.name)
    expect(page.get_by_test_id("customer-profile")).to_contain_text("010-6552 7788")
    expect(page.get_by_test_id("owner-history")).to_be_visible()
    expect(page.get_by_test_id("audit-trail")).to_be_visible()
    assert broken == []


def test_customer_pages_fit_a_phone(e2e_server, new_context, alpha_restored, searchable_customer,
                                    screenshot_dir):
    page = new_context(phone=True).new_page()
    broken = watch_for_errors(page)
    page.goto(e2e_server.url(alpha_restored, "/login/"))
    sign_in(page, ADMIN_EMAIL)
    for path, name in ((f"/customers/{searchable_customer.pk}/", "customer"), ("/customers/", "list"),
                       ("/customers/new/", "form"), ("/customers/dashboard/", "dashboard"),
                       ("/customers/pool/", "pool"), ("/customers/contacts/", "contacts"),
                       ("/customers/handover/", "handover"), ("/customers/search/?q=思壮", "search")):
        page.goto(e2e_server.url(alpha_restored, path))
        assert_fits_width(page)
        page.screenshot(path=screenshot_dir / f"qiao-customers-{name}-phone.png", full_page=True)
    page.goto(e2e_server.url(alpha_restored, "/customers/"))
    page.get_by_test_id("top-search").press_sequentially("思壮", delay=50)
    expect(page.get_by_test_id("search-customer").filter(has_text=searchable_customer.name)).to_be_visible()
    assert_fits_width(page)
    assert broken == []
