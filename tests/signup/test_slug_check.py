"""The live subdomain check (htmx GET): free, taken, reserved or invalid, with the reason."""

import re

import pytest

pytestmark = pytest.mark.django_db


def _check(public, slug):
    response = public.get("/signup/check-slug/", {"slug": slug}, HTTP_HX_REQUEST="true")
    assert response.status_code == 200
    html = response.content.decode()
    return re.search(r'data-slug-state="(\w+)"', html).group(1), html


def test_a_free_subdomain_is_shown_with_its_address(public, unique_slug):
    slug = unique_slug("free")
    state, html = _check(public, slug)
    assert state == "free" and f"{slug}.localhost" in html and "可以使用" in html


def test_upper_case_is_folded(public, unique_slug):
    slug = unique_slug("case")
    state, html = _check(public, slug.upper())
    assert state == "free" and f"{slug}.localhost" in html


def test_a_taken_subdomain_is_named(public, tenant_a):
    state, html = _check(public, "alpha")
    assert state == "taken" and "已被占用" in html and "可以使用" not in html


@pytest.mark.parametrize("slug", ["www", "admin", "console", "api", "billing", "signup"])
def test_reserved_subdomains(public, slug):
    state, html = _check(public, slug)
    assert state == "reserved" and "保留" in html


@pytest.mark.parametrize("slug, reason", [
    ("ab", "3 到 40"),
    ("a" * 41, "3 到 40"),
    ("Bad_Slug", "只能包含"),
    ("-abc", "只能包含"),
    ("a--b", "连续的连字符"),
    ("中文名", "只能包含"),
    ("<script>x</script>", "只能包含"),
])
def test_invalid_subdomains_say_why(public, slug, reason):
    state, html = _check(public, slug)
    assert state == "invalid" and reason in html
    assert "<script>" not in html  # echoed input is escaped


def test_huge_input_is_refused_not_crashed(public):
    state, html = _check(public, "a" * 100_000)
    assert state == "invalid" and "3 到 40" in html


def test_empty_input_says_nothing(public):
    state, html = _check(public, "")
    assert state == "empty" and "可以使用" not in html


def test_the_check_writes_nothing(public, unique_slug, django_assert_max_num_queries):
    from tenants.models import Tenant

    before = Tenant.objects.count()
    with django_assert_max_num_queries(5) as captured:
        _check(public, unique_slug("q"))
    statements = " ".join(q["sql"].split(None, 1)[0].upper() for q in captured.captured_queries)
    assert "INSERT" not in statements and "UPDATE" not in statements and "DELETE" not in statements
    assert Tenant.objects.count() == before


def test_post_is_not_allowed(public):
    assert public.post("/signup/check-slug/", {"slug": "abc"}).status_code == 405
