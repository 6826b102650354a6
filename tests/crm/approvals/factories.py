"""Building blocks of the approval tests: a document type backed by an in-memory store
(recording the callbacks the engine makes), and policy step dicts."""

from __future__ import annotations

import itertools
from decimal import Decimal

from crm.approvals.registry import DocumentType, Facts

DOC = "testdoc"
_serial = itertools.count(1)


class DocStore:
    """Documents of the test type and what the engine told their app."""

    def __init__(self, key: str = DOC):
        self.key = key
        self.docs: dict[int, dict] = {}
        self.calls: list[tuple] = []
        self.fail_on_approved = False

    def new(self, amount="1000.00", **facts) -> int:
        object_id = 900000 + next(_serial)
        self.docs[object_id] = {"facts": Facts(amount=Decimal(str(amount)), **facts), "status": "draft"}
        return object_id

    def set_facts(self, object_id: int, **facts) -> None:
        old = self.docs[object_id]["facts"]
        self.docs[object_id]["facts"] = Facts(**{**old.__dict__, **facts})

    # -- the callbacks the engine calls ---------------------------------------------------
    def facts(self, object_id: int) -> Facts:
        return self.docs[object_id]["facts"]

    def on_approved(self, object_id, actor):
        if self.fail_on_approved:
            raise RuntimeError("the document app failed")
        self.calls.append(("approved", object_id, actor.pk))
        self.docs[object_id]["status"] = "approved"

    def on_rejected(self, object_id, actor, comment):
        self.calls.append(("rejected", object_id, actor.pk, comment))
        self.docs[object_id]["status"] = "draft"

    def on_recalled(self, object_id, actor):
        self.calls.append(("recalled", object_id, actor.pk))
        self.docs[object_id]["status"] = "draft"

    def calls_of(self, kind: str) -> list[tuple]:
        return [c for c in self.calls if c[0] == kind]

    def document_type(self) -> DocumentType:
        return DocumentType(key=self.key, label="测试单据", facts=self.facts, on_approved=self.on_approved,
                            on_rejected=self.on_rejected, on_recalled=self.on_recalled,
                            url=lambda pk: f"/testdocs/{pk}/", title=lambda pk: f"测试单据 {pk}",
                            credit_control=True)


def role_step(role, name=None, **extra) -> dict:
    return {"name_zh": name or f"{role}审批", "approver_kind": "role", "role_code": role, **extra}


def user_step(user, name=None, **extra) -> dict:
    return {"name_zh": name or f"{user.full_name}审批", "approver_kind": "user", "user_id": user.pk, **extra}
