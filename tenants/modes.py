"""The five business modes, as data.

A tenant picks one at sign-up and may enable others later. A mode names the modules it
switches on, the pipeline stages and the default approval policy it seeds into the tenant,
the navigation entries of the staff web shell, and a demo dataset. Later modules read their
defaults from the tenant's stored configuration (``crm.org`` TenantConfig), never from here
directly, so a tenant can edit what it was given.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from django.utils.translation import get_language


@dataclass(frozen=True)
class NavEntry:
    key: str
    name_zh: str
    name_en: str
    url_name: str  # resolved at render time; entries whose module is not installed are hidden
    module: str
    icon: str = ""


@dataclass(frozen=True)
class PipelineStage:
    key: str
    name_zh: str
    name_en: str
    probability: int  # percent


@dataclass(frozen=True)
class ApprovalStep:
    role: str
    name_zh: str
    name_en: str
    min_amount: str | None = None  # Decimal as text; the step applies at or above this amount


@dataclass(frozen=True)
class DemoStaff:
    key: str
    full_name: str
    role: str
    department: str
    region: str


@dataclass(frozen=True)
class DemoDataset:
    departments: tuple[tuple[str, str | None], ...]  # (name, parent name)
    regions: tuple[tuple[str, str | None], ...]
    staff: tuple[DemoStaff, ...]


@dataclass(frozen=True)
class BusinessMode:
    key: str
    name_zh: str
    name_en: str
    description_zh: str
    description_en: str
    industries_zh: str
    industries_en: str
    modules: tuple[str, ...]
    pipeline_stages: tuple[PipelineStage, ...]
    approval_policy: tuple[ApprovalStep, ...]
    navigation: tuple[NavEntry, ...]
    demo: DemoDataset
    customer_stages: tuple[str, ...] = field(
        default=("prospect", "lead", "opportunity", "customer", "vip", "lost")
    )

    def name(self, language: str | None = None) -> str:
        return self.name_en if (language or get_language() or "").startswith("en") else self.name_zh

    def description(self, language: str | None = None) -> str:
        lang = language or get_language() or ""
        return self.description_en if lang.startswith("en") else self.description_zh

    def as_dict(self) -> dict:
        return {
            "key": self.key,
            "name_zh": self.name_zh,
            "name_en": self.name_en,
            "description_zh": self.description_zh,
            "description_en": self.description_en,
            "industries_zh": self.industries_zh,
            "industries_en": self.industries_en,
            "modules": list(self.modules),
            "customer_stages": list(self.customer_stages),
            "pipeline_stages": [s.__dict__ for s in self.pipeline_stages],
            "approval_policy": [s.__dict__ for s in self.approval_policy],
            "navigation": [
                {k: v for k, v in n.__dict__.items() if k != "icon"} for n in self.navigation
            ],
        }


# -- shared pieces ----------------------------------------------------------------------------
COMMON_MODULES = ("customers", "activities", "approvals", "analytics", "documents")

NAV_TODAY = NavEntry("today", "今日工作", "Today", "activities:today", "activities")
NAV_CUSTOMERS = NavEntry("customers", "客户", "Customers", "customers:list", "customers")
NAV_CONTACTS = NavEntry("contacts", "联系人", "Contacts", "customers:contacts", "customers")
NAV_OPPORTUNITIES = NavEntry("opportunities", "商机", "Opportunities", "sales:opportunities", "sales")
NAV_QUOTES = NavEntry("quotes", "报价", "Quotes", "sales:quotes", "sales")
NAV_ORDERS = NavEntry("orders", "订单", "Orders", "orders:list", "orders")
NAV_CATALOG = NavEntry("catalog", "产品", "Products", "catalog:products", "catalog")
NAV_APPROVALS = NavEntry("approvals", "审批", "Approvals", "approvals:inbox", "approvals")
NAV_FINANCE = NavEntry("finance", "应收与回款", "Receivables", "finance:receivables", "finance")
NAV_PARTNERS = NavEntry("partners", "渠道伙伴", "Partners", "partners:list", "partners")
NAV_REPORTS = NavEntry("reports", "报表", "Reports", "analytics:dashboard", "analytics")
NAV_SERVICE = NavEntry("service", "服务", "Service", "service:tickets", "service")

STANDARD_STAGES = (
    PipelineStage("qualify", "需求确认", "Qualify", 10),
    PipelineStage("quote", "报价", "Quote", 40),
    PipelineStage("negotiate", "谈判", "Negotiate", 70),
    PipelineStage("won", "赢单", "Won", 100),
    PipelineStage("lost", "输单", "Lost", 0),
)

REGIONS_CN = (
    ("全国", None),
    ("华北", "全国"), ("北京", "华北"), ("天津", "华北"),
    ("华东", "全国"), ("上海", "华东"), ("江苏", "华东"), ("浙江", "华东"),
    ("华南", "全国"), ("广东", "华南"), ("深圳", "广东"),
    ("西南", "全国"), ("四川", "西南"),
)


def _staff(*rows: tuple[str, str, str, str, str]) -> tuple[DemoStaff, ...]:
    return tuple(DemoStaff(*row) for row in rows)


MODES: dict[str, BusinessMode] = {}


def _register(mode: BusinessMode) -> BusinessMode:
    MODES[mode.key] = mode
    return mode


_register(BusinessMode(
    key="standard",
    name_zh="标准产品",
    name_en="Standard product",
    description_zh="标准化产品、客户众多、直销为主：报价、订单、新客户开发，以服务取胜。"
                   "业务员录入订单，商务秘书按公司规则审核，财务复核；库存、发货与回款随后跟进。",
    description_en="Standard products, many customers, direct sales: quotes, orders and new-customer "
                   "development, with service as the edge. Salespeople enter orders, a business "
                   "secretary reviews them, finance re-checks; stock, shipping and collection follow.",
    industries_zh="汽车、电子、设备、仪器仪表、办公用品",
    industries_en="Cars, electronics, equipment, instruments, office supplies",
    modules=COMMON_MODULES + ("sales", "quotes", "catalog", "orders", "finance", "partners", "service"),
    pipeline_stages=STANDARD_STAGES,
    approval_policy=(
        ApprovalStep("business_secretary", "商务秘书审核", "Business secretary review"),
        ApprovalStep("finance", "财务复核", "Finance re-check", min_amount="100000.00"),
    ),
    navigation=(NAV_TODAY, NAV_CUSTOMERS, NAV_CONTACTS, NAV_OPPORTUNITIES, NAV_QUOTES, NAV_ORDERS,
                NAV_CATALOG, NAV_APPROVALS, NAV_FINANCE, NAV_PARTNERS, NAV_SERVICE, NAV_REPORTS),
    demo=DemoDataset(
        departments=(("总部", None), ("销售部", "总部"), ("北京销售组", "销售部"),
                     ("上海销售组", "销售部"), ("商务部", "总部"), ("财务部", "总部"),
                     ("仓储部", "总部"), ("客服部", "总部")),
        regions=REGIONS_CN,
        staff=_staff(
            ("exec", "王建国", "executive", "总部", "全国"),
            ("manager", "李华", "regional_manager", "销售部", "华北"),
            ("sales", "张伟", "salesperson", "北京销售组", "北京"),
            ("sales2", "刘洋", "salesperson", "上海销售组", "上海"),
            ("secretary", "陈静", "business_secretary", "商务部", "全国"),
            ("finance", "杨敏", "finance", "财务部", "全国"),
            ("warehouse", "赵强", "warehouse", "仓储部", "全国"),
            ("service", "周丽", "service", "客服部", "全国"),
        ),
    ),
))

_register(BusinessMode(
    key="promotion",
    name_zh="促销管理",
    name_en="Promotion management",
    description_zh="大量业务代表开发零售终端或医院并协助其销售：拜访计划、拜访记录、竞品信息、"
                   "促销物料与费用的发放、跟踪与核算；客户与联系人变动频繁，需保留历史。",
    description_en="Many field reps develop retailers or hospitals and help them sell: visit plans, "
                   "visit logs, competitor intelligence per outlet, promotional materials and "
                   "expenses issued, tracked and accounted; contacts change often, history is kept.",
    industries_zh="医药、保健品、食品饮料、日化、家电、服装",
    industries_en="Pharma, health products, food and drink, household chemicals, appliances, apparel",
    modules=COMMON_MODULES + ("visits", "competitors", "promotion", "expenses", "orders", "catalog"),
    pipeline_stages=(
        PipelineStage("develop", "开发中", "Developing", 20),
        PipelineStage("listed", "已进店", "Listed", 60),
        PipelineStage("active", "动销", "Selling", 90),
        PipelineStage("lost", "流失", "Lost", 0),
    ),
    approval_policy=(
        ApprovalStep("regional_manager", "大区经理审批", "Regional manager approval"),
        ApprovalStep("finance", "财务核销", "Finance settlement", min_amount="20000.00"),
    ),
    navigation=(
        NAV_TODAY,
        NavEntry("outlets", "终端", "Outlets", "customers:list", "customers"),
        NAV_CONTACTS,
        NavEntry("visit_plans", "拜访计划", "Visit plans", "activities:visit-plans", "visits"),
        NavEntry("competitors", "竞品信息", "Competitors", "promotion:competitors", "competitors"),
        NavEntry("promotion", "促销与费用", "Promotions", "promotion:list", "promotion"),
        NAV_ORDERS, NAV_APPROVALS, NAV_REPORTS,
    ),
    demo=DemoDataset(
        departments=(("总部", None), ("市场部", "总部"), ("华东办事处", "市场部"),
                     ("华北办事处", "市场部"), ("财务部", "总部")),
        regions=REGIONS_CN,
        staff=_staff(
            ("exec", "孙立", "executive", "总部", "全国"),
            ("manager", "吴刚", "regional_manager", "华东办事处", "华东"),
            ("rep", "郑洁", "salesperson", "华东办事处", "上海"),
            ("rep2", "冯涛", "salesperson", "华北办事处", "北京"),
            ("finance", "何琳", "finance", "财务部", "全国"),
        ),
    ),
))

_register(BusinessMode(
    key="project",
    name_zh="复杂项目销售",
    name_en="Complex project sales",
    description_zh="客户少、单笔大、定制化、周期长：项目登记与评估、采购决策链（角色、影响力、态度）、"
                   "阶段与里程碑、项目文档、收入与利润分析，多角色协同。",
    description_en="Few customers, large custom deals, long cycles: project registration and "
                   "go/no-go evaluation, the buying centre as a decision tree, stages and "
                   "milestones, project documents, revenue and profit analysis across many roles.",
    industries_zh="设备制造、工程、系统集成、咨询、广告、定制生产",
    industries_en="Equipment makers, engineering, system integration, consulting, advertising, custom manufacturing",
    modules=COMMON_MODULES + ("sales", "projects", "quotes", "catalog", "orders", "finance", "partners",
                              "service"),
    pipeline_stages=(
        PipelineStage("register", "项目登记", "Registered", 5),
        PipelineStage("evaluate", "评估立项", "Evaluated", 15),
        PipelineStage("solution", "方案交流", "Solution", 30),
        PipelineStage("tender", "投标", "Tender", 50),
        PipelineStage("negotiate", "商务谈判", "Negotiation", 75),
        PipelineStage("contract", "签约", "Contract", 100),
        PipelineStage("lost", "丢单", "Lost", 0),
    ),
    approval_policy=(
        ApprovalStep("regional_manager", "大区经理审批", "Regional manager approval"),
        ApprovalStep("business_secretary", "商务审核", "Business review"),
        ApprovalStep("finance", "财务复核", "Finance re-check", min_amount="500000.00"),
        ApprovalStep("executive", "总经理审批", "Executive approval", min_amount="2000000.00"),
    ),
    navigation=(
        NAV_TODAY, NAV_CUSTOMERS,
        NavEntry("projects", "项目", "Projects", "sales:projects", "projects"),
        NAV_QUOTES, NAV_ORDERS, NAV_CATALOG, NAV_APPROVALS, NAV_FINANCE, NAV_PARTNERS, NAV_SERVICE, NAV_REPORTS,
    ),
    demo=DemoDataset(
        departments=(("总部", None), ("项目销售部", "总部"), ("解决方案部", "总部"),
                     ("商务部", "总部"), ("财务部", "总部"), ("工程服务部", "总部")),
        regions=REGIONS_CN,
        staff=_staff(
            ("exec", "高远", "executive", "总部", "全国"),
            ("manager", "林峰", "regional_manager", "项目销售部", "华南"),
            ("sales", "黄磊", "salesperson", "项目销售部", "广东"),
            ("secretary", "罗琦", "business_secretary", "商务部", "全国"),
            ("finance", "宋佳", "finance", "财务部", "全国"),
            ("service", "唐明", "service", "工程服务部", "全国"),
        ),
    ),
))

_register(BusinessMode(
    key="membership",
    name_zh="会员制",
    name_en="Membership",
    description_zh="零售与消费服务：会员、会员卡、积分获取与消费、会员等级、会员专享优惠与留存。",
    description_en="Retail and consumer services: members, cards, points earned and spent, tiers, "
                   "member-only offers and retention.",
    industries_zh="零售、餐饮、美容、健身、教育等消费服务",
    industries_en="Retail, restaurants, beauty, fitness, education and other consumer services",
    modules=COMMON_MODULES + ("membership", "points", "campaigns", "service"),
    pipeline_stages=(
        PipelineStage("new", "新会员", "New member", 10),
        PipelineStage("active", "活跃", "Active", 60),
        PipelineStage("loyal", "忠实", "Loyal", 90),
        PipelineStage("dormant", "沉睡", "Dormant", 5),
    ),
    approval_policy=(
        ApprovalStep("regional_manager", "门店经理审批", "Store manager approval"),
    ),
    navigation=(
        NAV_TODAY,
        NavEntry("members", "会员", "Members", "customers:list", "customers"),
        NavEntry("cards", "会员卡与积分", "Cards & points", "membership:cards", "membership"),
        NavEntry("campaigns", "营销活动", "Campaigns", "membership:campaigns", "campaigns"),
        NAV_SERVICE, NAV_REPORTS,
    ),
    demo=DemoDataset(
        departments=(("总部", None), ("门店运营部", "总部"), ("南京西路店", "门店运营部"),
                     ("会员服务中心", "总部")),
        regions=REGIONS_CN,
        staff=_staff(
            ("exec", "钱多", "executive", "总部", "全国"),
            ("manager", "许晴", "regional_manager", "门店运营部", "上海"),
            ("clerk", "邓超", "salesperson", "南京西路店", "上海"),
            ("service", "韩雪", "service", "会员服务中心", "全国"),
        ),
    ),
))

_register(BusinessMode(
    key="keyaccount",
    name_zh="大客户",
    name_en="Key accounts",
    description_zh="用户众多，但少数大客户贡献主要业务且容易流失：大客户开发与保有计划、"
                   "跨部门跨地区的客户全景、频繁交易与服务请求的团队协同处理。",
    description_en="Many users, but a few large customers carry the business and can leave easily: "
                   "key-account development and retention plans, a full picture of each account "
                   "across departments and regions, team handling of frequent transactions and requests.",
    industries_zh="电信、电力、银行、保险、证券、酒店",
    industries_en="Telecom, power, banks, insurance, securities, hotels",
    modules=COMMON_MODULES + ("key_accounts", "sales", "catalog", "orders", "service", "finance"),
    pipeline_stages=(
        PipelineStage("identify", "识别", "Identify", 10),
        PipelineStage("develop", "开发", "Develop", 40),
        PipelineStage("retain", "保有", "Retain", 80),
        PipelineStage("expand", "拓展", "Expand", 90),
        PipelineStage("churned", "流失", "Churned", 0),
    ),
    approval_policy=(
        ApprovalStep("regional_manager", "客户经理主管审批", "Account director approval"),
        ApprovalStep("executive", "分管领导审批", "Executive approval", min_amount="1000000.00"),
    ),
    navigation=(
        NAV_TODAY,
        NavEntry("accounts", "大客户", "Key accounts", "customers:list", "customers"),
        NavEntry("plans", "保有计划", "Retention plans", "keyaccounts:plans", "key_accounts"),
        NAV_OPPORTUNITIES, NAV_ORDERS, NAV_FINANCE, NAV_SERVICE, NAV_APPROVALS, NAV_REPORTS,
    ),
    demo=DemoDataset(
        departments=(("总部", None), ("大客户部", "总部"), ("政企客户组", "大客户部"),
                     ("金融客户组", "大客户部"), ("服务保障部", "总部"), ("财务部", "总部")),
        regions=REGIONS_CN,
        staff=_staff(
            ("exec", "曹阳", "executive", "总部", "全国"),
            ("manager", "袁野", "regional_manager", "大客户部", "华东"),
            ("am", "蒋楠", "salesperson", "金融客户组", "上海"),
            ("service", "沈冰", "service", "服务保障部", "全国"),
            ("finance", "韦宁", "finance", "财务部", "全国"),
        ),
    ),
))


def get_mode(key: str) -> BusinessMode:
    try:
        return MODES[key]
    except KeyError:
        raise KeyError(f"unknown business mode {key!r}; known: {', '.join(MODES)}") from None


def mode_choices() -> list[tuple[str, str]]:
    return [(m.key, f"{m.name_zh} / {m.name_en}") for m in MODES.values()]
