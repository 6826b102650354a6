"""The public site: landing, pricing, the language switch; none of it on tenant hosts."""

import re

import pytest
from django.test import Client

from billing.models import Plan
from tenants.modes import MODES

pytestmark = pytest.mark.django_db


def test_landing_shows_the_five_modes_and_the_ways_in(public):
    response = public.get("/")
    page = response.content.decode()
    assert response.status_code == 200
    for mode in MODES.values():
        assert f'data-mode="{mode.key}"' in page and mode.name_zh in page
    assert 'href="/signup/"' in page and 'href="/pricing/"' in page
    assert 'data-testid="lang-en"' in page  # the language switch


def test_public_pages_in_english(public):
    public.cookies["qiao_language"] = "en"
    page = public.get("/").content.decode()
    assert 'lang="en"' in page
    assert MODES["standard"].name_en in page and MODES["standard"].name_zh not in page
    pricing = public.get("/pricing/").content.decode()
    assert "Professional" in pricing and "专业版" not in pricing


def test_pricing_lists_public_plans_with_prices_limits_and_modules(public):
    page = public.get("/pricing/").content.decode()
    cards = re.findall(r'data-plan="([a-z]+)"', page)
    assert cards == ["trial", "standard", "professional", "enterprise"]
    assert "¥990" in page and "¥9900" in page and "¥2990" in page and "¥29900" in page
    assert "免费" in page
    # the module matrix: standard lacks the partner portal, professional has it
    row = re.search(r'<tr data-module="partners">(.*?)</tr>', page, re.S).group(1)
    cells = re.findall(r"<td>(.*?)</td>", row, re.S)[1:]
    assert ["✓" in c for c in cells] == [True, False, True, True]
    assert "?plan=standard&amp;interval=year" in page


def test_hidden_and_retired_plans_are_not_offered(public):
    Plan.objects.filter(code="enterprise").update(is_public=False)
    Plan.objects.filter(code="professional").update(is_active=False)
    page = public.get("/pricing/").content.decode()
    assert re.findall(r'data-plan="([a-z]+)"', page) == ["trial", "standard"]
    form = public.get("/signup/").content.decode()
    assert 'value="enterprise"' not in form and 'value="professional"' not in form


def test_signup_form_preselects_the_plan_from_pricing(public):
    page = public.get("/signup/?plan=professional&interval=year").content.decode()
    assert re.search(r'name="plan" value="professional" checked', page)
    assert re.search(r'name="interval" value="year" checked', page)
    default = public.get("/signup/?plan=nonsense&interval=weekly").content.decode()
    assert re.search(r'name="plan" value="trial" checked', default)
    assert re.search(r'name="interval" value="month" checked', default)


def test_signup_form_shows_every_mode_with_its_description(public):
    page = public.get("/signup/").content.decode()
    for mode in MODES.values():
        assert f'name="mode" value="{mode.key}"' in page and mode.description_zh in page
    assert 'hx-get="/signup/check-slug/"' in page


def test_the_public_site_is_not_served_on_tenant_hosts(web):
    for path in ("/pricing/", "/signup/", "/signup/check-slug/?slug=abc"):
        assert web.get(path).status_code == 404


def test_unknown_tenant_host_does_not_get_the_site(tenant_env):
    assert Client(HTTP_HOST="nosuchco.localhost").get("/signup/").status_code == 404


def test_only_get_on_pages(public):
    assert public.post("/pricing/").status_code == 405
    assert public.delete("/signup/").status_code == 405
