"""Generate realistic Chinese customers and contacts into ONE benchmark tenant, fast.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/qiao_bench REDIS_URL=redis://127.0.0.1:6379/7 \\
        .venv/bin/python tests/perf/gen_customers.py --customers 1000000 --contacts 2000000 --activities 5000000

Companies are put together from realistic parts (city + brand words + industry + legal form,
sometimes 品牌+行业（城市）+法律形式; ~2 % are the same company entered again under another legal
form, half of those with the same phone, as before a go-live clean-up), people from common surnames and given names; mobile
and landline phones written in the usual styles (138-0013-8000, 0755-2878 0808, +86 ...),
e-mails, valid unified social credit codes (check character from
crm.customers.normalize.credit_code_check_char). Owners: a few hundred salespeople spread over a
region tree (全国 > 大区 > 省 > 市) with regional managers and an executive; ~5 % of customers
sit in the shared pool.

Speed: rows are written with COPY (psycopg ``cursor.copy``) with the search ``tsvector``
precomputed in Python (the same tokens as crm.customers.search.customer_tokens /
contact_tokens, but pinyin is looked up per name part instead of per row; the bench checks a
sample against the real functions). Secondary indexes are dropped before the load and built
again afterwards (with a large maintenance_work_mem), foreign-key triggers are skipped
(session_replication_role = replica; the generator only writes ids it made), then
VACUUM ANALYZE (autovacuum may be off).

Activities (``--activities``, 5,000,000 in the issue): visits, calls, meetings, notes and
e-mails with Chinese subjects, outcomes and next steps, spread over each customer's life and
ending at its ``last_activity_at`` (customers without one get none, or old ones if they sit in
the pool); owner, department and region are the customer's owner's; about 12 % of visits and
meetings have one or two colleagues as participants; ~0.5 % are planned visits in the coming
two weeks.

The tenant is ``bench-cust`` (schema t_bench_cust); a tenant of the same size is reused unless
--fresh; --drop removes it.
"""

from __future__ import annotations

import argparse
import io
import random
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import benchlib as bl  # noqa: E402

SLUG = "bench-cust"
PASSWORD = bl.BENCH_PASSWORD

# -- vocabulary -----------------------------------------------------------------------------------
# 大区 -> 省 -> [(市, 区号, 行政区划代码前 6 位)]
GEO = {
    "华北大区": {"北京": [("北京", "010", "110105")], "天津": [("天津", "022", "120101")],
               "河北": [("石家庄", "0311", "130102"), ("唐山", "0315", "130202"), ("保定", "0312", "130602")],
               "山西": [("太原", "0351", "140105")]},
    "华东大区": {"上海": [("上海", "021", "310115")],
               "江苏": [("南京", "025", "320102"), ("苏州", "0512", "320505"), ("无锡", "0510", "320214"),
                      ("常州", "0519", "320402")],
               "浙江": [("杭州", "0571", "330106"), ("宁波", "0574", "330203"), ("温州", "0577", "330302")],
               "山东": [("济南", "0531", "370102"), ("青岛", "0532", "370202"), ("烟台", "0535", "370602")],
               "安徽": [("合肥", "0551", "340102")], "福建": [("福州", "0591", "350102"), ("厦门", "0592", "350203")]},
    "华南大区": {"广东": [("广州", "020", "440106"), ("深圳", "0755", "440305"), ("东莞", "0769", "441900"),
                        ("佛山", "0757", "440604"), ("珠海", "0756", "440402")],
               "广西": [("南宁", "0771", "450102")], "海南": [("海口", "0898", "460105")]},
    "华中大区": {"湖北": [("武汉", "027", "420106"), ("宜昌", "0717", "420502")],
               "湖南": [("长沙", "0731", "430102"), ("株洲", "0731", "430202")],
               "河南": [("郑州", "0371", "410105"), ("洛阳", "0379", "410302")], "江西": [("南昌", "0791", "360102")]},
    "西南大区": {"四川": [("成都", "028", "510104"), ("绵阳", "0816", "510703")], "重庆": [("重庆", "023", "500103")],
               "云南": [("昆明", "0871", "530102")], "贵州": [("贵阳", "0851", "520102")]},
    "西北大区": {"陕西": [("西安", "029", "610102")], "甘肃": [("兰州", "0931", "620102")],
               "新疆": [("乌鲁木齐", "0991", "650102")]},
    "东北大区": {"辽宁": [("沈阳", "024", "210102"), ("大连", "0411", "210202")], "吉林": [("长春", "0431", "220102")],
               "黑龙江": [("哈尔滨", "0451", "230102")]},
}
BRAND_CHARS = ("华中信达联创恒泰金鑫宏远盛通隆兴瑞丰海天安嘉博源鼎力新汇合众思壮永昌明辉德润志诚"
               "美佳宝利凯盈东方南北高科龙腾飞扬万家鸿运福星聚鹏程卓越锦绣同济仁和百川启航智云"
               "长城腾讯阿里京易网星光伟业腾达正大天成华润中天盛世宏图国际环球亚太君诚立信广誉")
BRAND_WORDS = ("合众", "思壮", "华为", "中兴", "联想", "海尔", "美的", "格力", "长虹", "康佳", "创维", "比亚迪",
               "宇通", "三一", "中联", "徐工", "恒瑞", "复星", "万科", "绿地", "碧桂园", "金蝶", "用友", "浪潮",
               "曙光", "大华", "海康", "科大", "讯飞", "东软", "同方", "紫光", "方正", "神州", "太极", "银江",
               "千方", "四维", "高德", "博彦", "软通", "文思", "中软", "天融", "启明", "绿盟", "深信", "奇安")
INDUSTRIES = ("科技", "电子科技", "信息技术", "网络科技", "智能科技", "软件", "贸易", "商贸", "进出口贸易",
              "建筑工程", "建设工程", "装饰工程", "机械设备", "机电设备", "医疗器械", "生物科技", "医药",
              "食品", "农业发展", "物流", "供应链管理", "环保科技", "新能源", "新材料", "化工", "纺织",
              "服装", "汽车配件", "汽车销售服务", "文化传媒", "广告", "教育咨询", "企业管理咨询",
              "电气", "自动化", "仪器仪表", "光电", "通信技术", "实业", "投资", "房地产开发", "酒店管理",
              "餐饮管理", "包装材料", "五金制品", "塑胶制品", "家具", "印刷", "电力工程", "水务")
INDUSTRY_LABEL = ("信息技术", "批发零售", "建筑", "制造业", "医疗健康", "物流", "能源", "文化教育", "金融投资", "其他")
LEGAL = (("有限公司", 62), ("股份有限公司", 12), ("有限责任公司", 10), ("集团有限公司", 4), ("科技有限公司", 6),
         ("分公司", 2), ("厂", 2), ("商行", 2))
SURNAMES = ("王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程"
            "苏魏吕丁任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付方白邹孟熊秦邱江尹薛闫段雷侯龙史陶黎贺顾毛郝龚邵")
GIVEN = ("伟芳娜敏静丽强磊军洋勇艳杰娟涛明超秀霞平刚桂英华玉萍红建文辉力鹏飞斌宇浩凯健俊帆帅"
         "旭宁龙林欣怡佳琪雪梅婷晨阳子涵思远博文浩然志强海燕丹丹晓东晓明国华春梅建国建华")
TITLES = ("总经理", "副总经理", "采购经理", "采购主管", "技术总监", "财务总监", "IT 经理", "行政主管", "董事长",
          "销售总监", "项目经理", "工程师", "办公室主任", "生产经理", "质量经理")
DEPTS = ("总经办", "采购部", "技术部", "财务部", "信息中心", "行政部", "生产部", "销售部", "工程部", "质量部")
ROLES = ("decision_maker", "influencer", "user", "purchaser", "technical", "other", "")
STAGES = ("prospect", "lead", "opportunity", "customer", "vip", "lost")
SOURCES = ("展会", "官网", "转介绍", "电话营销", "老客户", "招投标", "渠道", "")
ROADS = ("人民路", "解放路", "中山路", "建设路", "科技园路", "高新大道", "长江路", "黄河路", "新华路", "工业大道")
DISTRICTS = ("高新区", "经济开发区", "城区", "新区", "工业园区")
EMAIL_PREFIX = ("info", "sales", "contact", "service", "hr", "admin", "market", "office")
TLDS = ("com", "cn", "com.cn", "net")
MOBILE_PREFIX = ("130", "131", "132", "133", "135", "136", "137", "138", "139", "147", "150", "151", "152", "155",
                 "156", "157", "158", "159", "166", "170", "176", "177", "178", "180", "181", "182", "183", "185",
                 "186", "187", "188", "189", "191", "198", "199")
CREDIT_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"


# -- tokens (vectorised equivalent of crm.customers.search) ---------------------------------------
class Tokeniser:
    """Search tokens from name *parts* whose folded text and pinyin are looked up once."""

    def __init__(self):
        from pypinyin import Style, lazy_pinyin

        from crm.customers import search

        self._search = search
        self._lazy = lazy_pinyin
        self._style = Style.FIRST_LETTER
        self._parts: dict[str, tuple[str, list[str], list[str]]] = {}

    def part(self, text: str):
        got = self._parts.get(text)
        if got is None:
            folded = self._search._fold(text)
            if self._search._CJK.search(folded):
                syl = [s for s in self._lazy(folded, errors="ignore") if s]
                ini = [s[0] for s in self._lazy(folded, style=self._style, errors="ignore") if s]
            else:
                syl, ini = [], []
            got = self._parts[text] = (folded, syl, ini)
        return got

    def name(self, parts, into: set[str]) -> None:
        text = "".join(p[0] for p in parts)
        if not text:
            return
        into.update("u:" + ch for ch in text)
        into.update("b:" + text[i:i + 2] for i in range(len(text) - 1))
        syl = [s for p in parts for s in p[1]]
        if syl:
            ini = [s for p in parts for s in p[2]]
            for i in range(len(syl)):
                into.add("p:" + "".join(syl[i:])[:60])
            for i in range(len(ini)):
                into.add("p:" + "".join(ini[i:])[:60])
        else:
            into.add("p:" + text[:60])

    @staticmethod
    def digits(digits: str, into: set[str]) -> None:
        into.update("d:" + digits[i:i + 4] for i in range(len(digits) - 3))


ANCESTORS: dict[str, dict[int, tuple[int, ...]]] = {"department": {}, "region": {}}  # filled by _owners()


def scope_tokens(owner_id, department_id, region_id) -> set[str]:
    """As crm.customers.search.scope_tokens (the owner; the department and region with their
    ancestors, from the paths read once)."""
    tokens = {f"so:{owner_id}"} if owner_id else set()
    tokens.update(f"sd:{pk}" for pk in ANCESTORS["department"].get(department_id, ()))
    tokens.update(f"sr:{pk}" for pk in ANCESTORS["region"].get(region_id, ()))
    return tokens


def tsvector_literal(tokens) -> str:
    return " ".join("'" + t.replace("\\", "\\\\").replace("'", "''") + "'" for t in tokens)


def copy_text(value) -> str:
    r"""One field of COPY's text format (\N for NULL)."""
    if value is None:
        return "\\N"
    s = str(value)
    if "\\" in s or "\t" in s or "\n" in s or "\r" in s:
        s = s.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
    return s


def pg_array(values) -> str:
    return "{" + ",".join('"' + v.replace("\\", "\\\\").replace('"', '\\"') + '"' for v in values) + "}"


# -- phones, codes --------------------------------------------------------------------------------
def mobile(rng: random.Random) -> str:
    number = rng.choice(MOBILE_PREFIX) + f"{rng.randrange(10 ** 8):08d}"
    style = rng.random()
    if style < 0.5:
        return number
    if style < 0.8:
        return f"{number[:3]}-{number[3:7]}-{number[7:]}"
    if style < 0.95:
        return f"{number[:3]} {number[3:7]} {number[7:]}"
    return f"+86 {number}"


def landline(rng: random.Random, area: str) -> str:
    local = f"{rng.randrange(2, 9)}{rng.randrange(10 ** 7):07d}"
    if len(area) == 4:
        local = local[:7]
    style = rng.random()
    if style < 0.6:
        return f"{area}-{local}"
    if style < 0.85:
        return f"{area}-{local[:4]} {local[4:]}"
    return f"({area}){local}"


def credit_code(serial: int, area6: str) -> str:
    from crm.customers.normalize import credit_code_check_char

    body, n = [], serial * 7919 + 104729  # spread the serials over the 9-character org code
    for _ in range(9):
        n, r = divmod(n, 31)
        body.append(CREDIT_ALPHABET[r])
    first17 = "91" + area6 + "".join(reversed(body))
    return first17 + credit_code_check_char(first17)


# -- the tenant and its staff ---------------------------------------------------------------------
def tenant_get():
    return bl.bench_tenant_get(SLUG)


def use_slug(slug: str) -> None:
    """Another bench tenant (e.g. a small one next to the full-size one)."""
    global SLUG
    assert slug.startswith("bench-cust"), slug
    SLUG = slug


def tenant_make():
    from django.db import connection

    tenant = bl.bench_tenant_create(SLUG, "基准客户数据有限公司")
    _staff_make(random.Random(7))
    connection.set_schema_to_public()
    return tenant


def _staff_make(rng: random.Random, salespeople: int = 300) -> None:
    """大区/省/市 regions, a department per 大区, 300 salespeople over the cities, a regional
    manager per 大区 (region scope) and an executive (all)."""
    from django.contrib.auth.hashers import make_password

    from crm.org.enums import SystemRole
    from crm.org.models import Department, Region
    from crm.org.services import department_create, region_create, staff_create

    pw = make_password(PASSWORD)
    root_region = Region.objects.get(parent=None)
    root_dept = Department.objects.filter(parent=None).first()
    cities = []
    for n, (big, provinces) in enumerate(GEO.items()):
        big_region = region_create(actor=None, name=big, parent_id=root_region.pk)
        dept = department_create(actor=None, name=big.replace("大区", "销售部"), parent_id=root_dept.pk)
        staff_create(actor=None, email=f"manager{n}@bench-cust.test", full_name=f"{big}经理",
                     role_codes=[SystemRole.REGIONAL_MANAGER], department_id=dept.pk,
                     region_id=big_region.pk, password_hash=pw)
        for province, city_list in provinces.items():
            prov = region_create(actor=None, name=province, parent_id=big_region.pk)
            for city, _area, _code in city_list:
                node = prov if city == province else region_create(actor=None, name=city, parent_id=prov.pk)
                cities.append((node, dept))
    staff_create(actor=None, email="exec@bench-cust.test", full_name="基准高管", role_codes=[SystemRole.EXECUTIVE],
                 department_id=root_dept.pk, region_id=root_region.pk, password_hash=pw)
    for i in range(salespeople):
        node, dept = cities[i % len(cities)]
        staff_create(actor=None, email=f"sales{i}@bench-cust.test",
                     full_name=rng.choice(SURNAMES) + rng.choice(GIVEN) + rng.choice(GIVEN),
                     role_codes=[SystemRole.SALESPERSON], department_id=dept.pk, region_id=node.pk,
                     password_hash=pw)


# -- the load -------------------------------------------------------------------------------------
CUSTOMER_COLUMNS = ("id", "kind", "name", "short_name", "credit_code", "phone", "email", "industry", "region_id",
                    "address", "source", "stage", "level", "tags", "owner_id", "department_id", "custom", "notes",
                    "external_id", "name_norm", "phone_digits", "pinyin_key", "search_vector", "last_activity_at", "released_at",
                    "released_from_id", "pool_warned_at", "merged_into_id", "merged_at", "created_by_id",
                    "created_at", "updated_at", "version")
ACTIVITY_COLUMNS = ("id", "kind", "customer_id", "contact_id", "subject", "body", "occurred_at", "duration_minutes",
                    "outcome", "next_step", "next_step_at", "follow_up_task_id", "planned", "planned_by_id",
                    "completed_at", "owner_id", "department_id", "region_id", "created_by_id", "created_at",
                    "updated_at", "version", "cancel_reason")
PARTICIPANT_COLUMNS = ("id", "activity_id", "user_id")
CONTACT_COLUMNS = ("id", "customer_id", "name", "title", "department", "role", "phones", "emails", "wechat",
                   "birthday", "notes", "is_active", "search_vector", "created_by_id", "created_at", "updated_at",
                   "version")

NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def _ts(dt: datetime) -> str:
    return dt.strftime("%Y-%m-%d %H:%M:%S.%f+00")


def _owners():
    """(user id, region id, department id) of every salesperson, and a city lookup by region."""
    from crm.org.models import Department, Region, User

    sales = list(User.objects.filter(email__startswith="sales").values_list("id", "region_id", "department_id"))
    for kind, model in (("department", Department), ("region", Region)):
        ANCESTORS[kind] = {pk: tuple(int(p) for p in path.split(".") if p)
                           for pk, path in model.objects.values_list("pk", "path")}
    by_name = {r.name: r.pk for r in Region.objects.all()}
    return sales, by_name


def customer_rows(n: int, rng: random.Random, tok: Tokeniser, owners, start_id: int = 1):
    """Yield COPY text lines of customers (and remember what the contacts need). ``owners``
    is read before the COPY starts: no other query may run on the connection during it."""
    from crm.customers.normalize import company_name_normalize, phone_digits
    from crm.customers.search import pinyin_key

    sales, region_ids = owners
    cities = [(city, area, code, province) for big in GEO.values() for province, lst in big.items()
              for city, area, code in lst]
    by_region = {}
    for uid, rid, did in sales:
        by_region.setdefault(rid, []).append((uid, rid, did))
    city_region = {c[0]: region_ids.get(c[0]) or region_ids.get(c[3]) for c in cities}
    legal_forms = [f for f, w in LEGAL for _ in range(w)]
    span = 3 * 365 * 86400
    recent: list[tuple] = []  # the last companies made: duplicates are planted from here
    for i in range(start_id, start_id + n):
        city, area, code6, province = rng.choice(cities)
        if rng.random() < 0.7:
            brand = rng.choice(BRAND_CHARS) + rng.choice(BRAND_CHARS)
        else:
            brand = rng.choice(BRAND_WORDS) + (rng.choice(BRAND_CHARS) if rng.random() < 0.3 else "")
        industry = rng.choice(INDUSTRIES)
        planted = recent and rng.random() < 0.02
        if planted:  # the same company entered again (another legal form, another owner)
            (city, area, code6, province), brand, industry, _phone = rng.choice(recent)
        legal = rng.choice(legal_forms)
        if industry.endswith("科技") and legal == "科技有限公司":
            legal = "有限公司"
        individual = rng.random() < 0.05
        if individual:
            name_parts = (rng.choice(SURNAMES), rng.choice(GIVEN) + (rng.choice(GIVEN) if rng.random() < 0.6 else ""))
            name = "".join(name_parts)
            short = ""
        elif rng.random() < 0.15:
            name_parts = (brand, industry, f"（{city}）", legal)
            name = "".join(name_parts)
            short = brand
        else:
            name_parts = (city, brand, industry, legal)
            name = "".join(name_parts)
            short = brand if rng.random() < 0.6 else ""
        phone = mobile(rng) if individual or rng.random() < 0.55 else landline(rng, area)
        if planted and rng.random() < 0.5:
            phone = recent[-1][3] if rng.random() < 0.2 else rng.choice(recent)[3]
        if not individual:
            recent.append(((city, area, code6, province), brand, industry, phone))
            if len(recent) > 2000:
                del recent[:1000]
        digits = phone_digits(phone)
        brand_py = "".join(tok.part(brand)[1]) or "corp"
        email = ""
        if rng.random() < 0.5:
            email = f"{rng.choice(EMAIL_PREFIX)}{rng.randrange(100) if rng.random() < 0.5 else ''}@" \
                    f"{brand_py}{rng.randrange(1000)}.{rng.choice(TLDS)}"
        code = credit_code(i, code6) if not individual and rng.random() < 0.8 else None
        # owner: a salesperson of the customer's city (or any), 5 % in the pool
        rid = city_region[city]
        if rng.random() < 0.05:
            owner = None
        else:
            local = by_region.get(rid)
            owner = rng.choice(local) if local and rng.random() < 0.9 else rng.choice(sales)
        created = NOW - timedelta(seconds=rng.randrange(span))
        updated = created + timedelta(seconds=rng.randrange(max(1, int((NOW - created).total_seconds()))))
        tokens: set[str] = set()
        tok.name([tok.part(p) for p in name_parts], tokens)
        if short:
            tok.name([tok.part(short)], tokens)
        tok.digits(digits, tokens)
        if email:
            tokens.add("e:" + email.lower())
        if code:
            tokens.add("c:" + code)
        tokens.update(scope_tokens(owner[0] if owner else None, owner[2] if owner else None, rid))
        last = updated - timedelta(days=rng.randrange(60)) if rng.random() < 0.8 else None
        norm = company_name_normalize(name)
        row = (i, "individual" if individual else "company", name, short, code, phone, email,
               rng.choice(INDUSTRY_LABEL), rid,
               f"{province}{city}{rng.choice(DISTRICTS)}{rng.choice(ROADS)}{rng.randrange(1, 999)}号",
               rng.choice(SOURCES), rng.choice(STAGES), rng.choice("ABCD") if rng.random() < 0.7 else "",
               pg_array(rng.sample(("重点", "华为生态", "老客户", "招投标", "渠道", "政府"), rng.randrange(3))),
               owner[0] if owner else None, owner[2] if owner else None, "{}", "", None,
               norm, digits, pinyin_key(short, norm), tsvector_literal(sorted(tokens)),
               _ts(last) if last and owner else None,
               _ts(updated) if owner is None else None, None, None, None, None, None,
               _ts(created), _ts(updated), 1)
        yield "\t".join(copy_text(v) for v in row) + "\n", (
            brand_py, email.split("@")[1] if email else "",
            (owner[0], owner[2], rid) if owner else (None, None, rid), created, last if owner else updated)


def contact_rows(n: int, customers: int, domains: list, rng: random.Random, tok: Tokeniser,
                 first_contact: list | None = None, scopes: list | None = None):
    from crm.customers.normalize import phone_digits

    span = 3 * 365 * 86400
    for i in range(1, n + 1):
        customer_id = rng.randrange(1, customers + 1)
        if first_contact is not None and first_contact[customer_id - 1] is None:
            first_contact[customer_id - 1] = i
        sur, given = rng.choice(SURNAMES), rng.choice(GIVEN) + (rng.choice(GIVEN) if rng.random() < 0.65 else "")
        name = sur + given
        phones = [mobile(rng)]
        if rng.random() < 0.25:
            phones.append(mobile(rng))
        emails = []
        brand_py, domain = domains[customer_id - 1] if domains else ("corp", "")
        if rng.random() < 0.5:
            py = "".join(tok.part(sur)[1] + tok.part(given)[1])
            emails.append(f"{py}{rng.randrange(100) if rng.random() < 0.3 else ''}@{domain or brand_py + '.com'}")
        tokens: set[str] = set()
        tok.name([tok.part(sur), tok.part(given)], tokens)
        for p in phones:
            tok.digits(phone_digits(p), tokens)
        tokens.update("e:" + e.lower() for e in emails)
        if scopes:
            owner_id, department_id, region_id = scopes[customer_id - 1][0]
            tokens.update(scope_tokens(owner_id, department_id, region_id))
        created = NOW - timedelta(seconds=rng.randrange(span))
        updated = created + timedelta(seconds=rng.randrange(max(1, int((NOW - created).total_seconds()))))
        row = (i, customer_id, name, rng.choice(TITLES), rng.choice(DEPTS), rng.choice(ROLES), pg_array(phones),
               pg_array(emails), "", None, "", "t", tsvector_literal(sorted(tokens)), None, _ts(created),
               _ts(updated), 1)
        yield "\t".join(copy_text(v) for v in row) + "\n"


VISIT_TOPICS = ("年度采购计划", "新品演示", "技术方案交流", "报价澄清", "合同条款", "售后回访", "项目进度",
                "付款安排", "招标准备", "样品测试反馈", "续约", "扩容需求", "培训安排", "竞品对比")
OUTCOMES = ("客户认可方案，等待内部审批", "需要补充技术参数", "价格偏高，需重新报价", "已确认采购数量",
            "关键人出差，改期再谈", "客户满意，可推荐同行", "项目暂缓到下季度", "已签意向书", "")
NEXT_STEPS = ("发送正式报价", "安排技术交流", "寄送样品", "约见采购负责人", "准备合同草稿", "跟进付款",
              "邀请参加展会", "提交投标文件", "")
KIND_WEIGHTS = (("visit", 30), ("call", 35), ("meeting", 8), ("note", 17), ("email", 10))


def activity_rows(n: int, customers: list, first_contact: list, sales_ids: list, rng: random.Random,
                  participants: list):
    """COPY lines of exactly ``n`` activities over ``customers`` ((owner, dept, region),
    created, last), about n / len(customers) each (skewed: many have few, some many), the
    newest at the customer's ``last``. Participant rows (activity id, user id) are appended to
    ``participants``."""
    kinds = [k for k, w in KIND_WEIGHTS for _ in range(w)]
    with_history = [i for i, c in enumerate(customers) if c[2] is not None]
    mean = n / max(1, len(with_history))
    plan = [0] * len(customers)
    total = 0
    for i in with_history:
        k = min(int(rng.expovariate(1 / mean)), n - total) if mean > 0 else 0
        plan[i] = k
        total += k
        if total >= n:
            break
    while total < n and with_history:
        plan[rng.choice(with_history)] += 1
        total += 1
    made = 0
    for index, k in enumerate(plan):
        if not k:
            continue
        (owner, dept, region), created, last = customers[index]
        span = max(1, int((last - created).total_seconds()))
        for j in range(k):
            made += 1
            at = last if j == 0 else last - timedelta(seconds=rng.randrange(span))
            kind = rng.choice(kinds)
            topic = rng.choice(VISIT_TOPICS)
            planned = kind == "visit" and rng.random() < 0.005
            if planned:
                at = NOW + timedelta(hours=rng.randrange(1, 14 * 24))
            actor = owner or rng.choice(sales_ids)
            subject = {"visit": "拜访：", "call": "电话沟通：", "meeting": "会议：", "note": "备注：",
                       "email": "邮件："}[kind] + topic
            outcome = "" if planned else rng.choice(OUTCOMES)
            step = "" if planned else rng.choice(NEXT_STEPS)
            stamp = _ts(NOW if planned else at)
            row = (made, kind, index + 1, first_contact[index] if rng.random() < 0.7 else None, subject,
                   f"与客户就{topic}进行了沟通。" if not planned and rng.random() < 0.6 else "",
                   _ts(at), rng.choice((15, 30, 45, 60, 90, 120)) if kind in ("visit", "meeting") else None,
                   outcome, step, _ts(at + timedelta(days=rng.randrange(1, 15))) if step else None, None,
                   "t" if planned else "f", actor if planned else None, None, actor, dept, region, actor,
                   stamp, stamp, 1, "")
            if kind in ("visit", "meeting") and rng.random() < 0.12:
                for other in rng.sample(sales_ids, rng.choice((1, 1, 2))):
                    if other != actor:
                        participants.append((made, other))
            yield "\t".join(copy_text(v) for v in row) + "\n"



def _copy(raw, table: str, columns, lines, batch_bytes: int = 4 << 20) -> None:
    cols = ", ".join(f'"{c}"' for c in columns)
    with raw.cursor() as cur, cur.copy(f"COPY {table} ({cols}) FROM STDIN") as copy:
        buf, size = io.StringIO(), 0
        for line in lines:
            buf.write(line)
            size += len(line)
            if size >= batch_bytes:
                copy.write(buf.getvalue())
                buf, size = io.StringIO(), 0
        if size:
            copy.write(buf.getvalue())


TABLES = ("customers_customer", "customers_contact", "customers_contactphonegram", "customers_customernamegram",
          "activities_activity",
          "activities_activity_participants")
GRAM_BATCH = 50000  # contacts per statement filling customers_contactphonegram


def load(tenant, customers: int, contacts: int, activities: int = 0, seed: int = 42) -> dict:
    """Replace the tenant's customers, contacts and activities with generated ones."""
    from django.db import connection

    rng = random.Random(seed)
    tok = Tokeniser()
    timings = {}
    connection.set_tenant(tenant)
    schema = tenant.schema_name
    connection.ensure_connection()
    raw = connection.connection  # psycopg 3
    t0 = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE activities_activity_participants, activities_activity, "
                       "customers_contactemployment, customers_ownershipchange, customers_mergerecord, "
                       "customers_contact, customers_customer CASCADE")
        dropped = bl.indexes_drop_for_load(cursor, schema, TABLES)
        cursor.execute("SET session_replication_role = replica")  # no FK triggers during the load
    domains = []
    history = []  # per customer: (owner, department, region), created, last activity
    owners = _owners()
    started = time.perf_counter()

    def customer_lines():
        for line, info in customer_rows(customers, rng, tok, owners):
            domains.append(info[:2])
            history.append(info[2:])
            yield line

    _copy(raw, f'"{schema}".customers_customer', CUSTOMER_COLUMNS, customer_lines())
    timings["customers COPY"] = time.perf_counter() - started
    started = time.perf_counter()
    first_contact = [None] * customers
    _copy(raw, f'"{schema}".customers_contact', CONTACT_COLUMNS,
          contact_rows(contacts, customers, domains, rng, tok, first_contact, history))
    timings["contacts COPY"] = time.perf_counter() - started
    domains.clear()
    # The contacts' phone grams (ContactPhoneGram) from their d: tokens, as the migration
    # that created the table fills it (crm.customers.search.contact_phone_grams_fill).
    from crm.customers.search import contact_phone_grams_fill

    started, after = time.perf_counter(), 0
    with connection.cursor() as cursor:
        while after is not None:
            after = contact_phone_grams_fill(cursor, after=after, batch=GRAM_BATCH)
    timings["contact phone grams"] = time.perf_counter() - started
    # The customers' name grams (CustomerNameGram) from their b: tokens, likewise.
    from crm.customers.search import customer_name_grams_fill

    started, after = time.perf_counter(), 0
    with connection.cursor() as cursor:
        while after is not None:
            after = customer_name_grams_fill(cursor, after=after, batch=GRAM_BATCH)
    timings["customer name grams"] = time.perf_counter() - started
    if activities:
        started = time.perf_counter()
        participants: list[tuple[int, int]] = []
        sales_ids = [uid for uid, _rid, _did in owners[0]]
        _copy(raw, f'"{schema}".activities_activity', ACTIVITY_COLUMNS,
              activity_rows(activities, history, first_contact, sales_ids, rng, participants))
        _copy(raw, f'"{schema}".activities_activity_participants', PARTICIPANT_COLUMNS,
              (f"{n}\t{a}\t{u}\n" for n, (a, u) in enumerate(participants, 1)))
        timings["activities COPY"] = time.perf_counter() - started
    history.clear()  # free the memory before the index builds
    first_contact.clear()
    with connection.cursor() as cursor:
        cursor.execute("SET session_replication_role = DEFAULT")
        for table in TABLES:
            if table in ("customers_contactphonegram", "customers_customernamegram"):
                continue  # no id column (the primary key is (contact, gram))
            cursor.execute(f"SELECT setval(pg_get_serial_sequence('\"{schema}\".{table}', 'id'), "
                           f"(SELECT coalesce(max(id), 1) FROM \"{schema}\".{table}))")
        started = time.perf_counter()
        cursor.execute("SET maintenance_work_mem = '1GB'")
        cursor.execute("SET max_parallel_maintenance_workers = 1")
        for definition in dropped:
            cursor.execute(definition)
        timings["indexes rebuilt"] = time.perf_counter() - started
    # VACUUM cannot run inside a transaction block (Django's connection autocommits here)
    started = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute("VACUUM ANALYZE " + ", ".join(f'"{schema}".{table}' for table in TABLES))
    timings["vacuum analyze"] = time.perf_counter() - started
    timings["total"] = time.perf_counter() - t0
    connection.set_schema_to_public()
    return timings


def sizes(tenant) -> dict[str, tuple[int, int]]:
    from django.db import connection

    with connection.cursor() as cursor:
        out = {}
        for table in TABLES:
            cursor.execute("SELECT pg_total_relation_size(%s::regclass), pg_relation_size(%s::regclass)",
                           [f'"{tenant.schema_name}".{table}'] * 2)
            out[table] = cursor.fetchone()
        return out


def counts(tenant) -> tuple[int, int, int]:
    from django.db import connection

    schema = tenant.schema_name
    with connection.cursor() as cursor:
        cursor.execute(f'SELECT (SELECT count(*) FROM "{schema}".customers_customer), '
                       f'(SELECT count(*) FROM "{schema}".customers_contact), '
                       f'(SELECT count(*) FROM "{schema}".activities_activity)')
        return cursor.fetchone()


def ensure(customers: int, contacts: int, activities: int = 0, *, fresh: bool = False, seed: int = 42):
    """The bench tenant with this many customers, contacts and activities (reused when it
    already has them). The public and template schemas are set up first, and a reused tenant
    is brought up to date with the code's migrations."""
    from django.core.management import call_command

    bl.ensure_prerequisites()
    tenant = tenant_get()
    if tenant is not None:
        call_command("migrate_schemas", schema_name=tenant.schema_name, interactive=False, verbosity=0)
    if tenant is not None and not fresh and counts(tenant) == (customers, contacts, activities):
        bl.say(f"reusing tenant {SLUG}: {customers:,} customers, {contacts:,} contacts, "
               f"{activities:,} activities")
        return tenant, None
    if tenant is None:
        tenant = tenant_make()
    bl.say(f"generating {customers:,} customers, {contacts:,} contacts and {activities:,} activities "
           f"into {SLUG} ...")
    timings = load(tenant, customers, contacts, activities, seed=seed)
    bl.say("  " + ", ".join(f"{k} {bl.fmt_s(v)}" for k, v in timings.items()))
    return tenant, timings


def drop() -> None:
    bl.cleanup(SLUG, quiet=True)


def report_size(tenant) -> list[str]:
    lines = []
    total = 0
    for table, (all_bytes, heap) in sizes(tenant).items():
        total += all_bytes
        lines.append(f"  {table}: {all_bytes / 2**20:,.0f} MB (heap {heap / 2**20:,.0f} MB, "
                     f"indexes+toast {(all_bytes - heap) / 2**20:,.0f} MB)")
    lines.append(f"  data size on disk (pg_total_relation_size, customers + contacts + phone grams + activities): "
                 f"{total / 2**20:,.0f} MB")
    return lines


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--customers", type=int, default=20000)
    parser.add_argument("--contacts", type=int, default=40000)
    parser.add_argument("--activities", type=int, default=0)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--fresh", action="store_true", help="regenerate even if the tenant has this size")
    parser.add_argument("--drop", action="store_true", help="remove the bench tenant and stop")
    parser.add_argument("--slug", default=SLUG, help="the bench tenant (bench-cust...)")
    args = parser.parse_args(argv)
    use_slug(args.slug)
    bl.django_setup()
    if args.drop:
        drop()
        bl.say(f"dropped tenant {SLUG}")
        return 0
    bl.say(f"command: DATABASE_URL=... REDIS_URL=... .venv/bin/python tests/perf/gen_customers.py "
           f"--customers {args.customers} --contacts {args.contacts} --activities {args.activities} "
           f"--seed {args.seed} --slug {args.slug}")
    tenant, _t = ensure(args.customers, args.contacts, args.activities, fresh=args.fresh, seed=args.seed)
    for line in report_size(tenant):
        bl.say(line)
    return 0


if __name__ == "__main__":
    sys.exit(main())
