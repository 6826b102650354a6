"""As-you-type product search with no database extension.

Each product carries a ``tsvector`` of tokens computed here (``array_to_tsvector``: no
parsing or stemming by PostgreSQL) with a GIN index over it. Name and spec tokens come from
crm.customers.search (the same scheme as customer names):

  u:X   every character            b:XY   every pair of neighbouring characters
  p:... pinyin, full spelling and initials, from each syllable on (``hzsz`` finds 合众思壮)

and the SKU adds

  s:... the folded SKU (lower case, no punctuation) and each part of it after a ``-``,
        ``/``, ``.``, ``_`` or space, queried as prefixes (``g97`` finds ``HT-G970II``)

A query matches when the SKU or pinyin prefix token is present (exact: no false positive),
or when every bigram of the query is present and the folded name/spec (``search_text``)
really contains the query (bigrams alone may come from different places in the name).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass

from django.db import connection
from django.db.models import BooleanField, Q, QuerySet
from django.db.models.expressions import RawSQL

# The token scheme of the customer search (reused, not copied: one scheme for the product).
from crm.customers.search import fold_text as _fold
from crm.customers.search import name_tokens as _name_tokens
from crm.customers.search import tsquery_lexeme as _lexeme

from .models import Product

_ASCII_WORD = re.compile(r"^[a-z]+$")
_SKU_PARTS = re.compile(r"[\s\-/._]+")


def sku_normalize(sku: str) -> str:
    return unicodedata.normalize("NFKC", sku or "").strip().upper()


def product_search_text(product: Product) -> str:
    return (_fold(product.name) + " " + _fold(product.spec)).strip()[:500]


def product_tokens(product: Product) -> list[str]:
    tokens = set(_name_tokens(product.name)) | set(_name_tokens(product.spec))
    sku = unicodedata.normalize("NFKC", product.sku or "")
    tokens.add(f"s:{_fold(sku)[:60]}")
    for part in _SKU_PARTS.split(sku):
        folded = _fold(part)
        if folded:
            tokens.add(f"s:{folded[:60]}")
    tokens.discard("s:")
    return sorted(tokens)


def product_index(product_ids: list[int]) -> None:
    """Recompute the search columns of these products (the services call it after a change)."""
    rows = list(Product.objects.filter(pk__in=product_ids).only("sku", "name", "spec"))
    if not rows:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {Product._meta.db_table} AS t SET search_text = v.text, "
            "search_vector = array_to_tsvector(string_to_array(v.tokens, E'\\x1f')) "
            "FROM unnest(%s::bigint[], %s::text[], %s::text[]) AS v(id, text, tokens) WHERE t.id = v.id",
            [[p.pk for p in rows], [product_search_text(p) for p in rows],
             ["\x1f".join(product_tokens(p)) for p in rows]])


@dataclass(frozen=True)
class ProductQuery:
    text: str  # folded
    exact: str  # tsquery of tokens that need no check (SKU and pinyin prefixes)
    grams: str  # tsquery of the name/spec n-grams (checked against search_text)


def parse_product_query(q: str) -> ProductQuery | None:
    text = _fold(unicodedata.normalize("NFKC", q or "").strip())[:60]
    if not text:
        return None
    exact = [_lexeme(f"s:{text}", prefix=True)]
    if _ASCII_WORD.match(text):
        exact.append(_lexeme(f"p:{text}", prefix=True))
    if len(text) == 1:
        grams = _lexeme(f"u:{text}")
    else:
        grams = " & ".join(_lexeme(f"b:{g}") for g in sorted({text[i:i + 2] for i in range(len(text) - 1)}))
    return ProductQuery(text=text, exact=" | ".join(exact), grams=grams)


def product_match(qs: QuerySet[Product], parsed: ProductQuery) -> QuerySet[Product]:
    """``qs`` limited to the products that match: both conditions are served by the GIN index
    (a BitmapOr); the containment check runs on the n-gram candidates only."""
    table = Product._meta.db_table
    condition = RawSQL(
        f'("{table}"."search_vector" @@ %s::tsquery OR ("{table}"."search_vector" @@ %s::tsquery '
        f'AND strpos("{table}"."search_text", %s) > 0))',
        [parsed.exact, parsed.grams, parsed.text], output_field=BooleanField())
    return qs.filter(condition)


CANDIDATES = 500  # as-you-type: at most this many matches are ranked


def _rank(text: str):
    def key(row):
        _pk, sku, name, search_text = row
        sku_folded = _fold(sku)
        return (sku_folded != text, not sku_folded.startswith(text), not search_text.startswith(text),
                len(name), sku)
    return key


def product_search(qs: QuerySet[Product], q: str, *, limit: int = 10) -> list[Product]:
    """The best ``limit`` matches: the exact SKU first (through its unique index, even when
    the query is common), then SKUs starting with the query, then names starting with it,
    then shorter names. At most CANDIDATES matches are ranked."""
    parsed = parse_product_query(q)
    if parsed is None:
        return []
    exact_ids = list(qs.filter(Q(sku=sku_normalize(q))).values_list("pk", flat=True)[:1])
    rows = list(product_match(qs, parsed).order_by().values_list("pk", "sku", "name", "search_text")[:CANDIDATES])
    rows.sort(key=_rank(parsed.text))
    ids = exact_ids + [r[0] for r in rows if r[0] not in exact_ids][: max(limit - len(exact_ids), 0)]
    by_id = qs.select_related("category").in_bulk(ids)
    return [by_id[i] for i in ids if i in by_id]
