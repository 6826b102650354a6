from __future__ import annotations

from django.contrib.auth.models import AbstractBaseUser, BaseUserManager, PermissionsMixin
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _

from .enums import SCOPE_RANK, Permission, Scope, UserKind


class TreeNode(models.Model):
    """A node of a tree stored with a materialised path ("0001.0004.") for subtree queries."""

    name = models.CharField(_("名称"), max_length=100)
    parent = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT,
                               related_name="children")
    path = models.CharField(max_length=255, db_index=True, editable=False)
    is_active = models.BooleanField(default=True)

    class Meta:
        abstract = True
        ordering = ["path"]

    def __str__(self) -> str:
        return self.name

    @property
    def depth(self) -> int:
        return self.path.count(".") - 1 if self.path else 0


class Department(TreeNode):
    manager = models.ForeignKey("org.User", null=True, blank=True, on_delete=models.SET_NULL,
                                related_name="managed_departments")

    class Meta(TreeNode.Meta):
        constraints = [models.UniqueConstraint(fields=["parent", "name"], name="department_unique_name_in_parent")]
        indexes = [models.Index(fields=["path"], name="department_path_like",
                                opclasses=["varchar_pattern_ops"])]


class Region(TreeNode):
    code = models.CharField(max_length=32, blank=True)

    class Meta(TreeNode.Meta):
        constraints = [models.UniqueConstraint(fields=["parent", "name"], name="region_unique_name_in_parent")]
        indexes = [models.Index(fields=["path"], name="region_path_like",
                                opclasses=["varchar_pattern_ops"])]


class Role(models.Model):
    code = models.SlugField(max_length=50, unique=True)
    name_zh = models.CharField(max_length=100)
    name_en = models.CharField(max_length=100)
    scope = models.CharField(max_length=16, choices=Scope.choices, default=Scope.OWN)
    permissions = models.JSONField(default=list, blank=True)
    is_system = models.BooleanField(default=False)

    class Meta:
        ordering = ["id"]

    def __str__(self) -> str:
        return self.name_zh

    def name(self, language: str = "zh-hans") -> str:
        return self.name_en if language.startswith("en") else self.name_zh


class UserManager(BaseUserManager):
    use_in_migrations = True

    def get_by_natural_key(self, email: str):
        return self.get(email=(email or "").strip().lower())

    def _create(self, email: str, password: str | None, **extra):
        if not email:
            raise ValueError("email is required")
        user = self.model(email=self.normalize_email(email).lower(), **extra)
        user.set_password(password) if password else user.set_unusable_password()
        user.save(using=self._db)
        return user

    def create_user(self, email: str, password: str | None = None, **extra):
        extra.setdefault("is_staff", False)
        extra.setdefault("is_superuser", False)
        return self._create(email, password, **extra)

    def create_superuser(self, email: str, password: str | None = None, **extra):
        extra.update(is_staff=True, is_superuser=True)
        return self._create(email, password, **extra)


class StaffManager(UserManager):
    """Staff only (no partner users): directories, pickers, approvers, assignees."""

    use_in_migrations = False

    def get_queryset(self):
        return super().get_queryset().filter(kind=UserKind.STAFF)


class User(AbstractBaseUser, PermissionsMixin):
    """A person who logs in. In a tenant schema: staff of that company; in the public
    schema: a platform operator. Email is the login."""

    email = models.EmailField(_("邮箱"), max_length=254, unique=True)  # stored lower-case
    full_name = models.CharField(_("姓名"), max_length=150)
    phone = models.CharField(_("手机"), max_length=32, blank=True)
    title = models.CharField(_("职务"), max_length=100, blank=True)
    language = models.CharField(_("界面语言"), max_length=10, blank=True,
                                help_text=_("留空则使用公司默认语言"))
    department = models.ForeignKey(Department, null=True, blank=True, on_delete=models.PROTECT,
                                   related_name="members", verbose_name=_("部门"))
    region = models.ForeignKey(Region, null=True, blank=True, on_delete=models.PROTECT,
                               related_name="members", verbose_name=_("区域"))
    roles = models.ManyToManyField(Role, blank=True, related_name="users", verbose_name=_("角色"))
    is_active = models.BooleanField(_("在职"), default=True)
    is_staff = models.BooleanField(default=False, help_text="may use the Django admin (operators)")
    # Staff, or a partner user (crm.partners.PartnerMember says which partner): partner users
    # reach only the partner portal; every staff page and API answers them 404.
    kind = models.CharField(_("用户类型"), max_length=8, choices=UserKind.choices, default=UserKind.STAFF)
    date_joined = models.DateTimeField(default=timezone.now)
    deactivated_at = models.DateTimeField(null=True, blank=True)
    invited_by = models.ForeignKey("self", null=True, blank=True, on_delete=models.SET_NULL,
                                   related_name="+")
    version = models.PositiveIntegerField(default=1)

    objects = UserManager()
    staff = StaffManager()

    USERNAME_FIELD = "email"
    EMAIL_FIELD = "email"
    REQUIRED_FIELDS = ["full_name"]

    class Meta:
        ordering = ["full_name", "id"]

    def __str__(self) -> str:
        return f"{self.full_name} <{self.email}>"

    def save(self, *args, **kwargs):
        self.email = (self.email or "").strip().lower()
        super().save(*args, **kwargs)

    @property
    def is_partner_user(self) -> bool:
        return self.kind == UserKind.PARTNER

    def get_full_name(self) -> str:
        return self.full_name

    def get_short_name(self) -> str:
        return self.full_name

    # -- cheap questions about this one user; cached per instance --------------------------
    def _role_rows(self) -> list[Role]:
        cached = getattr(self, "_roles_cache", None)
        if cached is None:
            cached = list(self.roles.all()) if self.pk else []
            self._roles_cache = cached
        return cached

    def role_codes(self) -> set[str]:
        return {r.code for r in self._role_rows()}

    def effective_scope(self) -> str:
        roles = self._role_rows()
        if not roles:
            return Scope.OWN
        return max((r.scope for r in roles), key=lambda s: SCOPE_RANK[Scope(s)])

    def permission_codes(self) -> set[str]:
        codes: set[str] = set()
        for role in self._role_rows():
            codes.update(role.permissions)
        return codes

    def has_qiao_perm(self, code: str | Permission) -> bool:
        return self.is_active and str(code) in self.permission_codes()


class TenantConfig(models.Model):
    """One row per tenant schema: what its business modes gave it (editable later by the
    tenant admin): modules, navigation, pipeline stages, the default approval policy."""

    modes = models.JSONField(default=list)
    enabled_modules = models.JSONField(default=list)
    navigation = models.JSONField(default=list)
    pipeline_stages = models.JSONField(default=dict, help_text="per mode key")
    approval_policies = models.JSONField(default=dict, help_text="per mode key")
    customer_stages = models.JSONField(default=list)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [models.CheckConstraint(condition=models.Q(id=1), name="tenantconfig_singleton")]

    def __str__(self) -> str:
        return f"config {self.modes}"
