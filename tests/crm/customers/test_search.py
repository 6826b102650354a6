"""One-click search: every query shape, contacts, ranking, visibility and odd input."""

from __future__ import annotations

import pytest

from crm.customers import search

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(tenant_a, user_in):
    return {k: user_in(tenant_a, k) for k in ("sales", "sales2", "manager", "exec")}


@pytest.fixture
def acme(tenant_a, people, new_customer, credit_code):
    """A few customers of the salesperson (北京) and one of a colleague (上海)."""
    sales = people["sales"]
    made = {
        "hzsz": new_customer(tenant_a, sales, "北京合众思壮科技股份有限公司", short_name="合众思壮",
                             phone="010-5881 6688", email="Sales@HezhongSizhuang.com", credit_code=credit_code()),
        "hw": new_customer(tenant_a, sales, "华为", phone="13800138000"),
        "hwjs": new_customer(tenant_a, sales, "华为技术有限公司", phone="+86 755 2878 0808"),
        "szhw": new_customer(tenant_a, sales, "深圳市华为投资控股有限公司"),
        "other": new_customer(tenant_a, people["sales2"], "上海思壮贸易有限公司", phone="021-6888 1234"),
    }
    return made


def _search(client, q, **extra):
    return client.get("/api/v1/search", {"q": q, **extra})


def _names(payload, kind="customers"):
    return [row["name"] for row in payload[kind]]


def _ids(payload, kind="customers"):
    return [row["id"] for row in payload[kind]]


# -- query shapes ----------------------------------------------------------------------------------
@pytest.mark.parametrize("q", ["壮", "思壮", "合众", "众思壮科", "合众思壮科技股份有限公司"])
def test_one_two_and_more_chinese_characters(tenant_a, people, acme, api_for, q):
    response = _search(api_for(tenant_a, people["sales"]), q)
    assert response.status_code == 200
    assert acme["hzsz"].pk in _ids(response.json())
    assert response.json()["kind"] == "name"


def test_a_two_character_query_needs_the_characters_together(tenant_a, people, acme, api_for):
    """合 and 众 both occur in the name, but 众合 does not: no false hit from the bigram index."""
    assert _ids(_search(api_for(tenant_a, people["sales"]), "众合").json()) == []


@pytest.mark.parametrize("q", ["hzsz", "HZSZ", "hezhongsizhuang", "sizhuang", "bjhzsz", "hezhong"])
def test_pinyin_initials_and_full_spelling(tenant_a, people, acme, api_for, q):
    payload = _search(api_for(tenant_a, people["sales"]), q).json()
    assert payload["kind"] == "pinyin"
    assert acme["hzsz"].pk in _ids(payload)


@pytest.mark.parametrize("q,key", [
    ("5881", "hzsz"), ("58816688", "hzsz"), ("010-5881-6688", "hzsz"), ("010 5881 6688", "hzsz"),
    ("6688", "hzsz"), ("1380", "hw"), ("13800138000", "hw"), ("138-0013-8000", "hw"), ("0013 8000", "hw"),
    ("2878 0808", "hwjs"), ("0755-28780808", "hwjs"), ("+86 755 2878 0808", "hwjs"),
])
def test_phone_by_any_four_or_more_consecutive_digits(tenant_a, people, acme, api_for, q, key):
    payload = _search(api_for(tenant_a, people["sales"]), q).json()
    assert payload["kind"] == "phone"
    assert acme[key].pk in _ids(payload)


def test_phone_digits_must_be_consecutive(tenant_a, people, acme, api_for):
    # 5881 and 6688 are both in 010-5881 6688, 66885881 is not
    assert acme["hzsz"].pk not in _ids(_search(api_for(tenant_a, people["sales"]), "66885881").json())


@pytest.mark.parametrize("q", ["sales@hezhongsizhuang.com", "SALES@HezhongSizhuang.com", "sales@hezhong"])
def test_email_whole_or_prefix(tenant_a, people, acme, api_for, q):
    payload = _search(api_for(tenant_a, people["sales"]), q).json()
    assert payload["kind"] == "email"
    assert _ids(payload) == [acme["hzsz"].pk]


def test_credit_code_whole_prefix_and_lower_case(tenant_a, people, acme, api_for):
    client = api_for(tenant_a, people["sales"])
    code = acme["hzsz"].credit_code
    for q in (code, code.lower(), code[:12], f" {code} "):
        payload = _search(client, q).json()
        # an all-digit start of a code reads as a phone number, and finds the code as well
        assert payload["kind"] in ("credit_code", "phone"), q
        assert acme["hzsz"].pk in _ids(payload), q


def test_contacts_by_name_phone_and_email(tenant_a, people, acme, api_for, in_tenant):
    from crm.customers.services import contact_create

    with in_tenant(tenant_a):
        contact = contact_create(actor=people["sales"], customer_id=acme["hzsz"].pk, data={
            "name": "欧阳建国", "title": "采购经理", "phones": ["139-1234-5678"],
            "emails": ["ouyang@hezhong.com"]})
    client = api_for(tenant_a, people["sales"])
    for q in ("欧阳建国", "欧阳", "建国", "阳", "oyjg", "ouyangjianguo", "jianguo", "5678", "13912345678",
              "139 1234 5678", "ouyang@hezhong.com", "ouyang@"):
        payload = _search(client, q).json()
        assert contact.pk in _ids(payload, "contacts"), q
        row = next(r for r in payload["contacts"] if r["id"] == contact.pk)
        assert row["customer"] == acme["hzsz"].pk and row["customer_name"] == acme["hzsz"].name
    # and the colleague in 上海 never sees it
    other = _search(api_for(tenant_a, people["sales2"]), "欧阳建国").json()
    assert contact.pk not in _ids(other, "contacts")


# -- ranking ----------------------------------------------------------------------------------------
def test_exact_name_first_then_prefix_then_the_rest(tenant_a, people, acme, api_for):
    names = _names(_search(api_for(tenant_a, people["sales"]), "华为").json())
    assert names[:3] == ["华为", "华为技术有限公司", "深圳市华为投资控股有限公司"]


def test_common_queries_still_rank_exact_and_prefix_hits_first(tenant_a, people, acme, api_for, monkeypatch,
                                                              new_customer):
    """Above RARE_LIMIT matches the newest-first strategy runs; exact and prefix names still lead."""
    for i in range(4):
        new_customer(tenant_a, people["sales"], f"广州华为{i}号经销有限公司")
    monkeypatch.setattr(search, "RARE_LIMIT", 2)
    payload = _search(api_for(tenant_a, people["sales"]), "华为").json()
    names = _names(payload)
    assert names[0] == "华为" and names[1] == "华为技术有限公司"
    assert len(names) == 7 and acme["other"].pk not in _ids(payload)
    assert len(_names(_search(api_for(tenant_a, people["sales"]), "华为", limit="3").json())) == 3


def test_search_functions_directly(tenant_a, people, acme, in_tenant):
    from crm.customers import selectors

    with in_tenant(tenant_a):
        qs = selectors.customer_list_visible_to(actor=people["sales"])
        parsed = search.parse_query("思壮")
        assert [c.pk for c in search.search_customers(qs=qs, parsed=parsed)] == [acme["hzsz"].pk]
        everyone = selectors.customer_list_visible_to(actor=people["exec"])
        found = [c.pk for c in search.search_customers(qs=everyone, parsed=parsed)]
        assert found == [acme["other"].pk, acme["hzsz"].pk]  # neither exact nor a prefix: shorter first
        assert search.search_contacts(qs=selectors.contact_list_visible_to(actor=people["sales"]),
                                      parsed=parsed) == []
    assert search.parse_query("") is None and search.parse_query("  ,，。!") is None


# -- visibility -------------------------------------------------------------------------------------
def test_results_are_limited_to_what_the_user_may_see(tenant_a, tenant_b, people, acme, api_for, user_in):
    # the salesperson does not get the colleague's 上海思壮, the colleague gets only their own
    assert _ids(_search(api_for(tenant_a, people["sales"]), "思壮").json()) == [acme["hzsz"].pk]
    assert _ids(_search(api_for(tenant_a, people["sales2"]), "思壮").json()) == [acme["other"].pk]
    assert _ids(_search(api_for(tenant_a, people["sales2"]), "hzsz").json()) == []
    assert _ids(_search(api_for(tenant_a, people["sales2"]), "5881").json()) == []
    # the 华北 manager sees 北京 but not 上海; the executive sees both
    assert _ids(_search(api_for(tenant_a, people["manager"]), "思壮").json()) == [acme["hzsz"].pk]
    assert set(_ids(_search(api_for(tenant_a, people["exec"]), "思壮").json())) == {
        acme["hzsz"].pk, acme["other"].pk}
    # another tenant never, not even its administrator
    other_tenant = api_for(tenant_b, user_in(tenant_b, "admin"))
    for q in ("思壮", "hzsz", "5881", "sales@hezhongsizhuang.com", acme["hzsz"].credit_code):
        payload = _search(other_tenant, q).json()
        assert payload["customers"] == [] and payload["contacts"] == [], q


def test_anonymous_is_refused(tenant_a, api_for):
    assert _search(api_for(tenant_a), "华为").status_code in (401, 403)


# -- odd input ----------------------------------------------------------------------------------------
@pytest.mark.parametrize("q", [
    "", " ", "'", "''", '"', "\\", "\\\\", "&", "|", "!", ":*", "a:*", "华为:*", "'华为' & '技术'",
    "!华为", "华|为", "(", ")", "()", "<->", "a & b | !c", "%", "_", "%_%", "@", "@@", "a@", "1234:*",
    "12'34", "---", "+86", "😀", "华为😀", "\u3000", "ＨＺＳＺ", "１３８００１３８０００", "91\\110000", "x" * 100,
    "\x00", "华\x00为", "e:foo", "p:hzsz", "u:华", "d:1234",
])
def test_odd_queries_never_fail(tenant_a, people, acme, api_for, q):
    response = _search(api_for(tenant_a, people["sales"]), q)
    assert response.status_code in (200, 400), (q, response.status_code)
    if response.status_code == 200:
        assert set(response.json()) >= {"customers", "contacts"}


def test_full_width_input_is_folded(tenant_a, people, acme, api_for):
    client = api_for(tenant_a, people["sales"])
    assert acme["hzsz"].pk in _ids(_search(client, "ＨＺＳＺ").json())
    assert acme["hw"].pk in _ids(_search(client, "１３８００１３８０００").json())


def test_too_long_query_is_400(tenant_a, people, api_for):
    response = _search(api_for(tenant_a, people["sales"]), "华" * 101)
    assert response.status_code == 400 and "q" in response.json()


@pytest.mark.parametrize("limit", ["0", "-1", "abc", "1000", ""])
def test_odd_limits(tenant_a, people, acme, api_for, limit):
    response = _search(api_for(tenant_a, people["sales"]), "华为", limit=limit)
    assert response.status_code == 200 and len(response.json()["customers"]) <= 50


# -- scope tokens: the search index applies the scope ---------------------------------------------
def _tokens(table, pk):
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute(f"SELECT tsvector_to_array(search_vector) FROM {table} WHERE id = %s", [pk])
        return {t for t in cursor.fetchone()[0] if t[:3] in ("so:", "sd:", "sr:")}


def test_scope_tokens_follow_owner_department_and_region(tenant_a, people, acme, in_tenant):
    from crm.customers.services import contact_create, customers_transfer

    sales, sales2 = people["sales"], people["sales2"]
    with in_tenant(tenant_a):
        customer = acme["hzsz"]
        contact = contact_create(actor=sales, customer_id=customer.pk, data={"name": "张三", "phones": ["13911112222"]})
        expected = {f"so:{sales.pk}", f"sd:{sales.department_id}", f"sr:{customer.region_id}"} - {"sr:None"}
        ancestors = {f"sd:{int(p)}" for p in sales.department.path.split(".") if p}
        assert ancestors <= _tokens("customers_customer", customer.pk)  # every level up the tree
        assert expected <= _tokens("customers_customer", customer.pk)
        assert expected <= _tokens("customers_contact", contact.pk)
        customers_transfer(actor=people["exec"], customer_ids=[customer.pk], to_owner_id=sales2.pk)
        moved = {f"so:{sales2.pk}", f"sd:{sales2.department_id}"}
        assert moved <= _tokens("customers_customer", customer.pk)
        assert moved <= _tokens("customers_contact", contact.pk)
        assert f"so:{sales.pk}" not in _tokens("customers_contact", contact.pk)


@pytest.mark.parametrize("q", ["思壮", "hzsz", "5881", "华为", "sales@hezhongsizhuang.com"])
@pytest.mark.parametrize("who", ["sales", "sales2", "manager", "exec"])
def test_search_with_the_actor_finds_exactly_what_the_scope_allows(tenant_a, people, acme, in_tenant, q, who):
    """The index-side scope (actor given) returns the same rows as the row-level scope alone."""
    from crm.customers import selectors

    actor = people[who]
    with in_tenant(tenant_a):
        parsed = search.parse_query(q)
        qs = selectors.customer_list_visible_to(actor=actor)
        kqs = selectors.contact_list_visible_to(actor=actor)
        plain = [c.pk for c in search.search_customers(qs=qs, parsed=parsed)]
        assert [c.pk for c in search.search_customers(qs=qs, parsed=parsed, actor=actor)] == plain
        assert ([c.pk for c in search.search_contacts(qs=kqs, parsed=parsed, actor=actor)]
                == [c.pk for c in search.search_contacts(qs=kqs, parsed=parsed)])


def test_a_stale_scope_token_never_shows_a_row_outside_the_scope(tenant_a, people, acme, in_tenant):
    """Tokens only narrow the search: a row whose tokens wrongly claim the salesperson still
    fails the row-level scope check."""
    from django.db import connection

    from crm.customers import selectors

    sales = people["sales"]
    other = acme["other"]  # sales2's customer
    with in_tenant(tenant_a), connection.cursor() as cursor:
        cursor.execute("UPDATE customers_customer SET search_vector = search_vector || %s::tsvector WHERE id = %s",
                       [f"'so:{sales.pk}'", other.pk])
        parsed = search.parse_query("上海思壮")
        found = search.search_customers(qs=selectors.customer_list_visible_to(actor=sales), parsed=parsed,
                                        actor=sales)
        assert other.pk not in [c.pk for c in found]


def test_moving_a_department_re_indexes_the_scope_tokens_of_its_customers(tenant_a, user_in, in_tenant, new_customer,
                                                                            django_capture_on_commit_callbacks):
    """Customers carry their department's ancestors; moving the department under another
    parent queues a re-index (after commit) that brings the tokens along."""
    from crm.org.models import Department
    from crm.org.services import department_create, department_update, staff_create

    admin = user_in(tenant_a, "admin")
    with in_tenant(tenant_a):
        first = department_create(actor=admin, name="迁移前上级")
        second = department_create(actor=admin, name="迁移后上级")
        team = department_create(actor=admin, name="迁移测试组", parent_id=first.pk)
        seller = staff_create(actor=None, email="mover@alpha.example.com", full_name="迁移业务员",
                              role_codes=["salesperson"], department_id=team.pk)
    customer = new_customer(tenant_a, seller, "迁移部门测试有限公司")
    with in_tenant(tenant_a):
        assert {f"sd:{first.pk}", f"sd:{team.pk}"} <= _tokens("customers_customer", customer.pk)
        with django_capture_on_commit_callbacks(execute=True):
            department_update(actor=admin, department_id=team.pk, parent_id=second.pk)
        assert Department.objects.get(pk=team.pk).path.startswith(second.path)
        tokens = _tokens("customers_customer", customer.pk)
        assert f"sd:{second.pk}" in tokens and f"sd:{first.pk}" not in tokens and f"sd:{team.pk}" in tokens


@pytest.mark.parametrize("q", ["华为", "思壮", "hzsz", "5881", "13800138000", "sales@hezhongsizhuang.com", "壮",
                               "huawei", "hezhongsizhuang", "hezhong"])
def test_the_sql_ranking_of_rare_queries_matches_the_python_rank_key(tenant_a, people, acme, in_tenant, q):
    from crm.customers import selectors
    from crm.customers.normalize import company_name_normalize

    with in_tenant(tenant_a):
        qs = selectors.customer_list_visible_to(actor=people["exec"])
        parsed = search.parse_query(q)
        norm = company_name_normalize(parsed.text) if parsed.kind in ("name", "pinyin") else ""
        matches = search._verified(qs, parsed, customer=True)
        rows = list(matches.order_by().values_list("pk", "name", "short_name", "phone_digits", "email",
                                                   "credit_code", "pinyin_key", "updated_at"))
        rows.sort(key=lambda r: (search._rank_key(parsed.text, norm, parsed.kind == "pinyin")(r), -r[0]))
        ids, rare = search._ranked_in_sql(matches, parsed, norm, 20)
        assert rare and ids == [r[0] for r in rows[:20]] and ids


def test_the_pinyin_key_reads_the_short_name_else_the_normalised_name(tenant_a, people, acme, in_tenant):
    from crm.customers.models import Customer

    with in_tenant(tenant_a):
        keys = dict(Customer.objects.filter(pk__in=[c.pk for c in acme.values()]).values_list("pk", "pinyin_key"))
    assert keys[acme["hzsz"].pk] == "hezhongsizhuang"  # the short name 合众思壮
    assert keys[acme["hw"].pk] == "huawei"
    assert keys[acme["other"].pk] == search.pinyin_key("", "上海思壮贸易") == "shanghaisizhuangmaoyi"
    assert search.pinyin_key("", "ACME Trading-Co. 2") == "acmetradingco2"


def test_a_pinyin_query_many_customers_match_lists_the_exact_short_name_readings_first(
        tenant_a, people, acme, in_tenant, new_customer, monkeypatch):
    """Many customers named 启明 (qiming): the short names that read exactly so come first,
    shorter names first, then the newest, through the pinyin btree; a salesperson sees only
    their own; the order is the one the full ranking gives."""
    from crm.customers import selectors

    sales, sales2 = people["sales"], people["sales2"]
    made = [new_customer(tenant_a, sales if i % 2 else sales2, f"{city}启明{trade}有限公司", short_name="启明")
            for i, (city, trade) in enumerate([("杭州", "商贸"), ("成都", "软件"), ("海口", "食品"), ("合肥", "电子"),
                                                ("天津", "医疗器械"), ("洛阳", "印刷")])]
    new_customer(tenant_a, sales, "启明星辰信息技术集团股份有限公司", short_name="启明星辰")  # starts, not exact
    new_customer(tenant_a, sales, "齐鸣乐器有限公司")  # the same reading, no short name: qimingyueqi
    calls = []
    monkeypatch.setattr(search, "_ranked_in_sql", lambda *a, **k: calls.append(a) or ([], False))
    with in_tenant(tenant_a):
        for actor, visible in ((people["exec"], made), (sales, [c for c in made if c.owner_id == sales.pk])):
            qs = selectors.customer_list_visible_to(actor=actor)
            parsed = search.parse_query("qiming")
            fast = search.search_customers(qs=qs, parsed=parsed, limit=3, actor=actor)
            assert all(c.pinyin_key == "qiming" for c in fast)
            expected = sorted(visible, key=lambda c: (len(c.name), -c.updated_at.timestamp(), -c.pk))[:3]
            assert [c.pk for c in fast] == [c.pk for c in expected]
    assert not calls  # the fast path answered: no ranking of every match
    monkeypatch.undo()
    with in_tenant(tenant_a):
        # the full ranking agrees, and puts the readings that start so after the exact ones
        # (shorter names first: 齐鸣乐器 before 启明星辰)
        qs = selectors.customer_list_visible_to(actor=people["exec"])
        parsed = search.parse_query("qiming")
        ranked = search.search_customers(qs=qs, parsed=parsed, limit=20, actor=people["exec"])
        assert [c.pk for c in ranked[:3]] == [c.pk for c in sorted(
            made, key=lambda c: (len(c.name), -c.updated_at.timestamp(), -c.pk))[:3]]
        assert [c.short_name for c in ranked[:6]] == ["启明"] * 6
        assert [c.name for c in ranked[6:8]] == ["齐鸣乐器有限公司", "启明星辰信息技术集团股份有限公司"]


# -- contacts by four phone digits: ContactPhoneGram ------------------------------------------------
def _gram_rows(contact_ids):
    from crm.customers.models import ContactPhoneGram

    return sorted(ContactPhoneGram.objects.filter(contact_id__in=contact_ids)
                  .values_list("contact_id", "gram", "rank", "name_len", "updated_at"))


@pytest.fixture
def digit_contacts(tenant_a, people, acme, in_tenant):
    """Contacts sharing the digits 4321: names of several lengths, one named by the digits
    themselves and one starting with them (those lead the ranking), one the salesperson's
    colleague owns."""
    from crm.customers.services import contact_create

    sales, sales2 = people["sales"], people["sales2"]
    specs = [(sales, acme["hzsz"], "欧阳建国", ["139-4321-0001"]), (sales, acme["hw"], "王伟", ["021-4321 5555"]),
             (sales, acme["hwjs"], "李娜", ["13843210000", "010-8888 9999"]), (sales, acme["hzsz"], "４３２１", ["0755-4321 7777"]),
             (sales, acme["szhw"], "4321号", ["13043210009"]), (sales2, acme["other"], "张三丰", ["+86 135 4321 6666"]),
             (sales, acme["hw"], "赵六", ["13900001111"])]
    with in_tenant(tenant_a):
        return [contact_create(actor=actor, customer_id=customer.pk, data={"name": name, "phones": phones})
                for actor, customer, name, phones in specs]


def test_four_digits_for_everyone_is_ranked_from_the_phone_grams_as_from_the_contacts(
        tenant_a, people, digit_contacts, in_tenant, django_assert_max_num_queries, monkeypatch):
    from crm.customers import selectors

    executive = people["exec"]
    ranked = []
    real = search._ranked_by_phone_gram
    monkeypatch.setattr(search, "_ranked_by_phone_gram", lambda *a: ranked.append(a) or real(*a))
    with in_tenant(tenant_a):
        kqs = selectors.contact_list_visible_to(actor=executive)
        parsed = search.parse_query("4321")
        assert search._phone_gram(parsed) == 4321
        plain = [c.pk for c in search.search_contacts(qs=kqs, parsed=parsed)]  # GIN match, ranked in Python
        with django_assert_max_num_queries(8):
            fast = search.search_contacts(qs=kqs, parsed=parsed, actor=executive)
        assert [c.pk for c in fast] == plain and ranked == [(4321, 20)]
        by_name = {c.name: c.pk for c in digit_contacts}
        assert plain[:2] == [by_name["４３２１"], by_name["4321号"]]  # the exact name, then the prefix
        assert set(plain) == {c.pk for c in digit_contacts if c.name != "赵六"}
        assert fast[0].customer.name  # read through qs, with the customer
        assert [c.pk for c in search.search_contacts(qs=kqs, parsed=parsed, actor=executive, limit=3)] == plain[:3]
        # other queries, and narrower scopes, never take this path
        for q in ("43210", "13843210000", "4321号"):
            assert search._phone_gram(search.parse_query(q)) is None
        sales = people["sales"]
        mine = [c.pk for c in search.search_contacts(qs=selectors.contact_list_visible_to(actor=sales),
                                                    parsed=parsed, actor=sales)]
        assert by_name["张三丰"] not in mine and len(mine) == 5
        assert len(ranked) == 2  # the limit=3 call; never for the salesperson


def test_four_digits_above_the_rare_limit_take_the_common_path_as_before(
        tenant_a, people, digit_contacts, in_tenant, monkeypatch):
    from crm.customers import selectors

    executive = people["exec"]
    monkeypatch.setattr(search, "RARE_LIMIT", 3)
    with in_tenant(tenant_a):
        kqs = selectors.contact_list_visible_to(actor=executive)
        parsed = search.parse_query("4321")
        assert search._ranked_by_phone_gram(4321, 10) == ([], False)
        assert ([c.pk for c in search.search_contacts(qs=kqs, parsed=parsed, actor=executive)]
                == [c.pk for c in search.search_contacts(qs=kqs, parsed=parsed)])


def test_the_phone_grams_follow_the_contact(tenant_a, people, acme, digit_contacts, in_tenant):
    from crm.customers.models import Contact
    from crm.customers.services import contact_update

    contact = next(c for c in digit_contacts if c.name == "王伟")
    with in_tenant(tenant_a):
        rows = _gram_rows([contact.pk])
        assert {r[1] for r in rows} == {214, 2143, 1432, 4321, 3215, 2155, 1555, 5555}  # 02143215555
        assert {r[2:] for r in rows} == {(2, 2, Contact.objects.get(pk=contact.pk).updated_at)}
        contact_update(actor=people["sales"], contact_id=contact.pk, data={"name": "5555", "phones": ["13955556666"]})
        updated = Contact.objects.get(pk=contact.pk)
        rows = _gram_rows([contact.pk])
        assert [r[1:] for r in rows] == [(g, 0 if g == 5555 else 2, 4, updated.updated_at)
                                         for g in sorted({1395, 3955, 9555, 5555, 5556, 5566, 5666, 6666})]
        executive = people["exec"]
        from crm.customers import selectors

        kqs = selectors.contact_list_visible_to(actor=executive)
        assert contact.pk not in [c.pk for c in search.search_contacts(
            qs=kqs, parsed=search.parse_query("4321"), actor=executive)]
        assert [c.pk for c in search.search_contacts(qs=kqs, parsed=search.parse_query("5555"),
                                                     actor=executive)][0] == contact.pk


def test_a_merge_and_its_undo_carry_the_contacts_update_time_into_the_phone_grams(
        tenant_a, people, acme, digit_contacts, in_tenant):
    from crm.customers.dedup import customer_merge, customer_merge_undo
    from crm.customers.models import Contact

    moved = [c.pk for c in digit_contacts if c.customer_id == acme["hwjs"].pk]
    with in_tenant(tenant_a):
        record = customer_merge(actor=people["exec"], survivor_id=acme["hw"].pk, merged_id=acme["hwjs"].pk)
        times = dict(Contact.objects.filter(pk__in=moved).values_list("pk", "updated_at"))
        assert {(r[0], r[4]) for r in _gram_rows(moved)} == set(times.items())
        customer_merge_undo(actor=people["exec"], merge_id=record.pk)
        times = dict(Contact.objects.filter(pk__in=moved).values_list("pk", "updated_at"))
        assert {(r[0], r[4]) for r in _gram_rows(moved)} == set(times.items())


def test_the_migration_fill_writes_what_the_contact_index_writes(tenant_a, people, digit_contacts, in_tenant):
    from django.db import connection

    from crm.customers.models import ContactPhoneGram

    ids = [c.pk for c in digit_contacts]
    with in_tenant(tenant_a):
        written = _gram_rows(ids)
        assert len({r[2] for r in written}) == 3  # ranks 0, 1 and 2 all present
        ContactPhoneGram.objects.filter(contact_id__in=ids).delete()
        after, batches = min(ids) - 1, 0
        with connection.cursor() as cursor:
            while after is not None and after < max(ids):
                after = search.contact_phone_grams_fill(cursor, after=after, batch=3)
                batches += 1
        assert batches >= 3 and _gram_rows(ids) == written


# -- two characters many customers share: CustomerNameGram -----------------------------------------
def _name_gram_rows(customer_ids):
    from crm.customers.models import CustomerNameGram

    return sorted(CustomerNameGram.objects.filter(customer_id__in=customer_ids)
                  .values_list("customer_id", "gram", "updated_at"))


@pytest.fixture
def brand_customers(tenant_a, people, new_customer, in_tenant):
    """Twelve customers with the brand 徐工 in their names: the salesperson's, a colleague's,
    one in the middle of its name, one only in its short name; and others without it."""
    sales, sales2 = people["sales"], people["sales2"]
    made = []
    for i in range(8):
        made.append(new_customer(tenant_a, sales if i % 2 else sales2, f"江苏徐工{i}号机械有限公司"))
    made.append(new_customer(tenant_a, sales, "徐州工程机械"))  # 徐 and 工 apart: no match
    made.append(new_customer(tenant_a, sales, "重庆山城机械有限公司", short_name="徐工重庆"))
    made.append(new_customer(tenant_a, sales2, "杭州徐工科技有限公司"))
    made.append(new_customer(tenant_a, sales, "苏州工业徐工配件厂"))
    return made


def test_name_grams_are_the_customer_bigrams_in_python_and_in_sql(tenant_a, brand_customers, in_tenant):
    from django.db import connection

    from crm.customers.models import Customer, CustomerNameGram

    ids = [c.pk for c in brand_customers]
    with in_tenant(tenant_a):
        written = _name_gram_rows(ids)
        for customer in Customer.objects.filter(pk__in=ids):
            mine = {r[1] for r in written if r[0] == customer.pk}
            assert mine == search.customer_name_grams(customer.name, customer.short_name)
            assert {r[2] for r in written if r[0] == customer.pk} == {customer.updated_at}
        assert search.name_gram("徐工") in {r[1] for r in written}
        assert search.name_gram("ab") != search.name_gram("ba")
        assert -2 ** 31 <= search.name_gram("\U00020000\uffff") < 2 ** 31  # beyond the plane: still an int4
        CustomerNameGram.objects.filter(customer_id__in=ids).delete()
        after, batches = min(ids) - 1, 0
        with connection.cursor() as cursor:
            while after is not None and after < max(ids):
                after = search.customer_name_grams_fill(cursor, after=after, batch=4)
                batches += 1
        assert batches >= 3 and _name_gram_rows(ids) == written


def test_the_name_grams_follow_the_customer(tenant_a, people, brand_customers, in_tenant):
    from crm.customers.models import Customer
    from crm.customers.services import customer_update

    customer = brand_customers[0]
    with in_tenant(tenant_a):
        customer_update(actor=people["exec"], customer_id=customer.pk, data={"name": "南京重工集团"})
        updated = Customer.objects.get(pk=customer.pk)
        rows = _name_gram_rows([customer.pk])
        assert {r[1] for r in rows} == search.customer_name_grams("南京重工集团", updated.short_name)
        assert search.name_gram("徐工") not in {r[1] for r in rows}
        assert {r[2] for r in rows} == {updated.updated_at}


@pytest.mark.parametrize("who", ["sales", "sales2", "manager", "exec"])
def test_a_common_two_character_query_lists_the_newest_matches_from_the_name_grams(
        tenant_a, people, brand_customers, in_tenant, monkeypatch, who):
    """Above RARE_LIMIT matches and with few matches among the newest customers, the newest
    matches come from CustomerNameGram: the same rows, in the same order, as the GIN index
    sorted by update time, within the actor's scope; the GIN fallback is not needed."""
    from django.db.models import Q

    from crm.customers import selectors
    from crm.customers.models import Customer

    actor = people[who]
    monkeypatch.setattr(search, "RARE_LIMIT", 2)
    monkeypatch.setattr(search, "NEWEST_WINDOW", 1)
    walks = []
    real = search._newest_by_name_gram
    monkeypatch.setattr(search, "_newest_by_name_gram", lambda *a, **k: walks.append(a[2]) or real(*a, **k))
    # the statistics of a small test tenant never call 徐工 common: say it is
    monkeypatch.setattr(search, "_name_gram_walk", lambda *a: search.GRAM_WALK_LIMIT)
    with in_tenant(tenant_a):
        qs = selectors.customer_list_visible_to(actor=actor)
        parsed = search.parse_query("徐工")
        expected = list(qs.filter(pk__in=[c.pk for c in brand_customers if c.name != "徐州工程机械"])
                        .order_by("-updated_at", "-id").values_list("pk", flat=True))
        for limit in (3, 20):
            found = [c.pk for c in search.search_customers(qs=qs, parsed=parsed, limit=limit, actor=actor)]
            # the newest walk (a window of one) finds the newest, the name grams the rest
            assert found == expected[:limit]
        assert walks and set(walks) == {search.name_gram("徐工")}
        everything = set(Customer.objects.filter(Q(name__contains="徐工") | Q(short_name__contains="徐工"))
                         .values_list("pk", flat=True))
        assert (brand_customers[9].pk in found) == (brand_customers[9].pk in expected)  # 徐工 only in the short name
        if who in ("sales", "sales2"):
            assert set(found) < everything  # a salesperson never sees a colleague's customer


def test_the_name_gram_walk_stops_at_the_end_of_the_range_and_checks_real_names(
        tenant_a, people, brand_customers, in_tenant):
    from crm.customers import selectors

    executive = people["exec"]
    with in_tenant(tenant_a):
        qs = selectors.customer_list_visible_to(actor=executive)
        parsed = search.parse_query("徐工")
        found, complete = search._newest_by_name_gram(qs, parsed, search.name_gram("徐工"), [], 50, executive)
        assert complete and len(found) == 11  # not 徐州工程机械
        first, complete = search._newest_by_name_gram(qs, parsed, search.name_gram("徐工"), [], 3, executive)
        assert not complete and first == found[:3]
        skipped, _ = search._newest_by_name_gram(qs, parsed, search.name_gram("徐工"), found[:2], 3, executive)
        assert skipped == found[2:5]
        assert search._name_gram_of(search.parse_query("徐工集团")) is None
        assert search._name_gram_of(search.parse_query("x")) is None


def test_the_name_gram_walk_is_taken_only_when_the_scope_holds_many_matches(monkeypatch, people, tenant_a, in_tenant):
    """From the planner's statistics: a brand common in the tenant is walked for the executive
    and for a manager of a large region, bounded by what a uniform spread needs; for a
    salesperson's few customers (or an unknown token) the scoped GIN index is asked instead."""
    rows = 1_000_000.0
    freqs = {"b:徐工": 0.006, "b:北京": 0.06, f"sr:{people['manager'].region_id}": 0.3}
    monkeypatch.setattr(search, "_token_stats", lambda table: (freqs, 0.0005, rows))
    with in_tenant(tenant_a):
        brand, beijing, rare = (search.parse_query(q) for q in ("徐工", "北京", "鑫鼎"))
        assert search._name_gram_walk(brand, people["exec"], 20) == search.GRAM_MIN_MATCHES  # 10*20/1 < 500
        manager = people["manager"]
        assert search._scope_terms(manager) == [f"so:{manager.pk}", f"sr:{manager.region_id}"]
        # 6,000 x 0.3 = 1,800 expected in the region: walk what a uniform spread needs for 20
        assert search._name_gram_walk(brand, manager, 20) == int(10 * 20 / (0.3 + 0.0005))
        assert search._name_gram_walk(brand, people["sales"], 20) == 0  # ~3 expected among their own
        assert search._name_gram_walk(beijing, people["sales"], 20) == 0  # 60 expected: the GIN index
        assert search._name_gram_walk(rare, people["exec"], 20) == 0  # not among the common tokens
