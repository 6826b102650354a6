"""One-click search over customers and contacts, with no database extension.

Each row carries a ``tsvector`` of *tokens we compute ourselves* (``array_to_tsvector``, so
PostgreSQL does no parsing or stemming) and a GIN index over it:

  u:X     every single character of the name            (one-character queries)
  b:XY    every pair of neighbouring characters         (two or more characters)
  p:...   pinyin: the full spelling from each syllable on, and the initials from each
          character on (prefix queries: ``hzsz`` and ``sizhuang`` find 合众思壮)
  d:NNNN  every run of four digits of each phone number (any 4+ consecutive digits)
  e:...   e-mail addresses (prefix queries)
  c:...   the credit code (prefix queries)

A query becomes a ``tsquery`` of the same tokens (all bigrams of the text must be present),
then candidates are checked against the real text, so a bigram hit never returns a wrong row.

Rare queries match few rows: all of them are fetched through the GIN index and ranked.
Common queries (科技, 北京, a single character) match most of a large tenant: fetching and
sorting them all costs hundreds of milliseconds, so once a capped count says there are many,
the newest matches are read through the (updated_at) index instead, which finds enough of
them at once. Either way the query is limited to what the user may see.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from dataclasses import dataclass

from django.db import connection
from django.db.models import Q
from pypinyin import Style, lazy_pinyin

from .models import Contact, Customer
from .normalize import credit_code_normalize, phone_digits

COMMON_THRESHOLD = 2000  # above this many matches, read newest-first through the btree
_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_WORDCHARS = re.compile(r"[^\w]+", re.UNICODE)
_ASCII_WORD = re.compile(r"^[a-z]+$")
_CREDIT = re.compile(r"^[0-9A-Z]{6,18}$")


def _fold(text: str) -> str:
    return _WORDCHARS.sub("", unicodedata.normalize("NFKC", text or "").lower()).replace("_", "")


def _name_tokens(name: str) -> set[str]:
    text = _fold(name)
    tokens = {f"u:{ch}" for ch in text}
    tokens.update(f"b:{text[i:i + 2]}" for i in range(len(text) - 1))
    if _CJK.search(text):
        syllables = [s for s in lazy_pinyin(text, errors="ignore") if s]
        initials = [s[0] for s in lazy_pinyin(text, style=Style.FIRST_LETTER, errors="ignore") if s]
        for i in range(len(syllables)):
            tokens.add("p:" + "".join(syllables[i:])[:60])
        for i in range(len(initials)):
            tokens.add("p:" + "".join(initials[i:])[:60])
    elif text:
        tokens.add(f"p:{text[:60]}")
    return tokens


def _phone_tokens(phone: str) -> set[str]:
    digits = phone_digits(phone)
    return {f"d:{digits[i:i + 4]}" for i in range(len(digits) - 3)}


def customer_tokens(customer: Customer) -> list[str]:
    tokens = _name_tokens(customer.name) | _name_tokens(customer.short_name)
    tokens |= _phone_tokens(customer.phone)
    if customer.email:
        tokens.add(f"e:{customer.email.lower()}")
    if customer.credit_code:
        tokens.add(f"c:{customer.credit_code}")
    return sorted(tokens)


def contact_tokens(contact: Contact) -> list[str]:
    tokens = _name_tokens(contact.name)
    for phone in contact.phones:
        tokens |= _phone_tokens(phone)
    tokens.update(f"e:{e.lower()}" for e in contact.emails)
    return sorted(tokens)


def _write(table: str, rows: list[tuple[int, list[str]]]) -> None:
    if not rows:
        return
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {table} AS t SET search_vector = array_to_tsvector(string_to_array(v.tokens, E'\\x1f')) "
            "FROM unnest(%s::bigint[], %s::text[]) AS v(id, tokens) WHERE t.id = v.id",
            [[pk for pk, _t in rows], ["\x1f".join(t) for _pk, t in rows]])


def customer_index(ids: Iterable[int]) -> None:
    """Recompute the search tokens of these customers (call after any change)."""
    customers = Customer.objects.filter(pk__in=list(ids)).only("name", "short_name", "phone", "email", "credit_code")
    _write(Customer._meta.db_table, [(c.pk, customer_tokens(c)) for c in customers])


def contact_index(ids: Iterable[int]) -> None:
    contacts = Contact.objects.filter(pk__in=list(ids)).only("name", "phones", "emails")
    _write(Contact._meta.db_table, [(c.pk, contact_tokens(c)) for c in contacts])


# -- querying ------------------------------------------------------------------------------------
def _lexeme(token: str, prefix: bool = False) -> str:
    quoted = "'" + token.replace("\\", "\\\\").replace("'", "''") + "'"
    return quoted + (":*" if prefix else "")


@dataclass(frozen=True)
class ParsedQuery:
    kind: str  # name, pinyin, phone, email, credit_code
    text: str
    tsquery: str


def parse_query(q: str) -> ParsedQuery | None:
    raw = unicodedata.normalize("NFKC", q or "").strip()
    if not raw:
        return None
    if "@" in raw:
        email = raw.lower().replace(" ", "")
        return ParsedQuery("email", email, _lexeme(f"e:{email}", prefix=True))
    digits_only = re.sub(r"[\s\-()+]", "", raw)
    if digits_only.isdigit() and len(digits_only) >= 4:
        digits = phone_digits(digits_only)
        grams = sorted({digits[i:i + 4] for i in range(len(digits) - 3)})
        return ParsedQuery("phone", digits, " & ".join(_lexeme(f"d:{g}") for g in grams))
    code = credit_code_normalize(raw)
    if _CREDIT.match(code) and any(c.isdigit() for c in code) and any(c.isalpha() for c in code):
        return ParsedQuery("credit_code", code, _lexeme(f"c:{code}", prefix=True))
    text = _fold(raw)
    if not text:
        return None
    if _ASCII_WORD.match(text):
        # Latin letters: pinyin (spelling or initials) or a Latin name.
        name_part = (" & ".join(_lexeme(f"b:{text[i:i + 2]}") for i in range(len(text) - 1))
                     if len(text) > 1 else _lexeme(f"u:{text}"))
        return ParsedQuery("pinyin", text, f"{_lexeme('p:' + text, prefix=True)} | ({name_part})")
    if len(text) == 1:
        return ParsedQuery("name", text, _lexeme(f"u:{text}"))
    grams = sorted({text[i:i + 2] for i in range(len(text) - 1)})
    return ParsedQuery("name", text, " & ".join(_lexeme(f"b:{g}") for g in grams))


def _match(qs, parsed: ParsedQuery):
    return qs.extra(where=["search_vector @@ %s::tsquery"], params=[parsed.tsquery])


def _rank_customers(rows: list[Customer], parsed: ParsedQuery) -> list[Customer]:
    text = parsed.text

    def key(c: Customer):
        folded = _fold(c.name)
        exact = folded == text or c.phone_digits == text or (c.email or "") == text or c.credit_code == text
        starts = folded.startswith(text)
        return (not exact, not starts, len(c.name), -c.updated_at.timestamp())

    return sorted(rows, key=key)


def search_customers(*, qs, parsed: ParsedQuery, limit: int = 20) -> list[Customer]:
    """``qs`` is already limited to what the user may see."""
    matches = _match(qs, parsed)
    if parsed.kind == "name":
        matches = matches.filter(Q(name__icontains=parsed.text) | Q(short_name__icontains=parsed.text))
    elif parsed.kind == "phone":
        matches = matches.filter(phone_digits__contains=parsed.text)
    capped = matches.values("pk")[:COMMON_THRESHOLD + 1]
    with connection.cursor() as cursor:
        sql, params = capped.query.sql_with_params()
        cursor.execute(f"SELECT count(*) FROM ({sql}) AS capped", params)
        count = cursor.fetchone()[0]
    if count <= COMMON_THRESHOLD:
        return _rank_customers(list(matches), parsed)[:limit]
    # Common query: exact and prefix hits first (a btree range on the normalised name), then
    # the newest matches through the updated_at index.
    from .normalize import company_name_normalize

    norm = company_name_normalize(parsed.text) if parsed.kind in ("name", "pinyin") else ""
    head = list(matches.filter(name_norm__startswith=norm).order_by("name_norm")[:limit]) if norm else []
    rest = list(matches.exclude(pk__in=[c.pk for c in head]).order_by("-updated_at", "-id")[:limit])
    return (_rank_customers(head, parsed) + rest)[:limit]


def search_contacts(*, qs, parsed: ParsedQuery, limit: int = 20) -> list[Contact]:
    matches = _match(qs, parsed)
    if parsed.kind == "name":
        matches = matches.filter(name__icontains=parsed.text)
    capped = matches.values("pk")[:COMMON_THRESHOLD + 1]
    with connection.cursor() as cursor:
        sql, params = capped.query.sql_with_params()
        cursor.execute(f"SELECT count(*) FROM ({sql}) AS capped", params)
        count = cursor.fetchone()[0]
    if count <= COMMON_THRESHOLD:
        rows = list(matches.select_related("customer"))
        rows.sort(key=lambda c: (_fold(c.name) != parsed.text, len(c.name), -c.updated_at.timestamp()))
        return rows[:limit]
    return list(matches.select_related("customer").order_by("-updated_at", "-id")[:limit])
