"""Write-side operations of the organisation: staff, roles, departments, regions, and the
set-up a business mode gives a new tenant. Keyword-only, transactional, audited."""

from __future__ import annotations

from collections.abc import Iterable

from django.conf import settings
from django.contrib.auth.tokens import default_token_generator
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.mail import send_mail
from django.core.validators import validate_email
from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Concat, Substr
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.encoding import force_bytes
from django.utils.http import urlsafe_base64_encode
from django.utils.translation import gettext as _
from rest_framework.authtoken.models import Token

from billing.entitlements import staff_seats_check
from crm.audit.services import audit_diff, audit_record, audit_snapshot

from .enums import SYSTEM_ROLE_DEFAULTS, Permission, Scope, SystemRole
from .models import Department, Region, Role, TenantConfig, TreeNode, User
from .permissions import can_manage_roles, can_manage_staff, can_manage_structure

STAFF_AUDIT_FIELDS = ("email", "full_name", "phone", "title", "language", "department",
                      "region", "roles", "is_active")


# -- trees ---------------------------------------------------------------------------------
def _node_create(model: type[TreeNode], *, name: str, parent: TreeNode | None, **extra) -> TreeNode:
    name = (name or "").strip()
    if not name:
        raise ValidationError({"name": _("名称不能为空。")})
    if model.objects.filter(parent=parent, name=name).exists():
        raise ValidationError({"name": _("同一上级下已有名为“%(name)s”的节点。") % {"name": name}})
    node = model(name=name, parent=parent, path="", **extra)
    node.save()
    node.path = f"{parent.path if parent else ''}{node.pk:06d}."
    node.save(update_fields=["path"])
    return node


_tree_moved_listeners: list = []


def on_tree_moved(listener) -> None:
    """Have ``listener(kind=..., node_ids=[...])`` called after the commit of every move of a
    department or region (``kind``), with the ids of the moved subtree: records that store
    their place's ancestors (the customers' search tokens) re-index them. Registered from an
    app's ``ready``."""
    _tree_moved_listeners.append(listener)


def _node_move(node: TreeNode, *, new_parent: TreeNode | None) -> None:
    if new_parent is not None and new_parent.path.startswith(node.path):
        raise ValidationError({"parent": _("不能把节点移动到它自己或它的下级之下。")})
    old_path = node.path
    new_path = f"{new_parent.path if new_parent else ''}{node.pk:06d}."
    type(node).objects.filter(path__startswith=old_path).update(
        path=Concat(Value(new_path), Substr(F("path"), len(old_path) + 1))
    )
    node.parent = new_parent
    node.path = new_path
    node.save(update_fields=["parent", "path"])
    if old_path != new_path:
        kind = "department" if isinstance(node, Department) else "region"
        moved = list(type(node).objects.filter(path__startswith=new_path).values_list("pk", flat=True))
        transaction.on_commit(lambda: [listener(kind=kind, node_ids=moved) for listener in _tree_moved_listeners])


@transaction.atomic
def department_create(*, actor: User | None, name: str, parent_id: int | None = None) -> Department:
    if actor is not None and not can_manage_structure(actor):
        raise PermissionDenied(_("你没有管理组织架构的权限。"))
    parent = _node_or_error(Department, parent_id, "parent")
    dept = _node_create(Department, name=name, parent=parent)
    audit_record(actor=actor, instance=dept, action="create",
                 changes=audit_diff({}, audit_snapshot(dept, ["name", "parent"])))
    return dept


@transaction.atomic
def department_update(*, actor: User, department_id: int, name: str | None = None,
                      parent_id: int | None | type(...) = ...) -> Department:
    if not can_manage_structure(actor):
        raise PermissionDenied(_("你没有管理组织架构的权限。"))
    dept = Department.objects.select_for_update().get(pk=department_id)
    before = audit_snapshot(dept, ["name", "parent"])
    if name is not None and name.strip() != dept.name:
        if Department.objects.filter(parent_id=dept.parent_id, name=name.strip()).exclude(pk=dept.pk).exists():
            raise ValidationError({"name": _("同一上级下已有名为“%(name)s”的节点。") % {"name": name}})
        dept.name = name.strip()
        dept.save(update_fields=["name"])
    if parent_id is not ...:
        _node_move(dept, new_parent=_node_or_error(Department, parent_id, "parent"))
    changes = audit_diff(before, audit_snapshot(dept, ["name", "parent"]))
    if changes:
        audit_record(actor=actor, instance=dept, action="update", changes=changes)
    return dept


@transaction.atomic
def region_create(*, actor: User | None, name: str, parent_id: int | None = None, code: str = "") -> Region:
    if actor is not None and not can_manage_structure(actor):
        raise PermissionDenied(_("你没有管理组织架构的权限。"))
    parent = _node_or_error(Region, parent_id, "parent")
    region = _node_create(Region, name=name, parent=parent, code=code)
    audit_record(actor=actor, instance=region, action="create",
                 changes=audit_diff({}, audit_snapshot(region, ["name", "parent", "code"])))
    return region


# -- roles -----------------------------------------------------------------------------------
def roles_seed_system() -> list[Role]:
    """Create the system roles (idempotent). Used when a tenant is set up."""
    existing = set(Role.objects.values_list("code", flat=True))
    new = []
    for code, (name_en, scope, perms) in SYSTEM_ROLE_DEFAULTS.items():
        if code in existing:
            continue
        new.append(Role(code=code, name_zh=str(SystemRole(code).label), name_en=name_en,
                        scope=scope, permissions=[str(p) for p in perms], is_system=True))
    Role.objects.bulk_create(new)
    return new


def _validate_permissions(codes: Iterable[str]) -> list[str]:
    known = {p.value for p in Permission}
    codes = list(dict.fromkeys(codes))
    unknown = [c for c in codes if c not in known]
    if unknown:
        raise ValidationError({"permissions": _("未知的权限：%(codes)s") % {"codes": ", ".join(unknown)}})
    return codes


@transaction.atomic
def role_create(*, actor: User, code: str, name_zh: str, name_en: str, scope: str,
                permissions: Iterable[str]) -> Role:
    """A custom role built from permissions."""
    if not can_manage_roles(actor):
        raise PermissionDenied(_("你没有管理角色的权限。"))
    if scope not in Scope.values:
        raise ValidationError({"scope": _("可见范围必须是 own、department、region 或 all。")})
    if Role.objects.filter(code=code).exists():
        raise ValidationError({"code": _("角色代码“%(code)s”已存在。") % {"code": code}})
    role = Role.objects.create(code=code, name_zh=name_zh.strip(), name_en=name_en.strip(),
                               scope=scope, permissions=_validate_permissions(permissions))
    audit_record(actor=actor, instance=role, action="create",
                 changes=audit_diff({}, audit_snapshot(role, ["code", "name_zh", "name_en", "scope", "permissions"])))
    return role


# -- staff -----------------------------------------------------------------------------------
def _clean_email(email: str) -> str:
    email = (email or "").strip().lower()
    try:
        validate_email(email)
    except ValidationError:
        raise ValidationError({"email": _("请输入有效的邮箱地址。")}) from None
    return email


def _roles_from_codes(codes: Iterable[str]) -> list[Role]:
    codes = list(dict.fromkeys(codes))
    roles = list(Role.objects.filter(code__in=codes))
    missing = set(codes) - {r.code for r in roles}
    if missing:
        raise ValidationError({"roles": _("未知的角色：%(codes)s") % {"codes": ", ".join(sorted(missing))}})
    return roles


def _node_or_error(model, pk, field):
    if pk in (None, ""):
        return None
    try:
        return model.objects.get(pk=pk, is_active=True)
    except (model.DoesNotExist, ValueError, TypeError):
        raise ValidationError({field: _("所选的%(what)s不存在。") % {
            "what": _("部门") if model is Department else _("区域")}}) from None


def _last_admin_guard(user: User, *, removing: bool) -> None:
    if not removing or SystemRole.TENANT_ADMIN not in user.role_codes():
        return
    others = User.objects.filter(is_active=True, roles__code=SystemRole.TENANT_ADMIN).exclude(pk=user.pk)
    if not others.exists():
        raise ValidationError({"roles": _("公司至少要保留一名在职的系统管理员。")})


def staff_create(*, actor: User | None, email: str, full_name: str, role_codes: Iterable[str] = (),
                 department_id: int | None = None, region_id: int | None = None, title: str = "",
                 phone: str = "", language: str = "", password: str | None = None,
                 password_hash: str | None = None) -> User:
    """Create a staff member. ``actor`` None means the system (provisioning, demo data), which
    the plan's seat limit does not bind; a person creating staff is held to it."""
    if actor is not None and not can_manage_staff(actor):
        raise PermissionDenied(_("你没有管理员工的权限。"))
    email = _clean_email(email)
    full_name = (full_name or "").strip()
    if not full_name:
        raise ValidationError({"full_name": _("姓名不能为空。")})
    if language and language not in dict(settings.LANGUAGES):
        raise ValidationError({"language": _("不支持的语言：%(lang)s") % {"lang": language}})
    with transaction.atomic():
        if User.objects.filter(email=email).exists():
            raise ValidationError({"email": _("邮箱 %(email)s 已被其他员工使用。") % {"email": email}})
        roles = _roles_from_codes(role_codes)
        if actor is not None:
            staff_seats_check(1, actor=actor)
        user = User(email=email, full_name=full_name, title=title.strip(), phone=phone.strip(),
                    language=language, invited_by=actor,
                    department=_node_or_error(Department, department_id, "department"),
                    region=_node_or_error(Region, region_id, "region"))
        if password_hash:
            user.password = password_hash
        elif password:
            user.set_password(password)
        else:
            user.set_unusable_password()
        user.save()
        user.roles.set(roles)
        audit_record(actor=actor, instance=user, action="create",
                     changes=audit_diff({}, audit_snapshot(user, STAFF_AUDIT_FIELDS)))
    return user


def staff_invite(*, actor: User, email: str, full_name: str, role_codes: Iterable[str],
                 department_id: int | None = None, region_id: int | None = None, title: str = "",
                 phone: str = "", language: str = "", base_url: str) -> User:
    """Create the staff member without a password and email them a link to set one."""
    user = staff_create(actor=actor, email=email, full_name=full_name, role_codes=role_codes,
                        department_id=department_id, region_id=region_id, title=title,
                        phone=phone, language=language)
    transaction.on_commit(lambda: _send_invitation(user_id=user.pk, base_url=base_url,
                                                   inviter=actor.full_name))
    return user


def _send_invitation(*, user_id: int, base_url: str, inviter: str) -> None:
    user = User.staff.get(pk=user_id)
    uid = urlsafe_base64_encode(force_bytes(user.pk))
    token = default_token_generator.make_token(user)
    link = f"{base_url.rstrip('/')}/reset/{uid}/{token}/"
    with translation.override(user.language or translation.get_language()):
        subject = _("%(inviter)s 邀请你加入 Qiao") % {"inviter": inviter}
        body = render_to_string("org/email/invitation.txt",
                                {"user": user, "link": link, "inviter": inviter})
    send_mail(subject, body, None, [user.email])


@transaction.atomic
def staff_update(*, actor: User, user_id: int, version: int | None = None, **fields) -> User:
    """Edit a staff member. ``version``, when given, must match (else the edit is stale)."""
    if not can_manage_staff(actor) and actor.pk != user_id:
        raise PermissionDenied(_("你没有管理员工的权限。"))
    user = User.staff.select_for_update().get(pk=user_id)
    if version is not None and version != user.version:
        raise StaleVersion(current=user.version)
    before = audit_snapshot(user, STAFF_AUDIT_FIELDS)
    self_service = actor.pk == user_id and not can_manage_staff(actor)
    allowed = {"full_name", "phone", "title", "language"} if self_service else {
        "email", "full_name", "phone", "title", "language", "department_id", "region_id", "role_codes"}
    unknown = set(fields) - allowed
    if unknown:
        raise PermissionDenied(_("你不能修改这些字段：%(f)s") % {"f": ", ".join(sorted(unknown))})
    if "email" in fields:
        email = _clean_email(fields["email"])
        if User.objects.filter(email=email).exclude(pk=user.pk).exists():
            raise ValidationError({"email": _("邮箱 %(email)s 已被其他员工使用。") % {"email": email}})
        user.email = email
    if "full_name" in fields:
        if not (fields["full_name"] or "").strip():
            raise ValidationError({"full_name": _("姓名不能为空。")})
        user.full_name = fields["full_name"].strip()
    for name in ("phone", "title"):
        if name in fields:
            setattr(user, name, (fields[name] or "").strip())
    if "language" in fields:
        if fields["language"] and fields["language"] not in dict(settings.LANGUAGES):
            raise ValidationError({"language": _("不支持的语言：%(lang)s") % {"lang": fields["language"]}})
        user.language = fields["language"] or ""
    if "department_id" in fields:
        user.department = _node_or_error(Department, fields["department_id"], "department")
    if "region_id" in fields:
        user.region = _node_or_error(Region, fields["region_id"], "region")
    if "role_codes" in fields:
        roles = _roles_from_codes(fields["role_codes"])
        _last_admin_guard(user, removing=SystemRole.TENANT_ADMIN not in {r.code for r in roles})
        user.roles.set(roles)
        user._roles_cache = None
    user.version = F("version") + 1
    user.save()
    user.refresh_from_db()
    changes = audit_diff(before, audit_snapshot(user, STAFF_AUDIT_FIELDS))
    if changes:
        audit_record(actor=actor, instance=user, action="update", changes=changes)
    return user


@transaction.atomic
def staff_deactivate(*, actor: User, user_id: int, reason: str = "") -> User:
    """Lock a leaver out at once; their records, ownership history and audit trail stay."""
    if not can_manage_staff(actor):
        raise PermissionDenied(_("你没有管理员工的权限。"))
    user = User.staff.select_for_update().get(pk=user_id)
    if user.pk == actor.pk:
        raise ValidationError({"user": _("不能停用自己的账号。")})
    if not user.is_active:
        return user  # idempotent
    _last_admin_guard(user, removing=True)
    user.is_active = False
    user.deactivated_at = timezone.now()
    user.version = F("version") + 1
    user.save(update_fields=["is_active", "deactivated_at", "version"])
    Token.objects.filter(user=user).delete()
    user.refresh_from_db()
    audit_record(actor=actor, instance=user, action="deactivate",
                 changes={"is_active": {"old": True, "new": False}}, note=reason)
    return user


@transaction.atomic
def staff_reactivate(*, actor: User, user_id: int) -> User:
    if not can_manage_staff(actor):
        raise PermissionDenied(_("你没有管理员工的权限。"))
    user = User.staff.select_for_update().get(pk=user_id)
    if user.is_active:
        return user
    staff_seats_check(1, actor=actor)
    user.is_active = True
    user.deactivated_at = None
    user.version = F("version") + 1
    user.save(update_fields=["is_active", "deactivated_at", "version"])
    user.refresh_from_db()
    audit_record(actor=actor, instance=user, action="reactivate",
                 changes={"is_active": {"old": False, "new": True}})
    return user


@transaction.atomic
def user_set_language(*, user: User, language: str) -> None:
    if language and language not in dict(settings.LANGUAGES):
        raise ValidationError({"language": _("不支持的语言：%(lang)s") % {"lang": language}})
    if user.language != language:
        before = user.language
        user.language = language
        user.save(update_fields=["language"])
        audit_record(actor=user, instance=user, action="update",
                     changes={"language": {"old": before, "new": language}})


def token_issue(*, user: User) -> Token:
    token, _created = Token.objects.get_or_create(user=user)
    return token


class StaleVersion(Exception):
    def __init__(self, *, current: int):
        super().__init__(f"stale version; current is {current}")
        self.current = current


# -- the set-up a business mode gives a tenant ------------------------------------------------
def tenant_config_apply_mode(*, mode, actor: User | None = None) -> TenantConfig:
    """Merge a business mode into this schema's TenantConfig (first mode or an added one)."""
    config, _created = TenantConfig.objects.get_or_create(id=1)
    before = audit_snapshot(config, ["modes", "enabled_modules"])
    if mode.key not in config.modes:
        config.modes = [*config.modes, mode.key]
    config.enabled_modules = list(dict.fromkeys([*config.enabled_modules, *mode.modules]))
    known = {n["key"] for n in config.navigation}
    config.navigation = [*config.navigation,
                         *({k: v for k, v in n.__dict__.items()} for n in mode.navigation if n.key not in known)]
    config.pipeline_stages = {**config.pipeline_stages, mode.key: [s.__dict__ for s in mode.pipeline_stages]}
    config.approval_policies = {**config.approval_policies, mode.key: [s.__dict__ for s in mode.approval_policy]}
    if not config.customer_stages:
        config.customer_stages = list(mode.customer_stages)
    config.save()
    audit_record(actor=actor, instance=config, action="update",
                 changes=audit_diff(before, audit_snapshot(config, ["modes", "enabled_modules"])),
                 note=f"business mode {mode.key}")
    return config


def org_setup_tenant(*, company_name: str, mode, admin_email: str, admin_name: str,
                     admin_password_hash: str | None, language: str) -> User:
    """First set-up of a freshly cloned schema: roles, root department and region, the
    mode's configuration and the tenant admin. Runs inside the provisioning transaction."""
    roles_seed_system()
    tenant_config_apply_mode(mode=mode)
    root = _node_create(Department, name=company_name[:100], parent=None)
    region_root = _node_create(Region, name="全国", parent=None, code="CN")
    admin = staff_create(actor=None, email=admin_email, full_name=admin_name or admin_email,
                         role_codes=[SystemRole.TENANT_ADMIN], department_id=root.pk,
                         region_id=region_root.pk, language="",
                         password_hash=admin_password_hash)
    root.manager = admin
    root.save(update_fields=["manager"])
    return admin


def org_load_demo(*, mode, email_domain: str, password: str) -> list[User]:
    """The mode's demo dataset: departments, regions and staff in several roles."""
    demo = mode.demo
    depts = {d.name: d for d in Department.objects.all()}
    root = Department.objects.filter(parent=None).first()
    for name, parent in demo.departments:
        if name in depts:
            continue
        if parent is None and root is not None:
            depts[name] = root  # the demo's head office is the company's root department
        else:
            depts[name] = _node_create(Department, name=name, parent=depts.get(parent) or root)
    regions = {r.name: r for r in Region.objects.all()}
    for name, parent in demo.regions:
        if name in regions:
            continue
        regions[name] = _node_create(Region, name=name, parent=regions.get(parent) if parent else None)
    from django.contrib.auth.hashers import make_password

    password_hash = make_password(password)
    created = []
    for person in demo.staff:
        email = f"{person.key}@{email_domain}"
        if User.objects.filter(email=email).exists():
            continue
        created.append(staff_create(
            actor=None, email=email, full_name=person.full_name, role_codes=[person.role],
            department_id=depts[person.department].pk, region_id=regions[person.region].pk,
            password_hash=password_hash))
    return created
