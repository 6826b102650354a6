"""Splitting a big import into chunks that parallel tasks can import, with the same result as
importing the file row by row in one task.

What makes rows depend on each other is that they name the same thing: the planner rejects a
row whose external id or credit code an earlier row of the file already had, flags a row as
a likely duplicate of an earlier one with the same normalised name, phone or e-mail, and a row
may update (and so rename) a customer that a later row then looks like. Rows that share none
of these keys cannot influence each other, whichever task imports them and in whatever order:
each one's outcome depends only on the customers that existed before the import.

So the rows are grouped: two rows sharing a key are in the same group (transitively), and a
group is never split between chunks. The chunks are the file cut into consecutive blocks of
about ``size`` rows, except that every group goes whole to the block of its first row. Each
chunk is imported in file order by one task with its own planner; for the rows of a chunk the
planner then sees exactly the earlier rows it would have seen in a serial run that matter.

The keys are taken from the raw cells, normalised as the planner normalises them. Taking a
key too many (a cell the planner would reject) only puts more rows into one group: it costs
parallelism, never correctness.
"""

from __future__ import annotations

from collections.abc import Sequence

from django.db.models import Q

from .models import Customer
from .normalize import company_name_normalize, credit_code_normalize, phone_digits

# the fields whose values tie rows together, and how the planner normalises each
_KEYS = {
    "external_id": lambda v: v,
    "credit_code": credit_code_normalize,
    "name": company_name_normalize,
    "phone": lambda v: d if len(d := phone_digits(v)) >= 5 else "",
    "email": str.lower,
}


def _key_columns(headers: Sequence[str], mapping: dict[str, str]) -> list[tuple[int, str]]:
    return [(headers.index(h), f) for h, f in mapping.items() if f in _KEYS and h in headers]


def partition(rows: Sequence[Sequence[str]], *, headers: Sequence[str], mapping: dict[str, str],
              size: int) -> list[list[int]]:
    """The row indexes of each chunk (ascending), about ``size`` rows each."""
    columns = _key_columns(headers, mapping)
    parent: dict[int, int] = {}

    def find(i: int) -> int:
        root = i
        while parent.get(root, root) != root:
            root = parent[root]
        while parent.get(i, i) != root:  # path compression
            parent[i], i = root, parent[i]
        return root

    first: dict[tuple[str, str], int] = {}
    for i, values in enumerate(rows):
        for index, fieldname in columns:
            raw = values[index].strip() if index < len(values) else ""
            value = _KEYS[fieldname](raw) if raw else ""
            if not value:
                continue
            j = first.setdefault((fieldname, value), i)
            if j != i:
                a, b = find(i), find(j)
                if a != b:
                    parent[max(a, b)] = min(a, b)  # the root is the group's first row
    # an existing customer named by its external id in one row and by its credit code in another
    for ext, code in _existing_pairs({v for f, v in first if f == "external_id"},
                                     {v for f, v in first if f == "credit_code"}):
        i, j = first.get(("external_id", ext)), first.get(("credit_code", code))
        if i is not None and j is not None and (a := find(i)) != (b := find(j)):
            parent[max(a, b)] = min(a, b)
    chunks: list[list[int]] = [[] for _ in range(max(1, -(-len(rows) // size)))]
    for i in range(len(rows)):
        chunks[(find(i) if i in parent else i) // size].append(i)
    return [c for c in chunks if c]


def _existing_pairs(exts: set[str], codes: set[str], *, step: int = 5000):
    """(external id, credit code) of the existing customers that have both, among these."""
    exts_, codes_ = sorted(exts), sorted(codes)
    for k in range(0, max(len(exts_), len(codes_)), step):
        yield from Customer.objects.filter(
            Q(external_id__in=exts_[k:k + step]) | Q(credit_code__in=codes_[k:k + step]),
            external_id__isnull=False, credit_code__isnull=False).values_list("external_id", "credit_code")


def ranges(indexes: Sequence[int]) -> list[list[int]]:
    """Ascending indexes as [start, stop) ranges: a chunk is usually one range."""
    out: list[list[int]] = []
    for i in indexes:
        if out and out[-1][1] == i:
            out[-1][1] = i + 1
        else:
            out.append([i, i + 1])
    return out


def expand(spans: Sequence[Sequence[int]]) -> list[int]:
    return [i for start, stop in spans for i in range(start, stop)]
