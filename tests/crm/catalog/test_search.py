"""As-you-type product search: SKU prefixes (and parts of a SKU), name fragments down to two
Chinese characters, pinyin spelling and initials, best matches first, no false positives,
and a GIN index that serves it (embedded PostgreSQL has no pg_trgm)."""

import pytest
from django.db import connection

from crm.catalog import services
from crm.catalog.selectors import product_list, product_search_as_you_type

from .factories import product_make

pytestmark = pytest.mark.django_db


@pytest.fixture
def products(inside):
    with inside():
        return {
            "g970": product_make(sku="HZ-G970II", name="合众思壮 G970II 高精度 GNSS 接收机", spec="1408 通道"),
            "g990": product_make(sku="HZ-G990", name="合众思壮 G990 惯导 RTK 接收机"),
            "level": product_make(sku="TP-ATB4A", name="拓普康 AT-B4A 自动安平水准仪"),
            "pole": product_make(sku="ACC-POLE-25", name="碳纤维对中杆 2.5 米"),
            "decoy": product_make(sku="XX-1", name="接头收纳盒"),  # 接 and 收 but not 接收
        }


def skus(actor, q, **kwargs):
    return [p.sku for p in product_search_as_you_type(actor=actor, q=q, **kwargs)]


@pytest.mark.parametrize("q, expected", [
    ("HZ-G97", ["HZ-G970II"]),
    ("hz-g9", ["HZ-G990", "HZ-G970II"]),  # case and punctuation do not matter
    ("g970", ["HZ-G970II"]),  # a part of the SKU after the dash, as a prefix
    ("POLE", ["ACC-POLE-25"]),
    ("接收", ["HZ-G990", "HZ-G970II"]),  # two Chinese characters
    ("水准", ["TP-ATB4A"]),
    ("hzsz", ["HZ-G990", "HZ-G970II"]),  # pinyin initials of 合众思壮
    ("tanxianwei", ["ACC-POLE-25"]),  # full pinyin
    ("1408", ["HZ-G970II"]),  # the spec
    ("思壮G970", ["HZ-G970II"]),  # across the space in the name
    ("收纳", ["XX-1"]),
    ("不存在的东西", []),
])
def test_matches(inside, people, products, q, expected):
    with inside():
        found = skus(people["sales"], q)
    assert sorted(found) == sorted(expected), found


def test_no_false_positive_from_bigrams_in_different_places(inside, people, products):
    with inside():
        # "接收" is two characters that also occur apart in 接头收纳盒 (接 and 收): not a match
        assert "XX-1" not in skus(people["sales"], "接收")


def test_exact_sku_first_then_sku_prefix_then_names(inside, people, products):
    with inside():
        product_make(sku="G990-BAT", name="备用电池")
        assert skus(people["sales"], "HZ-G990")[0] == "HZ-G990"
        ranked = skus(people["sales"], "g990")
        assert ranked[0] == "G990-BAT" and "HZ-G990" in ranked  # its SKU starts with the query


def test_inactive_products_are_left_out_unless_asked(inside, people, products):
    with inside():
        services.product_deactivate(actor=None, product_id=products["level"].pk)
        assert skus(people["sales"], "水准") == []
        assert skus(people["sales"], "水准", include_inactive=True) == ["TP-ATB4A"]


def test_renaming_reindexes(inside, people, products):
    with inside():
        services.product_update(actor=None, product_id=products["pole"].pk, data={"name": "铝合金对中杆"})
        assert skus(people["sales"], "铝合金") == ["ACC-POLE-25"]
        assert skus(people["sales"], "碳纤维") == []


def test_list_filter_uses_the_same_matching(inside, people, products):
    with inside():
        assert {p.sku for p in product_list(actor=people["sales"], q="接收机")} == {"HZ-G970II", "HZ-G990"}


def test_the_gin_index_serves_the_search(inside, products):
    """The candidates of as-you-type (no order: ranked afterwards) come from a bitmap scan of
    the GIN index for both the exact tokens and the n-grams (a BitmapOr), not a table scan."""
    from crm.catalog.models import Product
    from crm.catalog.search import parse_product_query, product_match

    with inside():
        qs = product_match(Product.objects.all(), parse_product_query("接收")).order_by().values_list("pk")
        sql, params = qs.query.sql_with_params()
        with connection.cursor() as cursor:
            cursor.execute("SET LOCAL enable_seqscan = off")  # a five-row table would be scanned otherwise
            cursor.execute("EXPLAIN " + sql, params)
            plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Bitmap Index Scan on product_search" in plan and "Seq Scan" not in plan, plan
