"""Sorts of the customer list (?sort= on the API and the web page, kept in saved views): every
sort walks keyset pages that equal one ORDER BY, through ties and NULLs, forwards and back;
each first page (for everyone, per owner, in a salesperson's scope) is served by an index;
bad input is a 400 naming what is allowed (the web page falls back with a message)."""

import datetime

import pytest
from django.db import connection
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from crm.customers import selectors
from crm.customers.models import Customer

pytestmark = pytest.mark.django_db

ALL_SORTS = list(selectors.CUSTOMER_SORTS)
NAMES = ["中国移动通信有限公司", "阿里巴巴网络有限公司", "北京燕山仪表有限公司", "上海浦江电子有限公司",
         "重庆长安汽车有限公司", "深圳华强电子有限公司", "成都天府软件有限公司", "Apple 贸易有限公司"]


@pytest.fixture
def people(tenant_a, user_in):
    return {k: user_in(tenant_a, k) for k in ("sales", "sales2", "manager", "exec")}


@pytest.fixture
def book(tenant_a, people, new_customer, in_tenant):
    """Eight customers of sales with ties in every time column, two never followed up; one
    customer of sales2; one merged away (never listed)."""
    made = [new_customer(tenant_a, people["sales"], name) for name in NAMES]
    other = new_customer(tenant_a, people["sales2"], "刘洋的客户有限公司")
    gone = new_customer(tenant_a, people["sales"], "已合并的客户有限公司")
    t0 = timezone.now() - datetime.timedelta(days=3)
    with in_tenant(tenant_a):
        for i, c in enumerate(made):
            tie = t0 + datetime.timedelta(hours=i // 3)  # groups of three share each time
            Customer.objects.filter(pk=c.pk).update(
                updated_at=tie, created_at=tie - datetime.timedelta(days=1),
                last_activity_at=None if i in (2, 5) else tie - datetime.timedelta(days=2))
        Customer.objects.filter(pk=gone.pk).update(merged_into=made[0])
    return {"mine": [c.pk for c in made], "other": other.pk, "gone": gone.pk}


def _expected(actor, sort_value, query=""):
    """The whole list in one ORDER BY (NULL last_activity_at counts as the oldest)."""
    from django.db.models import F

    sort = selectors.CUSTOMER_SORTS[sort_value]
    qs = selectors.customer_list_filter(selectors.customer_list_visible_to(actor=actor), QueryDict(query))
    key = sort.key()
    if sort.descending:
        order = [key.desc(nulls_last=True), F("id").desc()]
    else:
        order = [key.asc(nulls_first=True), F("id").asc()]
    return list(qs.order_by(*order).values_list("pk", flat=True))


def _walk(api, url):
    ids, pages = [], []
    while url:
        response = api.get(url)
        assert response.status_code == 200, response.content
        body = response.json()
        pages.append(body)
        ids += [c["id"] for c in body["results"]]
        url = body["next"]
    return ids, pages


@pytest.mark.parametrize("sort", ALL_SORTS)
def test_keyset_pages_equal_one_order_by_forwards_and_back(tenant_a, people, book, api_for, in_tenant, sort):
    api = api_for(tenant_a, people["sales"])
    ids, pages = _walk(api, f"/api/v1/customers/?sort={sort}&limit=3")
    with in_tenant(tenant_a):
        expected = _expected(people["sales"], sort)
    assert ids == expected and set(ids) == set(book["mine"])
    assert pages[0]["previous"] is None and pages[0]["sort"] == sort
    # and back again from the last page through the previous links
    back, url = [], pages[-1]["previous"]
    while url:
        body = api.get(url).json()
        back = [c["id"] for c in body["results"]] + back
        url = body["previous"]
    assert back + [c["id"] for c in pages[-1]["results"]] == expected


def test_where_the_never_followed_up_go_and_the_default(tenant_a, people, book, api_for):
    api = api_for(tenant_a, people["sales"])
    never = {book["mine"][2], book["mine"][5]}
    oldest_first, _pages = _walk(api, "/api/v1/customers/?sort=last_activity_at&limit=1")
    newest_first, _pages = _walk(api, "/api/v1/customers/?sort=-last_activity_at&limit=1")
    assert set(oldest_first[:2]) == never and set(newest_first[-2:]) == never
    default, _pages = _walk(api, "/api/v1/customers/?limit=4")
    assert default == _walk(api, "/api/v1/customers/?sort=-updated_at&limit=4")[0]


def test_names_sort_by_pinyin_where_the_server_has_icu(tenant_a, people, book, api_for):
    with connection.cursor() as cursor:
        cursor.execute("SELECT collprovider FROM pg_collation WHERE collname = %s", [selectors.NAME_COLLATION])
        provider = cursor.fetchone()[0]
    names, _pages = _walk(api_for(tenant_a, people["sales"]), "/api/v1/customers/?sort=name&limit=50")
    by_id = dict(zip(book["mine"], NAMES, strict=True))
    shown = [by_id[i] for i in names]
    if provider == "i":  # ICU: pinyin (a, b, c, ch, s, s, z), Latin after Chinese
        assert [n[0] for n in shown] == ["阿", "北", "成", "重", "上", "深", "中", "A"]
    else:  # a server without ICU: code points
        assert shown == sorted(NAMES)


def test_scopes_hold_in_every_sort(tenant_a, tenant_b, people, book, api_for, user_in):
    for sort in ALL_SORTS:
        sales, _pages = _walk(api_for(tenant_a, people["sales"]), f"/api/v1/customers/?sort={sort}")
        assert book["other"] not in sales and book["gone"] not in sales
        sales2, _pages = _walk(api_for(tenant_a, people["sales2"]), f"/api/v1/customers/?sort={sort}")
        assert book["other"] in sales2 and not set(book["mine"]) & set(sales2)
        owner, _pages = _walk(api_for(tenant_a, people["exec"]),
                              f"/api/v1/customers/?sort={sort}&owner={people['sales2'].pk}")
        assert owner == [book["other"]]
        beta, _pages = _walk(api_for(tenant_b, user_in(tenant_b, "exec")), f"/api/v1/customers/?sort={sort}")
        assert not (set(book["mine"]) | {book["other"]}) & set(beta)


def test_bad_sort_and_cursor_are_400_naming_the_rule(tenant_a, people, book, api_for):
    api = api_for(tenant_a, people["sales"])
    bad = api.get("/api/v1/customers/?sort=phone")
    assert bad.status_code == 400
    message = bad.json()["sort"][0]
    assert "phone" in message and all(value in message for value in ALL_SORTS)
    garbage = api.get("/api/v1/customers/?cursor=not-a-cursor")
    assert garbage.status_code == 400 and "cursor" in garbage.json()
    by_name = api.get("/api/v1/customers/?sort=name&limit=2").json()["next"]
    cursor = QueryDict(by_name.split("?", 1)[1])["cursor"]
    mixed = api.get(f"/api/v1/customers/?sort=created_at&cursor={cursor}")
    assert mixed.status_code == 400 and "name" in mixed.json()["cursor"][0]


def test_every_sort_keeps_the_query_count_flat(tenant_a, people, new_customer, api_for,
                                               django_assert_max_num_queries, in_tenant):
    made = [new_customer(tenant_a, people["sales2"], f"排序计数{i}号有限公司") for i in range(25)]
    with in_tenant(tenant_a):  # a few never followed up: the oldest-first page reads two segments
        Customer.objects.filter(pk__in=[c.pk for c in made[:3]]).update(last_activity_at=None)
    api = api_for(tenant_a, people["exec"])
    for sort in ALL_SORTS:
        with django_assert_max_num_queries(10):
            assert len(api.get(f"/api/v1/customers/?sort={sort}&limit=50").json()["results"]) >= 25


def _plan_of_each_query(run) -> list[str]:
    with CaptureQueriesContext(connection) as ctx:
        run()
    plans = []
    for query in ctx.captured_queries:
        if not query["sql"].lstrip().upper().startswith("SELECT"):
            continue
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN " + query["sql"])
            plans.append("\n".join(row[0] for row in cursor.fetchall()))
    return plans


@pytest.mark.parametrize("sort, index", [
    ("-updated_at", "customer_updated"), ("updated_at", "customer_updated"),
    ("-created_at", "customer_created"), ("created_at", "customer_created"),
    ("last_activity_at", "customer_last_activity"), ("-last_activity_at", "customer_last_activity"),
    ("name", "customer_name_sort"), ("-name", "customer_name_sort")])
def test_each_sort_is_served_by_an_index(tenant_a, people, in_tenant, sort, index):
    """With sorting (and sequential and bitmap scans) priced out, the planner still finds a
    plan: an index scan in the sort's order (the sort's index or its per-owner twin), for
    everyone, per owner, and in the scope of a salesperson; the NULL segment of the
    follow-up sort included."""
    now = timezone.now()
    with in_tenant(tenant_a):
        owners = [people["sales"], people["sales2"], people["manager"]]
        Customer.objects.bulk_create([
            Customer(name=f"索引测试{i:04d}有限公司", owner=owners[i % 3], region_id=owners[i % 3].region_id,
                     department_id=owners[i % 3].department_id,
                     last_activity_at=None if i % 10 == 0 else now - datetime.timedelta(minutes=i))
            for i in range(600)])
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE customers_customer")
            cursor.execute("SET LOCAL enable_seqscan = off; SET LOCAL enable_bitmapscan = off; "
                           "SET LOCAL enable_sort = off")
        spec = selectors.CUSTOMER_SORTS[sort]
        cases = [(people["exec"], ""), (people["exec"], f"owner={people['sales'].pk}"), (people["sales"], "")]
        for actor, query in cases:
            qs = selectors.customer_list_filter(selectors.customer_list_visible_to(actor=actor), QueryDict(query))
            first = selectors.customer_list_page(qs, sort=spec, limit=20)
            cursors = [None, first.next_cursor]
            if spec.nullable:
                cursors.append(selectors._cursor_encode(
                    spec, qs.filter(last_activity_at__isnull=True).order_by("id")[3], backwards=False))
            for cursor in cursors:
                plans = _plan_of_each_query(
                    lambda cursor=cursor, qs=qs: selectors.customer_list_page(qs, sort=spec, cursor=cursor, limit=20))
                assert plans
                for plan in plans:
                    customers = [line for line in plan.splitlines() if "on customers_customer" in line]
                    indexes = (f" {index} ", f" {index.replace('customer_', 'customer_owner_', 1)} ")
                    assert customers and all(any(i in line for i in indexes) for line in customers), (
                        actor, query, plan)
                    assert " Sort " not in plan and "Sort Key" not in plan, plan


# -- the web list ---------------------------------------------------------------------------------
def test_web_list_sorts_pages_and_offers_the_choice(tenant_a, people, book, web_as, in_tenant, monkeypatch):
    from crm.customers import views

    monkeypatch.setattr(views, "PAGE_SIZE", 3)
    web = web_as(tenant_a, people["sales"])
    with in_tenant(tenant_a):
        expected = _expected(people["sales"], "last_activity_at")
    seen, url = [], "/customers/?sort=last_activity_at"
    while url:
        response = web.get(url)
        assert response.status_code == 200
        assert response.context["sort"].value == "last_activity_at"
        seen += [c.pk for c in response.context["customers"]]
        next_url = response.context["next_url"]
        assert next_url is None or ("sort=last_activity_at" in next_url and "after=" in next_url)
        url = "/customers/" + next_url if next_url else None
    assert seen == expected
    page = web.get("/customers/?sort=name").content.decode()
    assert 'data-testid="customer-sort"' in page and '<option value="name" selected>' in page
    for value in selectors.CUSTOMER_SORTS:
        assert f'<option value="{value}"' in page
    # a cursor that is not one starts again at the first page
    assert web.get("/customers/?sort=name&after=%%%").context["customers"]


def test_web_list_falls_back_to_the_default_sort_with_a_message(tenant_a, people, book, web_as, in_tenant):
    web = web_as(tenant_a, people["sales"])
    response = web.get("/customers/?sort=phone")
    assert response.status_code == 200 and response.context["sort"].value == "-updated_at"
    page = response.content.decode()
    assert "排序方式“phone”无效" in page and "已按默认方式" in page
    with in_tenant(tenant_a):
        assert [c.pk for c in response.context["customers"]] == _expected(people["sales"], "-updated_at")


def test_saved_views_keep_the_sort(tenant_a, people, web_as):
    web = web_as(tenant_a, people["sales"])
    assert 'action="/customers/views/save/"' in web.get("/customers/?sort=name").content.decode()
    assert 'action="/customers/views/save/"' not in web.get("/customers/").content.decode()
    response = web.post("/customers/views/save/", {"name": "按名称", "query": "stage=lead&sort=name&after=abc"})
    assert response.status_code == 302 and response["Location"] == "/customers/?stage=lead&sort=name"
    assert 'href="/customers/?stage=lead&amp;sort=name"' in web.get("/customers/").content.decode()
    # an unknown or the default sort is not stored
    response = web.post("/customers/views/save/", {"name": "默认", "query": "stage=lead&sort=-updated_at"})
    assert response["Location"] == "/customers/?stage=lead"
    assert web.post("/customers/views/save/", {"name": "乱的", "query": "sort=bogus&level=A"})["Location"] == (
        "/customers/?level=A")
