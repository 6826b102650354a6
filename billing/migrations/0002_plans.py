from decimal import Decimal

from django.db import migrations

ALL = ["customers", "activities", "sales", "orders", "finance", "partners", "analytics", "integrations"]
PLANS = [
    dict(code="trial", name="免费试用", name_en="Free trial", sort_order=0, is_trial=True, trial_days=14,
         price_monthly=Decimal("0"), price_yearly=Decimal("0"), staff_seats=10, partner_users=20,
         modules=ALL,
         description="14 天体验全部功能，无需绑定银行卡；到期后选择套餐继续使用。",
         description_en="Every feature for 14 days, no card needed; pick a plan to carry on."),
    dict(code="standard", name="标准版", name_en="Standard", sort_order=10, trial_days=0,
         price_monthly=Decimal("990.00"), price_yearly=Decimal("9900.00"), staff_seats=10, partner_users=20,
         modules=["customers", "activities", "sales", "orders", "finance"],
         description="客户、拜访、商机报价、订单审批与回款，适合 10 人以内的销售团队。",
         description_en="Customers, visits, opportunities and quotes, orders with approvals, "
                        "invoicing and collection for sales teams of up to 10."),
    dict(code="professional", name="专业版", name_en="Professional", sort_order=20, trial_days=0,
         price_monthly=Decimal("2990.00"), price_yearly=Decimal("29900.00"), staff_seats=50, partner_users=200,
         modules=["customers", "activities", "sales", "orders", "finance", "partners", "analytics"],
         description="在标准版之上增加渠道伙伴门户与经营分析，适合 50 人以内、有经销商的企业。",
         description_en="Standard plus the partner portal and analytics, for up to 50 staff with distributors."),
    dict(code="enterprise", name="旗舰版", name_en="Enterprise", sort_order=30, trial_days=0,
         price_monthly=Decimal("7990.00"), price_yearly=Decimal("79900.00"), staff_seats=200, partner_users=2000,
         modules=ALL,
         description="全部功能，含 ERP 集成、Webhook 与 API，适合 200 人以内的大型团队。",
         description_en="Everything, including ERP integration, webhooks and the API, for up to 200 staff."),
]


def plans_create(apps, schema_editor):
    Plan = apps.get_model("billing", "Plan")
    for values in PLANS:
        Plan.objects.update_or_create(code=values["code"], defaults=values)


class Migration(migrations.Migration):
    dependencies = [("billing", "0001_initial")]
    operations = [migrations.RunPython(plans_create, migrations.RunPython.noop)]
