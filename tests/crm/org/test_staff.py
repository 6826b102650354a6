"""The tenant admin invites, edits and deactivates staff; every change is audited."""

import re

import pytest
from django.core import mail

from crm.audit.models import AuditEntry

pytestmark = pytest.mark.django_db


def test_admin_invites_staff_who_sets_a_password_and_signs_in(tenant_a, user_in, api_for,
                                                             django_capture_on_commit_callbacks, in_tenant):
    from django.test import Client

    api = api_for(tenant_a, user_in(tenant_a, "admin"))
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post("/api/v1/staff/", {"email": "New.Hire@Alpha.cn", "full_name": "新同事",
                                               "role_codes": ["salesperson"]}, format="json")
    assert response.status_code == 201, response.json()
    assert response.json()["email"] == "new.hire@alpha.cn"
    assert response.json()["roles"] == ["salesperson"]
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["new.hire@alpha.cn"]
    link = re.search(r"http://alpha\.localhost/reset/\S+/", mail.outbox[0].body).group(0)
    web = Client(HTTP_HOST="alpha.localhost")
    form = web.get(link.replace("http://alpha.localhost", ""), follow=True)
    assert form.status_code == 200
    done = web.post(form.redirect_chain[-1][0], {"new_password1": "Brand-new-pass-1",
                                                 "new_password2": "Brand-new-pass-1"})
    assert done.status_code == 302
    token = api_for(tenant_a).post("/api/v1/auth/token", {"email": "new.hire@alpha.cn",
                                                         "password": "Brand-new-pass-1"}, format="json")
    assert token.status_code == 200 and token.json()["token"]
    with in_tenant(tenant_a):
        entry = AuditEntry.objects.filter(object_id=str(response.json()["id"]), action="create").get()
        assert entry.actor.email == "admin@alpha.test"
        assert entry.changes["email"] == {"old": None, "new": "new.hire@alpha.cn"}
        assert entry.via == "api"


def test_invite_errors_are_400_and_name_the_field(tenant_a, user_in, api_for):
    api = api_for(tenant_a, user_in(tenant_a, "admin"))
    dup = api.post("/api/v1/staff/", {"email": "SALES@alpha.example.com", "full_name": "x",
                                      "role_codes": ["salesperson"]}, format="json")
    assert dup.status_code == 400 and "email" in dup.json()
    bad_role = api.post("/api/v1/staff/", {"email": "x@alpha.cn", "full_name": "x",
                                           "role_codes": ["overlord"]}, format="json")
    assert bad_role.status_code == 400 and "roles" in bad_role.json()
    bad_dept = api.post("/api/v1/staff/", {"email": "y@alpha.cn", "full_name": "y", "department_id": 99999,
                                           "role_codes": ["salesperson"]}, format="json")
    assert bad_dept.status_code == 400 and "department" in bad_dept.json()
    missing = api.post("/api/v1/staff/", {"email": "not-an-email"}, format="json")
    assert missing.status_code == 400 and {"email", "full_name", "role_codes"} <= set(missing.json())


def test_salesperson_cannot_manage_staff(tenant_a, user_in, api_for):
    sales = user_in(tenant_a, "sales")
    api = api_for(tenant_a, sales)
    assert api.post("/api/v1/staff/", {"email": "z@alpha.cn", "full_name": "z",
                                       "role_codes": ["salesperson"]}, format="json").status_code == 403
    colleague = user_in(tenant_a, "sales2")
    assert api.post(f"/api/v1/staff/{colleague.pk}/deactivate").status_code == 403
    assert api.patch(f"/api/v1/staff/{colleague.pk}/", {"full_name": "改名"}, format="json").status_code == 403
    # but may edit their own phone
    own = api.patch(f"/api/v1/staff/{sales.pk}/", {"phone": "138 0000 0000"}, format="json")
    assert own.status_code == 200 and own.json()["phone"] == "138 0000 0000"
    assert api.patch(f"/api/v1/staff/{sales.pk}/", {"role_codes": ["tenant_admin"]}, format="json").status_code == 403


def test_edit_is_audited_with_old_and_new_values_and_stale_versions_get_412(tenant_a, user_in, api_for, in_tenant):
    admin = user_in(tenant_a, "admin")
    sales = user_in(tenant_a, "sales")
    api = api_for(tenant_a, admin)
    version = api.get(f"/api/v1/staff/{sales.pk}/").json()["version"]
    ok = api.patch(f"/api/v1/staff/{sales.pk}/", {"title": "高级业务员", "version": version}, format="json")
    assert ok.status_code == 200 and ok.json()["version"] == version + 1
    stale = api.patch(f"/api/v1/staff/{sales.pk}/", {"title": "又改了"}, format="json",
                      HTTP_IF_MATCH=str(version))
    assert stale.status_code == 412 and stale.json()["code"] == "stale_version"
    trail = api.get(f"/api/v1/staff/{sales.pk}/audit").json()
    assert trail[0]["action"] == "update"
    assert trail[0]["changes"] == {"title": {"old": "", "new": "高级业务员"}}
    assert trail[0]["actor_label"] == "admin@alpha.test"
    with in_tenant(tenant_a):
        sales.refresh_from_db()
        assert sales.title == "高级业务员"


def test_audit_trail_is_readable_on_the_staff_page(tenant_a, user_in, web_as, api_for):
    admin = user_in(tenant_a, "admin")
    sales = user_in(tenant_a, "sales")
    api_for(tenant_a, admin).patch(f"/api/v1/staff/{sales.pk}/", {"phone": "13912345678"}, format="json")
    page = web_as(tenant_a, admin).get(f"/staff/{sales.pk}/").content.decode()
    assert 'data-testid="audit-trail"' in page and "13912345678" in page
    # a colleague without the permission sees the directory entry but not the trail
    other = web_as(tenant_a, user_in(tenant_a, "sales2")).get(f"/staff/{sales.pk}/")
    assert other.status_code == 200 and 'data-testid="audit-trail"' not in other.content.decode()
    assert api_for(tenant_a, user_in(tenant_a, "sales2")).get(f"/api/v1/staff/{sales.pk}/audit").status_code == 404


def test_last_tenant_admin_cannot_be_removed_or_deactivate_self(tenant_a, user_in, api_for):
    admin = user_in(tenant_a, "admin")
    api = api_for(tenant_a, admin)
    selfish = api.post(f"/api/v1/staff/{admin.pk}/deactivate")
    assert selfish.status_code == 400
    demote = api.patch(f"/api/v1/staff/{admin.pk}/", {"role_codes": ["salesperson"]}, format="json")
    assert demote.status_code == 400 and "roles" in demote.json()


def test_deactivate_and_reactivate_through_the_web(tenant_a, user_in, web_as, in_tenant):
    admin, sales2 = user_in(tenant_a, "admin"), user_in(tenant_a, "sales2")
    web = web_as(tenant_a, admin)
    assert web.post(f"/staff/{sales2.pk}/deactivate/", {"reason": "离职"}).status_code == 302
    with in_tenant(tenant_a):
        sales2.refresh_from_db()
        assert not sales2.is_active and sales2.deactivated_at
        entry = AuditEntry.objects.filter(object_id=str(sales2.pk), action="deactivate").get()
        assert entry.note == "离职" and entry.via == "web"
    assert web.post(f"/staff/{sales2.pk}/reactivate/").status_code == 302
    with in_tenant(tenant_a):
        sales2.refresh_from_db()
        assert sales2.is_active


def test_custom_role_from_permissions(tenant_a, user_in, api_for):
    api = api_for(tenant_a, user_in(tenant_a, "admin"))
    made = api.post("/api/v1/roles/", {"code": "hr", "name_zh": "人事", "name_en": "HR", "scope": "all",
                                       "permissions": ["org.manage_staff"]}, format="json")
    assert made.status_code == 201 and made.json()["is_system"] is False
    bad = api.post("/api/v1/roles/", {"code": "x", "name_zh": "x", "name_en": "x", "scope": "own",
                                      "permissions": ["launch.missiles"]}, format="json")
    assert bad.status_code == 400 and "permissions" in bad.json()
    hire = api.post("/api/v1/staff/", {"email": "hr@alpha.cn", "full_name": "人事专员",
                                       "role_codes": ["hr"]}, format="json")
    assert hire.status_code == 201
    assert api_for(tenant_a, user_in(tenant_a, "sales")).post(
        "/api/v1/roles/", {"code": "y", "name_zh": "y", "name_en": "y", "scope": "own", "permissions": []},
        format="json").status_code == 403


def test_department_tree_moves_keep_subtrees(tenant_a, user_in, in_tenant):
    from crm.org.models import Department
    from crm.org.services import department_create, department_update

    admin = user_in(tenant_a, "admin")
    with in_tenant(tenant_a):
        root = Department.objects.get(parent=None)
        east = department_create(actor=admin, name="华东大区", parent_id=root.pk)
        team = department_create(actor=admin, name="杭州组", parent_id=east.pk)
        other = department_create(actor=admin, name="华南大区", parent_id=root.pk)
        department_update(actor=admin, department_id=east.pk, parent_id=other.pk)
        team.refresh_from_db()
        other.refresh_from_db()
        assert team.path.startswith(other.path)
        from django.core.exceptions import ValidationError

        with pytest.raises(ValidationError):
            department_update(actor=admin, department_id=other.pk, parent_id=team.pk)  # a cycle
        assert AuditEntry.objects.filter(object_id=str(east.pk), action="update").exists()


def test_bulk_audit_writes_one_row_per_record(tenant_a, user_in, in_tenant):
    from crm.activities.models import Task
    from crm.activities.services import task_create
    from crm.audit.services import audit_record_bulk

    admin = user_in(tenant_a, "admin")
    with in_tenant(tenant_a):
        tasks = [task_create(actor=admin, title=f"批量{i}") for i in range(5)]
        Task.objects.filter(pk__in=[t.pk for t in tasks]).update(status="cancelled")
        written = audit_record_bulk(actor=admin, instances=tasks, action="bulk_update",
                                    changes={"status": {"old": "open", "new": "cancelled"}})
        assert written == 5
        rows = AuditEntry.objects.filter(action="bulk_update", object_id__in=[str(t.pk) for t in tasks])
        assert rows.count() == 5
        assert all(r.changes["status"]["new"] == "cancelled" for r in rows)


def test_me_endpoint_returns_user_roles_and_tenant(tenant_a, user_in, api_for):
    data = api_for(tenant_a, user_in(tenant_a, "manager")).get("/api/v1/auth/me").json()
    assert data["email"] == "manager@alpha.example.com"
    assert data["roles"] == ["regional_manager"] and data["scope"] == "region"
    assert data["tenant"]["slug"] == "alpha" and data["tenant"]["modes"] == ["standard"]
    assert data["tenant"]["currency"] == "CNY" and data["tenant"]["time_zone"] == "Asia/Shanghai"


def test_password_reset_mail_goes_to_the_tenant_user(tenant_a, user_in):
    from django.test import Client

    web = Client(HTTP_HOST="alpha.localhost")
    response = web.post("/password-reset/", {"email": "sales@alpha.example.com"})
    assert response.status_code == 302
    assert len(mail.outbox) == 1 and mail.outbox[0].to == ["sales@alpha.example.com"]
    assert "alpha.localhost/reset/" in mail.outbox[0].body
    # an address of another tenant gets no mail (and the page says the same thing)
    web.post("/password-reset/", {"email": "sales@beta.example.com"})
    assert len(mail.outbox) == 1
