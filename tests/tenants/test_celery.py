import pytest

from tenants.models import Tenant
from tenants.tasks import tenants_fan_out_task

pytestmark = pytest.mark.django_db


def test_fan_out_runs_the_task_once_in_each_active_tenant_schema(tenant_a, tenant_b, user_in, web_as):
    web_as(tenant_a, user_in(tenant_a, "sales"))  # a sign-in in alpha
    count = tenants_fan_out_task.apply(args=("org.usage_report",)).get()
    assert count == Tenant.objects.active().count() >= 2
    alpha = Tenant.objects.get(pk=tenant_a.pk)
    beta = Tenant.objects.get(pk=tenant_b.pk)
    assert alpha.usage["staff_active"] == 9 and beta.usage["staff_active"] == 7
    assert alpha.last_activity_at is not None
    template = Tenant.objects.get(is_template=True)
    assert template.usage == {}  # the template is never a target


def test_fan_out_refuses_an_unknown_task_name(tenant_a):
    with pytest.raises(KeyError):
        tenants_fan_out_task.apply(args=("no.such.task",)).get()


def test_tasks_have_explicit_names_and_limits():
    from config.celery import app

    app.loader.import_default_modules()
    for name in ("tenants.provision", "tenants.fan_out", "org.usage_report"):
        task = app.tasks[name]
        assert task.name == name
        assert task.time_limit and task.soft_time_limit
