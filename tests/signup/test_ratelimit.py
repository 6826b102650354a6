"""A sign-up flood from one address is stopped (429 naming the limit); others are not."""

import pytest

from tenants.models import Tenant

pytestmark = pytest.mark.django_db


def test_signups_beyond_the_hourly_limit_get_429(public, signup_data, unique_slug, settings):
    settings.SIGNUP_RATE_LIMIT_PER_HOUR = 2
    for _ in range(2):
        assert public.post("/signup/", signup_data(unique_slug("flood"))).status_code == 302
    slug = unique_slug("flood")
    response = public.post("/signup/", signup_data(slug))
    assert response.status_code == 429
    page = response.content.decode()
    assert "每小时最多注册 2 次" in page and "分钟后再试" in page
    assert 1 <= int(response["Retry-After"]) <= 3600
    assert not Tenant.objects.filter(slug=slug).exists()
    # The form itself still opens; another address may still sign up.
    assert public.get("/signup/").status_code == 200
    other = public.post("/signup/", signup_data(slug), REMOTE_ADDR="203.0.113.9")
    assert other.status_code == 302 and Tenant.objects.filter(slug=slug).exists()


def test_refused_submissions_count_too_but_more_loosely(public, signup_data, unique_slug, settings):
    settings.SIGNUP_RATE_LIMIT_PER_HOUR = 1
    for _ in range(10):  # ten times the limit of garbage
        assert public.post("/signup/", signup_data(unique_slug("junk"), password="1")).status_code == 400
    slug = unique_slug("junk")
    response = public.post("/signup/", signup_data(slug))
    assert response.status_code == 429
    assert not Tenant.objects.filter(slug=slug).exists()


def test_forwarded_headers_do_not_escape_the_limit(public, signup_data, unique_slug, settings):
    settings.SIGNUP_RATE_LIMIT_PER_HOUR = 1
    assert public.post("/signup/", signup_data(unique_slug("fwd"))).status_code == 302
    response = public.post("/signup/", signup_data(unique_slug("fwd")), HTTP_X_FORWARDED_FOR="198.51.100.7")
    assert response.status_code == 429


def test_the_limit_is_per_hour(public, signup_data, unique_slug, settings, monkeypatch):
    import time as time_module

    from signup import ratelimit

    settings.SIGNUP_RATE_LIMIT_PER_HOUR = 1
    now = time_module.time()
    monkeypatch.setattr(ratelimit, "_now", lambda: now)
    assert public.post("/signup/", signup_data(unique_slug("hour"))).status_code == 302
    assert public.post("/signup/", signup_data(unique_slug("hour"))).status_code == 429
    monkeypatch.setattr(ratelimit, "_now", lambda: now + 3600)
    assert public.post("/signup/", signup_data(unique_slug("hour"))).status_code == 302


def test_the_429_page_in_english(public, signup_data, unique_slug, settings):
    settings.SIGNUP_RATE_LIMIT_PER_HOUR = 0
    public.cookies["qiao_language"] = "en"
    response = public.post("/signup/", signup_data(unique_slug("en")))
    assert response.status_code == 429 and 'lang="en"' in response.content.decode()
