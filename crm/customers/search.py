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

Query strategy (see tests/perf/bench_customers.py for the figures at 1,000,000 customers):

* Rare queries match few rows: up to RARE_LIMIT matches are fetched through the GIN index
  (narrow columns only) and ranked here: exact name / phone / e-mail / credit code first, then
  names that start with the query, then shorter names, then the newest.
* Common queries (科技, 北京, 有限, a single character) match a large part of the tenant:
  collecting and sorting them all costs hundreds of milliseconds. When the planner's token
  statistics (pg_stats.most_common_elems of search_vector, cached per process) say every token
  is in more than RARE_LIMIT rows, or when the capped probe finds more than RARE_LIMIT
  matches, the exact and prefix hits are read through the name_norm btree and the rest as the
  newest matches by walking the (owner,) updated_at index (contacts: those of the newest
  customers, through the customers' index and then (customer, name)) and
  testing each row, with bitmap scans and sorts switched off for that one statement: matches
  are dense, so a few rows are read.
* Contacts by exactly four phone digits, for an actor who sees every contact: the GIN index
  would match ~1,600 contacts at 2M, each on its own heap page. ContactPhoneGram holds each
  contact's runs of four digits with its ranking fields, so the first page of ids and the
  rare/common count come from one range of a btree (index-only scans, a few pages); the ids
  are then read through the caller's queryset as always.
* No statement may fall back to a sequential scan of a large table (enable_seqscan off for
  these statements, set locally and put back).

Either way the query is limited to what the user may see.
"""

from __future__ import annotations

import re
import time
import unicodedata
from collections.abc import Iterable
from contextlib import contextmanager
from dataclasses import dataclass, replace
from functools import lru_cache

from django.db import connection, transaction
from django.db.models import Q
from django.db.models.functions import Length
from pypinyin import lazy_pinyin
from pypinyin.constants import RE_HANS

from crm.org.enums import Scope
from crm.org.scoping import scope_q
from crm.org.selectors import tree_ancestor_ids

from .models import Contact, ContactPhoneGram, Customer, CustomerNameGram
from .normalize import company_name_normalize, credit_code_normalize, phone_digits

_CJK = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]")
_WORDCHARS = re.compile(r"[^\w]+", re.UNICODE)
_ASCII_WORD = re.compile(r"^[a-z]+$")
_CREDIT = re.compile(r"^[0-9A-Z]{6,18}$")


def _fold(text: str) -> str:
    return _WORDCHARS.sub("", unicodedata.normalize("NFKC", text or "").lower()).replace("_", "")


# pypinyin converts each run of Chinese characters on its own (it splits the text at the
# characters it has no pinyin for, then segments each run into words): the pinyin of a text
# is the pinyin of its runs, one after the other. Runs repeat far more than whole names do
# (北京, 科技, 有限公司, ...), so they are cached one by one.
_HANS_RUN = re.compile(RE_HANS.pattern.removeprefix("^").removesuffix("$"))


@lru_cache(maxsize=65536)
def _run_pinyin(run: str) -> tuple[str, ...]:
    return tuple(s for s in lazy_pinyin(run, errors="ignore") if s)


def _pinyin(text: str) -> list[str]:
    """``[s for s in lazy_pinyin(text, errors="ignore") if s]``, from cached runs."""
    return [s for run in _HANS_RUN.findall(text) for s in _run_pinyin(run)]


@lru_cache(maxsize=65536)  # names repeat (people's names, imports): pinyin is the costly part
def _name_tokens(name: str) -> frozenset[str]:
    text = _fold(name)
    tokens = {f"u:{ch}" for ch in text}
    tokens.update(f"b:{text[i:i + 2]}" for i in range(len(text) - 1))
    if _CJK.search(text):
        syllables = _pinyin(text)
        initials = [s[0] for s in syllables]  # one lookup serves both; same as Style.FIRST_LETTER
        for i in range(len(syllables)):
            tokens.add("p:" + "".join(syllables[i:])[:60])
        for i in range(len(initials)):
            tokens.add("p:" + "".join(initials[i:])[:60])
    elif text:
        tokens.add(f"p:{text[:60]}")
    return frozenset(tokens)


_KEY_CHARS = re.compile(r"[^a-z0-9]+")
PINYIN_KEY_LENGTH = 60


def pinyin_key(short_name: str, name_norm: str) -> str:
    """Customer.pinyin_key: the full pinyin of the short name, else of the normalised name
    (a Latin name as it is), lower-case letters and digits only. 启明 -> qiming."""
    text = _fold(short_name or name_norm)
    if _CJK.search(text):
        text = "".join(_pinyin(text))
    return _KEY_CHARS.sub("", text)[:PINYIN_KEY_LENGTH]


def _phone_tokens(phone: str) -> set[str]:
    digits = phone_digits(phone)
    return {f"d:{digits[i:i + 4]}" for i in range(len(digits) - 3)}


def scope_tokens(owner_id, department_id, region_id) -> set[str]:
    """Who may see the row, as tokens: its owner, and its department and region with all
    their ancestors. A search by someone with a narrower scope ANDs the query with
    ``so:<me> | sr:<my region>`` (or ``sd:<my department>``), so the GIN index alone finds the
    few matches inside a large region, instead of intersecting them with a btree bitmap of
    the whole region. The row-level scope filter stays, so a stale token (a region moved a
    moment ago, re-indexed by a task) can hide a row from a search but never show one."""
    tokens = {f"so:{owner_id}"} if owner_id else set()
    tokens.update(f"sd:{pk}" for pk in tree_ancestor_ids(kind="department", node_id=department_id))
    tokens.update(f"sr:{pk}" for pk in tree_ancestor_ids(kind="region", node_id=region_id))
    return tokens


def customer_tokens(customer: Customer) -> list[str]:
    tokens = set(_name_tokens(customer.name)) | _name_tokens(customer.short_name)
    tokens |= scope_tokens(customer.owner_id, customer.department_id, customer.region_id)
    tokens |= _phone_tokens(customer.phone)
    if customer.email:
        tokens.add(f"e:{customer.email.lower()}")
    if customer.credit_code:
        tokens.add(f"c:{customer.credit_code}")
    return sorted(tokens)


def contact_tokens(contact: Contact) -> list[str]:
    tokens = set(_name_tokens(contact.name))
    customer = contact.customer
    tokens |= scope_tokens(customer.owner_id, customer.department_id, customer.region_id)
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


def name_gram(pair: str) -> int:
    """CustomerNameGram.gram of two characters: their code points (the low 16 bits of each,
    exact for every character of the Basic Multilingual Plane) as one 32-bit number, shifted
    into PostgreSQL's signed integer. Rare characters beyond the plane may share a number;
    the search checks every candidate's name anyway."""
    return (((ord(pair[0]) & 0xFFFF) << 16) | (ord(pair[1]) & 0xFFFF)) - 2 ** 31


# name_gram in SQL, over a ``b:XY`` token ``t``
_NAME_GRAM_SQL = ("((((ascii(substr(t, 3, 1)) & 65535)::bigint << 16) "
                  "| (ascii(substr(t, 4, 1)) & 65535)) - 2147483648)::integer")


def customer_name_grams(name: str, short_name: str) -> set[int]:
    """The CustomerNameGram.gram of each ``b:`` token of this name and short name."""
    grams = set()
    for text in (_fold(name), _fold(short_name)):
        grams.update(name_gram(text[i:i + 2]) for i in range(len(text) - 1))
    return grams


def _write_name_grams(ids: list[int], customers: list[Customer]) -> None:
    """Make CustomerNameGram hold exactly the grams of these customers with their current
    update time (one statement: grams gone are deleted, the rest upserted)."""
    rows = [(c.pk, gram, c.updated_at) for c in customers for gram in customer_name_grams(c.name, c.short_name)]
    table = CustomerNameGram._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "WITH v AS (SELECT * FROM unnest(%s::bigint[], %s::integer[], %s::timestamptz[]) "
            "AS v(customer_id, gram, updated_at)), "
            f"gone AS (DELETE FROM {table} AS g WHERE g.customer_id = ANY(%s::bigint[]) "
            "AND NOT EXISTS (SELECT FROM v WHERE v.customer_id = g.customer_id AND v.gram = g.gram)) "
            f"INSERT INTO {table} AS g (customer_id, gram, updated_at) SELECT * FROM v "
            "ON CONFLICT (customer_id, gram) DO UPDATE SET updated_at = EXCLUDED.updated_at "
            "WHERE g.updated_at IS DISTINCT FROM EXCLUDED.updated_at",
            [[r[0] for r in rows], [r[1] for r in rows], [r[2] for r in rows], ids])


def customer_index(ids: Iterable[int]) -> None:
    """Recompute the search tokens and the name grams of these customers (call after any
    change)."""
    ids = list(ids)
    customers = list(Customer.objects.filter(pk__in=ids).only(
        "name", "short_name", "phone", "email", "credit_code", "owner", "department", "region", "updated_at"))
    _write(Customer._meta.db_table, [(c.pk, customer_tokens(c)) for c in customers])
    _write_name_grams(ids, customers)


def customer_name_grams_refresh(cursor, ids: list[int]) -> None:
    """Rewrite the CustomerNameGram rows of these customers from their stored ``b:`` tokens
    and update time (writers that put the tokens in by SQL: the import)."""
    if not ids:
        return
    customer_table, table = Customer._meta.db_table, CustomerNameGram._meta.db_table
    cursor.execute(f"DELETE FROM {table} WHERE customer_id = ANY(%s::bigint[])", [ids])
    cursor.execute(
        f"INSERT INTO {table} (customer_id, gram, updated_at) "
        f"SELECT c.id, {_NAME_GRAM_SQL}, c.updated_at FROM {customer_table} AS c "
        "CROSS JOIN LATERAL unnest(tsvector_to_array(c.search_vector)) AS t "
        "WHERE c.id = ANY(%s::bigint[]) AND t LIKE 'b:__' ON CONFLICT (customer_id, gram) DO NOTHING", [ids])


def customer_name_grams_fill(cursor, *, after: int, batch: int) -> int | None:
    """Write the CustomerNameGram rows of the ``batch`` customers after id ``after`` from their
    stored ``b:`` tokens (a migration, the benchmark generator); returns the last id done,
    None when there are no more customers. One INSERT ... SELECT."""
    customer_table, table = Customer._meta.db_table, CustomerNameGram._meta.db_table
    cursor.execute(f"SELECT max(id) FROM (SELECT id FROM {customer_table} WHERE id > %s ORDER BY id LIMIT %s) AS b",
                   [after, batch])
    last = cursor.fetchone()[0]
    if last is None:
        return None
    cursor.execute(
        f"INSERT INTO {table} (customer_id, gram, updated_at) "
        f"SELECT c.id, {_NAME_GRAM_SQL}, c.updated_at FROM {customer_table} AS c "
        "CROSS JOIN LATERAL unnest(tsvector_to_array(c.search_vector)) AS t "
        "WHERE c.id > %s AND c.id <= %s AND t LIKE 'b:__' ON CONFLICT (customer_id, gram) DO NOTHING",
        [after, last])
    return last


_FOUR_DIGITS = re.compile(r"[0-9]{4}")


def contact_phone_grams(name: str, phones: Iterable[str]) -> list[tuple[int, int]]:
    """(gram, rank) of each run of four ASCII digits of these phone numbers (the contact's
    ``d:`` tokens) for ContactPhoneGram: rank 0 when the folded name is those digits, 1 when it
    starts with them, else 2 (the first two keys of the contacts' ranking)."""
    folded = _fold(name)
    grams = {token[2:] for phone in phones for token in _phone_tokens(phone)}
    return sorted((int(g), 0 if folded == g else 1 if folded.startswith(g) else 2)
                  for g in grams if _FOUR_DIGITS.fullmatch(g))


def _write_phone_grams(ids: list[int], contacts: list[Contact]) -> None:
    """Make ContactPhoneGram hold exactly the grams of these contacts, with their current name
    length and update time (one statement: rows of grams gone are deleted, the rest upserted)."""
    rows = [(c.pk, gram, rank, len(c.name), c.updated_at)
            for c in contacts for gram, rank in contact_phone_grams(c.name, c.phones)]
    table = ContactPhoneGram._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "WITH v AS (SELECT * FROM unnest(%s::bigint[], %s::smallint[], %s::smallint[], %s::smallint[], "
            "%s::timestamptz[]) AS v(contact_id, gram, rank, name_len, updated_at)), "
            f"gone AS (DELETE FROM {table} AS g WHERE g.contact_id = ANY(%s::bigint[]) "
            "AND NOT EXISTS (SELECT FROM v WHERE v.contact_id = g.contact_id AND v.gram = g.gram)) "
            f"INSERT INTO {table} AS g (contact_id, gram, rank, name_len, updated_at) SELECT * FROM v "
            "ON CONFLICT (contact_id, gram) DO UPDATE SET rank = EXCLUDED.rank, name_len = EXCLUDED.name_len, "
            "updated_at = EXCLUDED.updated_at WHERE (g.rank, g.name_len, g.updated_at) IS DISTINCT FROM "
            "(EXCLUDED.rank, EXCLUDED.name_len, EXCLUDED.updated_at)",
            [*([r[i] for r in rows] for i in range(5)), ids])


def contact_index(ids: Iterable[int]) -> None:
    """Recompute the search tokens and the phone grams of these contacts (call after any
    change, including one of the update time alone)."""
    ids = list(ids)
    contacts = list(Contact.objects.filter(pk__in=ids).select_related("customer").only(
        "name", "phones", "emails", "updated_at", "customer__owner", "customer__department", "customer__region"))
    _write(Contact._meta.db_table, [(c.pk, contact_tokens(c)) for c in contacts])
    _write_phone_grams(ids, contacts)


def contact_phone_grams_fill(cursor, *, after: int, batch: int) -> int | None:
    """Write the ContactPhoneGram rows of the ``batch`` contacts after id ``after`` from their
    stored ``d:`` tokens (a migration, the benchmark generator); returns the last id done, None
    when there are no more contacts. Only a name that folds to digits gets a rank other than 2,
    so the names are folded here and the rest is one INSERT ... SELECT."""
    contact_table, table = Contact._meta.db_table, ContactPhoneGram._meta.db_table
    cursor.execute(f"SELECT id, name FROM {contact_table} WHERE id > %s ORDER BY id LIMIT %s", [after, batch])
    rows = cursor.fetchall()
    if not rows:
        return None
    special = [(pk, int(f[:4]), 0 if len(f) == 4 else 1)
               for pk, name in rows if _FOUR_DIGITS.fullmatch((f := _fold(name))[:4])]
    cursor.execute(
        f"INSERT INTO {table} (contact_id, gram, rank, name_len, updated_at) "
        "SELECT k.id, g.gram, coalesce(s.rank, 2), char_length(k.name), k.updated_at "
        f"FROM {contact_table} AS k CROSS JOIN LATERAL (SELECT substr(t, 3)::smallint AS gram "
        "FROM unnest(tsvector_to_array(k.search_vector)) AS t WHERE t ~ '^d:[0-9]{4}$') AS g "
        "LEFT JOIN unnest(%s::bigint[], %s::smallint[], %s::smallint[]) AS s(id, gram, rank) "
        "ON s.id = k.id AND s.gram = g.gram "
        "WHERE k.id > %s AND k.id <= %s ON CONFLICT (contact_id, gram) DO NOTHING",
        [[r[0] for r in special], [r[1] for r in special], [r[2] for r in special], after, rows[-1][0]])
    return rows[-1][0]


_SCOPE_LEXEMES = "^s[odr]:"
# The scope tokens of customer ``c`` in SQL (as scope_tokens): ancestors from the paths.
SCOPE_TOKENS_SQL = (
    "ARRAY(SELECT 'so:' || c.owner_id WHERE c.owner_id IS NOT NULL "
    "UNION ALL SELECT 'sd:' || x::bigint FROM org_department AS d, "
    "regexp_split_to_table(rtrim(d.path, '.'), '[.]') AS x WHERE d.id = c.department_id AND x <> '' "
    "UNION ALL SELECT 'sr:' || x::bigint FROM org_region AS r, "
    "regexp_split_to_table(rtrim(r.path, '.'), '[.]') AS x WHERE r.id = c.region_id AND x <> '')")


def scope_index(customer_ids: Iterable[int]) -> None:
    """Refresh the scope tokens of these customers and their contacts after their owner,
    department or region changed (transfers, handovers, the pool, merges, imports): one
    statement per table, the other tokens kept as they are."""
    ids = list(customer_ids)
    if not ids:
        return
    customer_table, contact_table = Customer._meta.db_table, Contact._meta.db_table
    fresh = SCOPE_TOKENS_SQL
    kept = ("ARRAY(SELECT t FROM unnest(tsvector_to_array(coalesce({alias}.search_vector, ''::tsvector))) AS t "
            f"WHERE t !~ '{_SCOPE_LEXEMES}')")
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {customer_table} AS c SET search_vector = array_to_tsvector({kept.format(alias='c')} || {fresh}) "
            "WHERE c.id = ANY(%s)", [ids])
        cursor.execute(
            f"UPDATE {contact_table} AS k SET search_vector = array_to_tsvector({kept.format(alias='k')} || {fresh}) "
            f"FROM {customer_table} AS c WHERE k.customer_id = c.id AND c.id = ANY(%s)", [ids])


# -- querying ------------------------------------------------------------------------------------
def _lexeme(token: str, prefix: bool = False) -> str:
    quoted = "'" + token.replace("\\", "\\\\").replace("'", "''") + "'"
    return quoted + (":*" if prefix else "")


@dataclass(frozen=True)
class ParsedQuery:
    kind: str  # name, pinyin, phone, email, credit_code
    text: str
    tsquery: str
    raw_digits: str = ""  # phone queries: the digits as typed (an all-digit credit code starts so)
    tokens: tuple[str, ...] = ()  # the exact tokens that must all be present (for the estimate)


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
        tsquery = " & ".join(_lexeme(f"d:{g}") for g in grams)
        if len(digits_only) >= 6:  # or the start of an all-digit credit code
            tsquery = f"({tsquery}) | {_lexeme('c:' + digits_only, prefix=True)}"
        return ParsedQuery("phone", digits, tsquery, digits_only, tuple(f"d:{g}" for g in grams))
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
        return ParsedQuery("name", text, _lexeme(f"u:{text}"), tokens=(f"u:{text}",))
    grams = sorted({text[i:i + 2] for i in range(len(text) - 1)})
    return ParsedQuery("name", text, " & ".join(_lexeme(f"b:{g}") for g in grams),
                       tokens=tuple(f"b:{g}" for g in grams))


def _match(qs, parsed: ParsedQuery, *, indexable: bool = True):
    """``indexable=False`` hides the condition from the GIN index (the same test, row by row),
    so that the planner walks a btree in the wanted order and filters, instead of collecting
    every match of a common token and sorting them."""
    column = f'"{qs.model._meta.db_table}"."search_vector"'
    if not indexable:
        column = f"coalesce({column}, ''::tsvector)"
    return qs.extra(where=[f"{column} @@ %s::tsquery"], params=[parsed.tsquery])


RARE_LIMIT = 2500  # up to this many matches are all fetched (narrow columns) and ranked
NEWEST_WINDOW = 1500  # common queries: at most this many of the newest visible rows are tested
HEAD_WINDOW = 200  # common queries: names starting with the query looked at for the top places
STATS_TTL = 600  # seconds a table's token statistics are kept in this process
_stats_cache: dict[tuple[str, str], tuple[float, dict[str, float], float, float]] = {}


def _token_stats(table: str) -> tuple[dict[str, float], float, float]:
    """The most common tokens of ``table``'s search_vector with their row frequencies, the
    lowest listed frequency and the row count, from the planner's statistics (ANALYZE)."""
    schema = getattr(connection, "schema_name", None) or "public"
    key = (schema, table)
    now = time.monotonic()
    cached = _stats_cache.get(key)
    if cached and cached[0] > now:
        return cached[1], cached[2], cached[3]
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT s.most_common_elems::text::text[], s.most_common_elem_freqs, c.reltuples "
            "FROM pg_stats s JOIN pg_namespace n ON n.nspname = s.schemaname "
            "JOIN pg_class c ON c.relnamespace = n.oid AND c.relname = s.tablename "
            "WHERE s.schemaname = %s AND s.tablename = %s AND s.attname = 'search_vector'", [schema, table])
        row = cursor.fetchone()
    freqs, minfreq, rows = {}, 0.0, 0.0
    if row and row[0] and row[1]:
        elems, elem_freqs, rows = row
        freqs = dict(zip(elems, elem_freqs, strict=False))
        minfreq = min(elem_freqs[: len(elems)])
    _stats_cache[key] = (now + STATS_TTL, freqs, minfreq, max(rows or 0.0, 0.0))
    return freqs, minfreq, max(rows or 0.0, 0.0)


def _surely_common(model, parsed: ParsedQuery, scope_terms: list[str] | None = None) -> bool:
    """True when the statistics say every token of the query is in more than RARE_LIMIT rows
    (then the capped probe through the GIN index would only waste time building a bitmap of
    most of the table). Unknown tokens and prefix queries are never surely common.
    ``scope_terms``: the scope tokens ANDed to the query for an actor with a narrower scope;
    the estimate is then scaled by the share of rows they cover (a scope token the statistics
    do not list is rarer than the least common listed one), so a token common in the table
    but not within a region's share of it is probed, not walked."""
    if not parsed.tokens:
        return False
    freqs, minfreq, rows = _token_stats(model._meta.db_table)
    if not freqs or any(t not in freqs for t in parsed.tokens):
        return False
    estimate = min(freqs[t] for t in parsed.tokens) * rows
    if scope_terms:
        estimate *= min(1.0, sum(freqs.get(t, minfreq) for t in scope_terms))
    return estimate > RARE_LIMIT


IO_CONCURRENCY = "128"
_prefetch: dict[str, bool] = {}


def _prefetch_supported() -> bool:
    """Whether the server accepts effective_io_concurrency > 0 (not on platforms without
    posix_fadvise, e.g. an embedded server on macOS). Asked once per process and database."""
    name = connection.settings_dict.get("NAME", "")
    if name not in _prefetch:
        from django.db import DatabaseError

        try:
            with transaction.atomic(), connection.cursor() as cursor:
                cursor.execute("SELECT current_setting('effective_io_concurrency')")
                before = cursor.fetchone()[0]
                cursor.execute("SELECT set_config('effective_io_concurrency', %s, true)", [IO_CONCURRENCY])
                cursor.execute("SELECT set_config('effective_io_concurrency', %s, true)", [before])
            _prefetch[name] = True
        except DatabaseError:
            _prefetch[name] = False
    return _prefetch[name]


@contextmanager
def _planner(**settings: str):
    """Never a sequential scan of a large table for these queries. With a LIMIT and a common
    token the planner may otherwise bet on finding matches early in a seq scan, which fails
    badly when the visibility filter is narrow. Set for this transaction only and put back
    afterwards (the caller's request may be one transaction)."""
    # No JIT and no parallel workers either: the ordered scans below are cheap in reality but
    # look expensive to the planner (it cannot estimate the row-by-row match), which would
    # otherwise compile the query (JIT, ~100+ ms) and start workers for it.
    settings = {"enable_seqscan": "off", "jit": "off", "max_parallel_workers_per_gather": "0", **settings}
    if _prefetch_supported():
        # The bitmap heap scans of a search read a few hundred to a few thousand scattered rows:
        # with prefetching (posix_fadvise) the pages that are not cached are read in parallel,
        # about four times faster when cold (measured at 1M customers).
        settings["effective_io_concurrency"] = IO_CONCURRENCY
    with transaction.atomic(), connection.cursor() as cursor:
        cursor.execute("SELECT " + ", ".join(["current_setting(%s)"] * len(settings)), list(settings))
        before = dict(zip(settings, cursor.fetchone(), strict=True))
        _set_all(cursor, settings)  # one round trip for all of them
        yield  # on an error the savepoint's rollback undoes the settings
        _set_all(cursor, before)


def _set_all(cursor, settings: dict[str, str]) -> None:
    cursor.execute("SELECT " + ", ".join(["set_config(%s, %s, true)"] * len(settings)),
                   [part for item in settings.items() for part in item])


@contextmanager
def _ordered_scan():
    """The common-query plan: walk a btree in the wanted order and filter row by row (no
    bitmap of most of the table, no sort of all matches)."""
    with _planner(enable_sort="off", enable_bitmapscan="off"):
        yield


def _rank_key(text: str, norm: str, pinyin: bool = False):
    """Exact (name, short name, normalised name, phone, e-mail, credit code; for a pinyin
    query the pinyin of the short name) first, then names (or that pinyin) starting with the
    query, then shorter names, then the newest. Cheap per row: it runs over up to RARE_LIMIT
    rows."""
    upper = text.upper()

    def key(row):
        _pk, name, short_name, digits, email, code, pkey, updated_at = row
        name_l, short_l = name.lower(), short_name.lower()
        exact = (name_l == text or short_l == text or digits == text or email == text or code == upper
                 or (bool(norm) and text in name_l and len(name) <= len(text) + 12
                     and company_name_normalize(name) == norm)
                 or (pinyin and pkey == text))
        starts = name_l.startswith(text) or short_l.startswith(text) or (pinyin and pkey.startswith(text))
        return (not exact, not starts, len(name), -updated_at.timestamp())
    return key


def _ranked_in_sql(matches, parsed: ParsedQuery, norm: str, limit: int) -> tuple[list[int], bool]:
    """The rare-query ranking (as _rank_key) done by PostgreSQL over at most RARE_LIMIT + 1
    matches, returning only the first ``limit`` ids, and whether the matches were at most
    RARE_LIMIT (else the caller takes the common-query path). One statement; no row of the
    thousands that may match crosses into Python."""
    inner = matches.order_by().values_list("pk", "name", "short_name", "phone_digits", "email", "credit_code",
                                           "name_norm", "pinyin_key", "updated_at")[:RARE_LIMIT + 1]
    sql, params = inner.query.sql_with_params()
    text = parsed.text
    pinyin = text if parsed.kind == "pinyin" else ""
    exact = ("(lower(name) = %s OR lower(short_name) = %s OR digits = %s OR email = %s OR code = %s"
             " OR (%s <> '' AND norm = %s AND strpos(lower(name), %s) > 0 AND char_length(name) <= %s)"
             " OR (%s <> '' AND pkey = %s))")
    starts = "(left(lower(name), %s) = %s OR left(lower(short_name), %s) = %s OR (%s <> '' AND left(pkey, %s) = %s))"
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT pk, n FROM (SELECT w.*, count(*) OVER () AS n FROM ({sql}) "
            "AS w(pk, name, short_name, digits, email, code, norm, pkey, updated_at)) AS x "
            f"ORDER BY {exact} IS TRUE DESC, {starts} IS TRUE DESC, char_length(name), updated_at DESC, pk DESC "
            "LIMIT %s",  # IS TRUE: a NULL column (no credit code) makes the test NULL, which sorts first
            [*params, text, text, text, text, text.upper(), norm, norm, text, len(text) + 12, pinyin, pinyin,
             len(text), text, len(text), text, pinyin, len(text), pinyin, limit])
        rows = cursor.fetchall()
    if rows and rows[0][1] > RARE_LIMIT:
        return [], False
    return [pk for pk, _n in rows], True


def _pinyin_head(qs, parsed: ParsedQuery, limit: int) -> list[int]:
    """A pinyin query many customers match (qiming for the many 启明): the first ``limit`` the
    actor may see among those whose short name reads exactly so, in the ranking's order
    (shorter names, then the newest), through the pinyin_key btree. Looks at the first
    HEAD_WINDOW of the tenant only, so a narrow scope costs no more; fewer than ``limit``
    found means the caller ranks all the matches instead (these come first there too)."""
    window = (Customer.objects.filter(pinyin_key=parsed.text)
              .order_by(Length("name"), "-updated_at", "-id").values("pk")[:HEAD_WINDOW])
    return list(qs.filter(pk__in=window).order_by(Length("name"), "-updated_at", "-id")
                .values_list("pk", flat=True)[:limit])


def _in_order(qs, ids: list[int]) -> list:
    by_id = qs.in_bulk(ids)
    return [by_id[i] for i in ids if i in by_id]


def _verified(qs, parsed: ParsedQuery, *, customer: bool, indexable: bool = True):
    matches = _match(qs, parsed, indexable=indexable)
    if parsed.kind == "name":
        cond = Q(name__icontains=parsed.text)
        if customer:
            cond |= Q(short_name__icontains=parsed.text)
        matches = matches.filter(cond)
    elif parsed.kind == "phone" and customer:
        cond = Q(phone_digits__contains=parsed.text)
        if len(parsed.raw_digits) >= 6:
            cond |= Q(credit_code__startswith=parsed.raw_digits)
        matches = matches.filter(cond)
    return matches


def _newest_matching(window_qs, columns: list[str], parsed: ParsedQuery, limit: int, *, customer: bool) -> list[int]:
    """Ids of up to ``limit`` matches among the NEWEST_WINDOW newest rows of ``window_qs``
    (already ordered newest first), in that order. The window bounds the work when matches
    are sparse among the newest rows (a common token outside the actor's scope): the scan
    stops after ``limit`` matches or NEWEST_WINDOW rows, whichever comes first."""
    inner = window_qs.values_list(*columns)[:NEWEST_WINDOW]
    sql, params = inner.query.sql_with_params()
    names = ", ".join("sv" if c == "search_vector" else c for c in columns)
    cond = ["sv @@ %s::tsquery"]
    cond_params: list = [parsed.tsquery]
    if parsed.kind == "name":
        cond.append("(strpos(upper(name), upper(%s)) > 0" + (" OR strpos(upper(short_name), upper(%s)) > 0)"
                                                           if customer else ")"))
        cond_params += [parsed.text] * (2 if customer else 1)
    elif parsed.kind == "phone" and customer:
        cond.append("(strpos(phone_digits, %s) > 0 OR left(coalesce(credit_code, ''), %s) = %s)")
        cond_params += [parsed.text, len(parsed.raw_digits), parsed.raw_digits if len(parsed.raw_digits) >= 6 else "-"]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT pk FROM ({sql}) AS w({names}) WHERE {' AND '.join(cond)} LIMIT %s",
                       [*params, *cond_params, limit])
        return [row[0] for row in cursor.fetchall()]


def _scope_terms(actor) -> list[str] | None:
    """The scope tokens of ``_scope_tsquery`` (None: the actor sees everything)."""
    if actor is None or not actor.is_active:
        return None
    scope = actor.effective_scope()
    if scope == Scope.ALL:
        return None
    terms = [f"so:{actor.pk}"]
    if scope == Scope.DEPARTMENT and actor.department_id:
        terms.append(f"sd:{actor.department_id}")
    elif scope == Scope.REGION and actor.region_id:
        terms.append(f"sr:{actor.region_id}")
    return terms


def _scope_tsquery(actor) -> str | None:
    """The OR of the scope tokens the actor's scope covers (None: sees everything). The same
    rule as crm.org.scoping.scope_q: own, or the actor's department or region subtree (every
    row carries the tokens of all its ancestors)."""
    if actor is None:
        return None
    scope = actor.effective_scope()
    if scope == Scope.ALL:
        return None
    terms = [f"so:{actor.pk}"]
    if scope == Scope.DEPARTMENT and actor.department_id:
        terms.append(f"sd:{actor.department_id}")  # the department and everything below it
    elif scope == Scope.REGION and actor.region_id:
        terms.append(f"sr:{actor.region_id}")
    return "(" + " | ".join(_lexeme(t) for t in terms) + ")"


def _scoped_matches(qs, parsed: ParsedQuery, *, actor, customer: bool):
    """The matches of ``parsed`` in ``qs``. With an ``actor`` whose scope is narrower than
    everything, the GIN index itself applies the scope (scope tokens ANDed to the query) on
    an unscoped base, and the scope is checked again row by row (scope_q, not indexable), so
    the planner has no reason to intersect the matches with a bitmap of the whole scope."""
    scope = _scope_tsquery(actor) if actor is not None and actor.is_active else None
    if scope is None:
        return _verified(qs, parsed, customer=customer)
    model = qs.model
    base = model.objects.filter(scope_q(model, actor, indexable=False))
    base = base.live() if customer else base  # contacts never belong to a merged customer
    narrowed = replace(parsed, tsquery=f"({parsed.tsquery}) & {scope}")
    return _verified(base, narrowed, customer=customer)


def search_customers(*, qs, parsed: ParsedQuery, limit: int = 20, actor=None) -> list[Customer]:
    """``qs`` is already limited to what the user may see. When ``qs`` is exactly what
    ``actor`` may see (customer_list_visible_to, no further filter), pass the ``actor`` too:
    the search index then applies the scope itself (much faster for a manager of a large
    region); the final rows are still read through ``qs``.

    Rare queries: every match (at most RARE_LIMIT + 1, narrow columns) through the GIN index,
    ranked here: exact name (or phone, e-mail, credit code) first, then names that start with
    the query, then shorter names, then the newest. Common queries (more matches than that):
    exact and prefix name hits through the name_norm btree, then the newest matches through
    the updated_at index (matches are dense, so a few rows are read). Pinyin queries first
    try the short names that read exactly so (the pinyin_key btree, already in the ranking's
    order): a brand many customers share (qiming: thousands of 启明) is answered from a few
    index entries instead of ranking every match."""
    matches = _scoped_matches(qs, parsed, actor=actor, customer=True)
    norm = company_name_normalize(parsed.text) if parsed.kind in ("name", "pinyin") else ""
    common = _surely_common(Customer, parsed)
    with _planner():
        if parsed.kind == "pinyin" and len(parsed.text) > 1:
            ids = _pinyin_head(qs, parsed, limit)
            if len(ids) == limit:
                return _in_order(qs, ids)
        if not common:
            ids, rare = _ranked_in_sql(matches, parsed, norm, limit)
            if rare:
                return _in_order(qs, ids)
        # Common query: exact and prefix hits first (a btree range on the normalised name), then
        # the newest matches through an (owner,) updated_at index, filtered row by row.
        head = []
        if norm:
            # The first HEAD_WINDOW names of the tenant that start with the query (a btree range:
            # LIKE 'x%' uses the btree only under the C collation), then what the actor may see
            # of them: bounded even when such names are many and mostly outside the scope.
            starting = (Customer.objects.filter(name_norm__gte=norm, name_norm__lt=norm + "\U0010ffff")
                        .order_by("name_norm").values("pk")[:HEAD_WINDOW])
            head_qs = qs.filter(pk__in=starting, name_norm__startswith=norm)
            if parsed.kind == "name":
                head_qs = head_qs.filter(Q(name__icontains=parsed.text) | Q(short_name__icontains=parsed.text))
            head = list(head_qs.order_by("name_norm").values_list(
                "pk", "name", "short_name", "phone_digits", "email", "credit_code", "pinyin_key",
                "updated_at")[:limit])
        head.sort(key=_rank_key(parsed.text, norm, parsed.kind == "pinyin"))
        ids = [r[0] for r in head]
        if len(ids) < limit:
            with _ordered_scan():
                ids += _newest_matching(
                    qs.exclude(pk__in=ids).order_by("-updated_at", "-id"),
                    ["pk", "search_vector", "name", "short_name", "phone_digits", "credit_code"], parsed,
                    limit - len(ids), customer=True)
        gram = _name_gram_of(parsed)
        walk = _name_gram_walk(parsed, actor, limit) if gram is not None and len(ids) < limit else 0
        if walk:
            # two characters many customers in the scope share (a brand): their newest from
            # CustomerNameGram
            more, complete = _newest_by_name_gram(qs, parsed, gram, ids, limit - len(ids), actor, max_walk=walk)
            ids += more
            if complete:
                return _in_order(qs, ids)
        if len(ids) < limit:
            # sparse among the newest: all matches through the GIN index, newest first
            rest = matches.exclude(pk__in=ids).order_by("-updated_at", "-id").values_list("pk", flat=True)
            ids += list(rest[:limit - len(ids)])
    return _in_order(qs, ids)


GRAM_WALK_LIMIT = 20000  # CustomerNameGram entries read at most before the GIN index is asked
GRAM_MIN_MATCHES = 500  # fewer expected matches in the scope: the GIN index reads them faster


def _scope_share(actor) -> float:
    """The share of the tenant's customers the actor's scope covers, from the planner's
    statistics of the scope tokens (1.0: sees everything)."""
    terms = _scope_terms(actor)
    if not terms:
        return 1.0
    freqs, minfreq, _rows = _token_stats(Customer._meta.db_table)
    return min(1.0, max(0.001, sum(freqs.get(t, minfreq) for t in terms)))


def _name_gram_walk(parsed: ParsedQuery, actor, limit: int) -> int:
    """How many CustomerNameGram entries a two-character query may walk (0: do not walk).
    Walking pays when the query matches many customers in the actor's scope: reading the newest
    of them from the index beats reading and sorting every match (GIN). With few expected in
    the scope (a salesperson's own customers), or where the scope holds fewer than expected
    (北京 for a manager of 华东: names follow the region), the GIN index with the scope tokens
    is the cheaper path, so the walk is skipped, or bounded by what a uniform spread would need
    and then handed to the GIN index."""
    freqs, _minfreq, rows = _token_stats(Customer._meta.db_table)
    share = _scope_share(actor)
    token = parsed.tokens[0] if parsed.tokens else ""
    if token not in freqs or freqs[token] * rows * share < GRAM_MIN_MATCHES:
        return 0
    return int(min(GRAM_WALK_LIMIT, max(GRAM_MIN_MATCHES, 10 * limit / (share * 1.0))))


def _name_gram_of(parsed: ParsedQuery) -> int | None:
    """The CustomerNameGram.gram of a name query of exactly two characters (None otherwise)."""
    if parsed.kind == "name" and len(parsed.text) == 2 and parsed.tokens == (f"b:{parsed.text}",):
        return name_gram(parsed.text)
    return None


def _newest_by_name_gram(qs, parsed: ParsedQuery, gram: int, seen: list[int], limit: int,
                         actor, *, max_walk: int = GRAM_WALK_LIMIT) -> tuple[list[int], bool]:
    """Up to ``limit`` of the newest customers in ``qs`` whose name or short name holds the two
    characters of ``parsed`` (not in ``seen``), walking one range of CustomerNameGram's
    ``customer_name_gram_newest`` index in steps; each step's ids are checked through ``qs``
    (scope, merged customers, the real name). The first step is sized by the share of the
    tenant the actor's scope covers (planner statistics), so a manager of a region needs one
    or two steps too. Returns the ids and whether the walk reached the end of the range (then
    there are no other matches)."""
    share = _scope_share(actor)
    step = int(min(max(2 * limit / share, 2 * limit), 2000, max_walk))
    table = CustomerNameGram._meta.db_table
    cond = Q(name__icontains=parsed.text) | Q(short_name__icontains=parsed.text)
    skip, found, walked = set(seen), [], 0
    while walked < max_walk:
        with connection.cursor() as cursor:
            cursor.execute(f"SELECT customer_id FROM {table} WHERE gram = %s "
                           "ORDER BY updated_at DESC, customer_id DESC LIMIT %s OFFSET %s", [gram, step, walked])
            entries = [row[0] for row in cursor.fetchall()]
        walked += step
        batch = [pk for pk in entries if pk not in skip]
        if batch:
            visible = set(qs.filter(cond, pk__in=batch).values_list("pk", flat=True))
            found += [pk for pk in batch if pk in visible][:limit - len(found)]
        if len(found) >= limit:
            return found, False
        if len(entries) < step:
            return found, True  # the end of the range: there are no other matches
        step = min(step * 2, 4000, max_walk - walked) or 1
    return found, False


def _phone_gram(parsed: ParsedQuery) -> int | None:
    """The ContactPhoneGram.gram of a query of exactly four digits (None for any other)."""
    if (parsed.kind == "phone" and len(parsed.raw_digits) < 6 and parsed.tokens == (f"d:{parsed.text}",)
            and _FOUR_DIGITS.fullmatch(parsed.text)):
        return int(parsed.text)
    return None


def _sees_everything(actor) -> bool:
    return (actor is not None and getattr(actor, "is_authenticated", False) and actor.is_active
            and actor.effective_scope() == Scope.ALL)


def _ranked_by_phone_gram(gram: int, limit: int) -> tuple[list[int], bool]:
    """The contacts' rare-query ranking (as in search_contacts) of every contact with the run
    of four digits ``gram``, from ContactPhoneGram alone: the first ``limit`` ids of one range of
    its ranking index, and whether the range holds at most RARE_LIMIT contacts (counted
    through the same index). For an actor who sees every contact: no scope to apply."""
    table = ContactPhoneGram._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT g.contact_id, (SELECT count(*) FROM (SELECT FROM {table} WHERE gram = %s LIMIT %s) AS m) "
            f"FROM {table} AS g WHERE g.gram = %s "
            "ORDER BY g.rank, g.name_len, g.updated_at DESC, g.contact_id LIMIT %s",
            [gram, RARE_LIMIT + 1, gram, limit])
        rows = cursor.fetchall()
    if rows and rows[0][1] > RARE_LIMIT:
        return [], False
    return [pk for pk, _n in rows], True


def search_contacts(*, qs, parsed: ParsedQuery, limit: int = 20, actor=None) -> list[Contact]:
    """As search_customers; common queries list the contacts of the newest customers first.
    A query of exactly four digits by an actor who sees every contact is ranked from
    ContactPhoneGram (the same rows and order as the GIN match below, from a few index
    pages); the ids found are read through ``qs`` as always."""
    matches = _scoped_matches(qs, parsed, actor=actor, customer=False)
    common = _surely_common(Contact, parsed, _scope_terms(actor))
    gram = None if common else _phone_gram(parsed)
    if gram is not None and not _sees_everything(actor):
        gram = None  # a narrower scope: the GIN index applies it (scope tokens) below
    with _planner():
        if gram is not None:
            ids, rare = _ranked_by_phone_gram(gram, limit)
            if rare:
                return _in_order(qs, ids)
            common = True  # more than RARE_LIMIT matches: no need to probe them again
        rows = [] if common else list(matches.order_by().values_list("pk", "name", "updated_at")[:RARE_LIMIT + 1])
        if not common and len(rows) <= RARE_LIMIT:
            rows.sort(key=lambda r: (_fold(r[1]) != parsed.text, not _fold(r[1]).startswith(parsed.text),
                                     len(r[1]), -r[2].timestamp()))
            return _in_order(qs, [r[0] for r in rows[:limit]])
        # Contacts of the most recently updated customers first: the visible customers are
        # walked through their (owner,) updated_at index and each one's contacts looked up
        # through (customer, name), so a narrow scope (a salesperson's own customers) costs
        # no more than a wide one.
        with _ordered_scan():
            ids = _newest_matching(qs.order_by("-customer__updated_at", "-customer_id"),
                                   ["pk", "search_vector", "name"], parsed, limit, customer=False)
        if len(ids) < limit:
            rest = matches.exclude(pk__in=ids).order_by("-id").values_list("pk", flat=True)
            ids += list(rest[:limit - len(ids)])
    return _in_order(qs, ids)


# -- the token scheme, for other apps' search (the catalog's products) -----------------------------
fold_text = _fold
name_tokens = _name_tokens
tsquery_lexeme = _lexeme


def scope_reindex_nodes(*, kind: str, node_ids: Iterable[int], batch_size: int = 5000) -> int:
    """Refresh the scope tokens of every customer (and its contacts) placed in these
    departments or regions (``kind``), after their tree moved. Returns how many customers."""
    column = "department_id" if kind == "department" else "region_id"
    qs = Customer.objects.filter(**{f"{column}__in": list(node_ids)}).order_by("pk").values_list("pk", flat=True)
    done, after = 0, 0
    while True:
        batch = list(qs.filter(pk__gt=after)[:batch_size])
        if not batch:
            return done
        with transaction.atomic():
            scope_index(batch)
        done += len(batch)
        after = batch[-1]
