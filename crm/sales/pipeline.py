"""The tenant's pipelines, read from its stored configuration (crm.org TenantConfig:
``pipeline_stages`` per business mode key), never from the mode templates directly, so a
tenant's edits apply. A stage's kind is ``won`` at probability 100, ``lost`` at 0, ``open``
otherwise, unless the stored stage names its ``kind``."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.utils.translation import get_language
from django.utils.translation import gettext as _

from crm.org.selectors import tenant_config_get

from .enums import OpportunityStatus


@dataclass(frozen=True)
class Stage:
    key: str
    name_zh: str
    name_en: str
    probability: int
    kind: str  # an OpportunityStatus value

    @property
    def label(self) -> str:
        return self.name_en if (get_language() or "").startswith("en") else self.name_zh

    @property
    def is_open(self) -> bool:
        return self.kind == OpportunityStatus.OPEN


@dataclass(frozen=True)
class Pipeline:
    key: str
    stages: tuple[Stage, ...]

    def get(self, key: str) -> Stage | None:
        return next((s for s in self.stages if s.key == key), None)

    def keys(self) -> list[str]:
        return [s.key for s in self.stages]

    @property
    def open_stages(self) -> tuple[Stage, ...]:
        return tuple(s for s in self.stages if s.kind == OpportunityStatus.OPEN)

    @property
    def won_stage(self) -> Stage | None:
        return next((s for s in self.stages if s.kind == OpportunityStatus.WON), None)

    @property
    def lost_stage(self) -> Stage | None:
        return next((s for s in self.stages if s.kind == OpportunityStatus.LOST), None)

    def label_of(self, key: str) -> str:
        stage = self.get(key)
        return stage.label if stage else key


def _stage(raw: dict) -> Stage:
    probability = max(0, min(100, int(raw.get("probability", 0))))
    kind = raw.get("kind")
    if kind not in OpportunityStatus.values:
        kind = (OpportunityStatus.WON if probability == 100 else
                OpportunityStatus.LOST if probability == 0 else OpportunityStatus.OPEN)
    key = str(raw["key"])
    return Stage(key=key, name_zh=str(raw.get("name_zh") or key), name_en=str(raw.get("name_en") or key),
                 probability=probability, kind=kind)


def pipelines() -> dict[str, Pipeline]:
    """Every pipeline of the tenant, the primary business mode's first."""
    config = tenant_config_get()
    stored = config.pipeline_stages or {}
    order = [m for m in (config.modes or []) if m in stored] + [m for m in stored if m not in (config.modes or [])]
    return {key: Pipeline(key=key, stages=tuple(_stage(s) for s in stored[key] if s.get("key")))
            for key in order if stored.get(key)}


def pipeline_get(key: str | None = None) -> Pipeline:
    """The pipeline named ``key`` (the tenant's primary one when None); ValidationError
    naming ``pipeline`` when there is no such pipeline."""
    known = pipelines()
    if not known:
        raise ValidationError({"pipeline": _("公司还没有配置销售阶段，请联系管理员。")})
    if key is None or key == "":
        return next(iter(known.values()))
    if key not in known:
        raise ValidationError({"pipeline": _("销售流程“%(key)s”不存在，可选：%(choices)s") % {
            "key": key, "choices": ", ".join(known)}})
    return known[key]
