"""Customer import (upload, mapping, dry run, the real import as a task, error report,
idempotent re-runs) and export (CSV/XLSX, formula escaping, scopes), through the API and the
web pages, with the bad input the issue names."""

from __future__ import annotations

import csv
import io
import json

import openpyxl
import pytest

from crm.audit.models import AuditEntry
from crm.audit.services import AuditCopyWriter
from crm.customers import import_chunks, import_write, imports
from crm.customers.models import Customer, ImportJob, ImportTemplate, OwnershipChange

pytestmark = pytest.mark.django_db


@pytest.fixture
def people(tenant_a, user_in):
    return {k: user_in(tenant_a, k) for k in ("admin", "sales", "sales2", "manager", "exec")}


def csv_bytes(rows, encoding="utf-8-sig", delimiter=","):
    buffer = io.StringIO()
    csv.writer(buffer, delimiter=delimiter).writerows(rows)
    return buffer.getvalue().encode(encoding)


def xlsx_bytes(rows):
    workbook = openpyxl.Workbook()
    sheet = workbook.active
    for row in rows:
        sheet.append(row)
    buffer = io.BytesIO()
    workbook.save(buffer)
    return buffer.getvalue()


def upload(api, name, content, **data):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return api.post("/api/v1/customers/imports", {"file": SimpleUploadedFile(name, content), **data},
                    format="multipart")


HEADER = ["客户名称", "统一社会信用代码", "电话", "邮箱", "行业", "阶段", "等级", "标签", "外部编号", "负责人邮箱"]


def run(api, job_id, capture, **data):
    with capture(execute=True):
        return api.post(f"/api/v1/customers/imports/{job_id}/run", data, format="json")


def test_csv_import_dry_run_then_task_with_audit_search_and_owner(
        tenant_a, people, api_for, in_tenant, credit_code, django_capture_on_commit_callbacks):
    code = credit_code()
    content = csv_bytes([
        HEADER,
        ["杭州云栖科技有限公司", code, "0571-8888 6666", "Info@YunQi.cn", "软件", "线索", "A 级（重点）", "重点，华东", "ERP-001", ""],
        ["宁波港口物流有限公司", "", "13800138001", "", "物流", "customer", "B", "", "ERP-002", "sales@alpha.example.com"],
        ["", "", "", "", "", "", "", "", "ERP-003", ""],  # no name, nothing to update: rejected
        ["温州鞋业", "91330300MA2XXXXX1X", "12", "bad-mail", "", "结婚", "Z", "", "ERP-004", "nobody@x.cn"],
    ])
    api = api_for(tenant_a, people["manager"])
    response = upload(api, "客户.csv", content)
    assert response.status_code == 201, response.json()
    job = response.json()
    assert job["status"] == "checked" and job["file_format"] == "csv" and job["encoding"] == "utf-8"
    assert job["mapping"]["客户名称"] == "name" and job["mapping"]["负责人邮箱"] == "owner_email"
    assert job["dry_run"]["summary"] == {"total": 4, "create": 2, "update": 0, "reject": 2, "duplicates": 0}
    bad = {r["row"]: r for r in job["dry_run"]["rows"]}
    assert set(bad) == {4, 5}
    assert set(bad[5]["errors"]) == {"credit_code", "phone", "email", "stage", "level", "owner_email"}
    assert "结婚" in bad[5]["errors"]["stage"] and "nobody@x.cn" in bad[5]["errors"]["owner_email"]
    with in_tenant(tenant_a):
        assert not Customer.objects.filter(external_id__startswith="ERP-").exists()  # a dry run writes nothing

    response = run(api, job["id"], django_capture_on_commit_callbacks)
    assert response.status_code == 202, response.json()
    done = api.get(f"/api/v1/customers/imports/{job['id']}").json()
    assert done["status"] == "done" and done["processed_rows"] == done["total_rows"] == 4
    assert (done["created_rows"], done["updated_rows"], done["rejected_rows"]) == (2, 0, 2)
    with in_tenant(tenant_a):
        yunqi = Customer.objects.get(external_id="ERP-001")
        assert yunqi.credit_code == code and yunqi.email == "info@yunqi.cn" and yunqi.stage == "lead"
        assert yunqi.level == "A" and yunqi.tags == ["重点", "华东"] and yunqi.owner == people["manager"]
        ningbo = Customer.objects.get(external_id="ERP-002")
        assert ningbo.owner == people["sales"] and ningbo.department_id == people["sales"].department_id
        assert ningbo.stage == "customer" and ningbo.phone_digits == "13800138001"
        assert ningbo.search_vector is not None
        assert OwnershipChange.objects.filter(customer=ningbo, reason="created").count() == 1
        assert AuditEntry.objects.filter(content_type__model="customer", object_id=str(ningbo.pk),
                                         action="create", actor=people["manager"]).count() == 1
    from crm.customers import search, selectors

    with in_tenant(tenant_a):
        found = search.search_customers(qs=selectors.customer_list_visible_to(actor=people["manager"]),
                                        parsed=search.parse_query("云栖"))
        assert [c.pk for c in found] == [yunqi.pk]
        # the imported customers' name grams are written too (the common two-character path)
        for customer in Customer.objects.filter(pk__in=[yunqi.pk, ningbo.pk]):
            assert set(search.CustomerNameGram.objects.filter(customer=customer).values_list("gram", flat=True)) \
                == search.customer_name_grams(customer.name, customer.short_name)
        found, complete = search._newest_by_name_gram(
            selectors.customer_list_visible_to(actor=people["manager"]), search.parse_query("云栖"),
            search.name_gram("云栖"), [], 5, people["manager"])
        assert found == [yunqi.pk] and complete

    report = api.get(f"/api/v1/customers/imports/{job['id']}/errors.csv")
    assert report.status_code == 200 and report["Content-Type"].startswith("text/csv")
    text = report.content.decode("utf-8")
    assert text.startswith("\ufeff")
    lines = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert lines[0][:3] == ["行号", "原因", "客户名称"] and [row[0] for row in lines[1:]] == ["4", "5"]
    assert "结婚" in lines[2][1] and lines[2][2] == "温州鞋业"


def test_idempotent_rerun_of_the_same_file_updates_and_creates_nothing(
        tenant_a, people, api_for, in_tenant, credit_code, django_capture_on_commit_callbacks):
    code = credit_code()
    rows = [HEADER, ["江苏恒瑞贸易有限公司", code, "025-5555 1234", "", "", "", "", "", "HR-1", ""],
            ["苏州园区精密制造有限公司", "", "", "", "", "", "", "", "HR-2", ""]]
    api = api_for(tenant_a, people["manager"])
    first = upload(api, "a.csv", csv_bytes(rows)).json()
    run(api, first["id"], django_capture_on_commit_callbacks)
    with in_tenant(tenant_a):
        before = Customer.objects.count()
        versions = dict(Customer.objects.filter(external_id__in=["HR-1", "HR-2"]).values_list("external_id", "version"))

    rows[1][4] = "医药"  # changed cell: updated in place
    second = upload(api, "a.csv", csv_bytes(rows)).json()
    assert second["dry_run"]["summary"]["update"] == 2 and second["dry_run"]["summary"]["create"] == 0
    assert {r["action"] for r in second["dry_run"]["rows"]} == {"update"}
    run(api, second["id"], django_capture_on_commit_callbacks)
    done = api.get(f"/api/v1/customers/imports/{second['id']}").json()
    assert (done["created_rows"], done["updated_rows"], done["rejected_rows"]) == (0, 2, 0)
    with in_tenant(tenant_a):
        assert Customer.objects.count() == before
        hr1 = Customer.objects.get(external_id="HR-1")
        assert hr1.industry == "医药" and hr1.version == versions["HR-1"] + 1
        assert Customer.objects.get(external_id="HR-2").version == versions["HR-2"]  # nothing changed

    # matched by credit code alone (no external id column): still an update
    by_code = upload(api, "b.csv", csv_bytes([["名称", "统一社会信用代码", "地址"], ["江苏恒瑞", code, "南京市"]])).json()
    assert by_code["dry_run"]["summary"]["update"] == 1
    run(api, by_code["id"], django_capture_on_commit_callbacks)
    with in_tenant(tenant_a):
        assert Customer.objects.count() == before
        hr1.refresh_from_db()
        assert hr1.address == "南京市" and hr1.name == "江苏恒瑞"


def test_duplicate_run_request_is_not_run_twice(tenant_a, people, api_for, in_tenant,
                                                django_capture_on_commit_callbacks, monkeypatch):
    api = api_for(tenant_a, people["sales"])
    job = upload(api, "c.csv", csv_bytes([["name", "phone"], ["成都天府软件园", "028-8512 3456"]])).json()
    calls = []
    real = imports.import_job_execute
    monkeypatch.setattr(imports, "import_job_execute", lambda **kw: calls.append(kw) or real(**kw))
    from crm.customers import tasks

    assert run(api, job["id"], django_capture_on_commit_callbacks).status_code == 202
    again = run(api, job["id"], django_capture_on_commit_callbacks)
    assert again.status_code == 200 and again.json()["status"] == "done"
    assert len(calls) == 1
    # the task itself is idempotent too: a second delivery of a done job changes nothing
    with in_tenant(tenant_a):
        tasks.customers_import_run_task.apply(args=[job["id"]])
        assert Customer.objects.filter(name="成都天府软件园").count() == 1


def test_gbk_csv_with_chinese_names(tenant_a, people, api_for, in_tenant, django_capture_on_commit_callbacks):
    rows = [["客户名称", "电话", "地址", "来源"], ["广州白云山制药总厂", "020-8666 1234", "广州市白云区", "展会"],
            ["深圳华强北电子市场", "", "深圳市福田区", "转介绍"]]
    api = api_for(tenant_a, people["sales"])
    job = upload(api, "gbk.csv", csv_bytes(rows, encoding="gbk")).json()
    assert job["encoding"] == "gb18030" and job["dry_run"]["summary"]["create"] == 2
    chosen = upload(api, "gbk.csv", csv_bytes(rows, encoding="gbk"), encoding="gbk").json()
    assert chosen["status"] == "checked"
    run(api, job["id"], django_capture_on_commit_callbacks)
    with in_tenant(tenant_a):
        assert set(Customer.objects.filter(source__in=["展会", "转介绍"]).values_list("name", flat=True)) == {
            "广州白云山制药总厂", "深圳华强北电子市场"}


def test_xlsx_import_with_numeric_cells_and_a_saved_template(tenant_a, people, api_for, in_tenant,
                                                             django_capture_on_commit_callbacks):
    api = api_for(tenant_a, people["sales"])
    content = xlsx_bytes([["企业全称", "手机号码", "ERP"], ["重庆两江新材料有限公司", 13912345678, 7001]])
    job = upload(api, "k.xlsx", content).json()
    assert job["file_format"] == "xlsx" and job["status"] == "uploaded"  # no header is a known one
    assert job["mapping"] == {} and job["dry_run"]["ignored_columns"] == ["企业全称", "手机号码", "ERP"]
    mapped = api.patch(f"/api/v1/customers/imports/{job['id']}", {
        "mapping": {"企业全称": "name", "手机号码": "phone", "ERP": "external_id"}, "template_name": "ERP 导出"},
        format="json")
    assert mapped.status_code == 200, mapped.json()
    assert mapped.json()["status"] == "checked" and mapped.json()["dry_run"]["summary"]["create"] == 1
    with in_tenant(tenant_a):
        template = ImportTemplate.objects.get(name="ERP 导出")
    again = upload(api, "k.xlsx", content, template=template.pk).json()
    assert again["mapping"] == {"企业全称": "name", "手机号码": "phone", "ERP": "external_id"}
    run(api, again["id"], django_capture_on_commit_callbacks)
    with in_tenant(tenant_a):
        customer = Customer.objects.get(external_id="7001")
        assert customer.phone == "13912345678" and customer.owner == people["sales"]


def test_likely_duplicates_are_flagged_in_the_dry_run_and_skipped_unless_confirmed(
        tenant_a, people, api_for, in_tenant, new_customer, django_capture_on_commit_callbacks):
    existing = new_customer(tenant_a, people["sales2"], "西安秦川机床股份有限公司", phone="029-8888 0001")
    api = api_for(tenant_a, people["sales"])
    rows = [["客户名称", "电话"], ["西安秦川机床（西安）有限公司", ""], ["陕西某某", "029 8888 0001"],
            ["兰州新区化工", ""], ["兰州新区化工有限公司", ""]]
    job = upload(api, "d.csv", csv_bytes(rows)).json()
    summary = job["dry_run"]["summary"]
    assert summary["create"] == 4 and summary["duplicates"] == 3
    flagged = {r["row"]: r["duplicates"] for r in job["dry_run"]["rows"]}
    assert flagged[2][0]["id"] == existing.pk and flagged[2][0]["matched_on"] == ["name"]
    assert flagged[3][0]["matched_on"] == ["phone"]
    assert flagged[5][0]["row"] == 4  # the same company twice in the file
    run(api, job["id"], django_capture_on_commit_callbacks)
    done = api.get(f"/api/v1/customers/imports/{job['id']}").json()
    assert (done["created_rows"], done["rejected_rows"]) == (1, 3)
    with in_tenant(tenant_a):
        assert not Customer.objects.filter(name="陕西某某").exists()
    report = api.get(f"/api/v1/customers/imports/{job['id']}/errors.csv").content.decode()
    assert "疑似重复客户" in report

    confirmed = upload(api, "d.csv", csv_bytes(rows)).json()
    run(api, confirmed["id"], django_capture_on_commit_callbacks, allow_duplicates=True)
    with in_tenant(tenant_a):
        created = Customer.objects.get(name="陕西某某")
        entry = AuditEntry.objects.get(content_type__model="customer", object_id=str(created.pk), action="create")
        assert "确认不是重复客户" in entry.note and str(existing.pk) in entry.note


def test_owner_outside_the_importers_scope_is_rejected(tenant_a, people, api_for, in_tenant,
                                                       django_capture_on_commit_callbacks):
    api = api_for(tenant_a, people["sales"])  # a salesperson may only own what they import
    job = upload(api, "e.csv", csv_bytes([["名称", "owner_email"], ["大连海事装备", "sales2@alpha.example.com"],
                                          ["大连港务", "sales@alpha.example.com"]])).json()
    assert job["dry_run"]["summary"]["reject"] == 1
    assert "sales2@alpha.example.com" in job["dry_run"]["rows"][0]["errors"]["owner_email"]


def test_a_customer_outside_the_actors_scope_is_not_updated(tenant_a, people, api_for, in_tenant, new_customer,
                                                            credit_code, django_capture_on_commit_callbacks):
    code = credit_code()
    theirs = new_customer(tenant_a, people["sales2"], "青岛啤酒经销商", credit_code=code)
    api = api_for(tenant_a, people["sales"])
    job = upload(api, "f.csv", csv_bytes([["名称", "信用代码", "行业"], ["青岛啤酒经销商", code, "酒水"]])).json()
    assert job["dry_run"]["summary"]["reject"] == 1
    assert "不在你的可见范围内" in job["dry_run"]["rows"][0]["errors"]["credit_code"]
    run(api, job["id"], django_capture_on_commit_callbacks)
    with in_tenant(tenant_a):
        theirs.refresh_from_db()
        assert theirs.industry == "" and Customer.objects.filter(credit_code=code).count() == 1


# -- bad input ------------------------------------------------------------------------------------
@pytest.mark.parametrize("name, content, data, field, words", [
    ("bad.csv", "名称,电话\n测试公司,1\n".encode("utf-16"), {}, "encoding", "UTF-16"),
    ("bad.csv", "名称\n上海测试\n".encode("gbk"), {"encoding": "utf-8"}, "encoding", "GBK"),
    ("bad.csv", b"\xef\xbb\xbfname\nx\n", {"encoding": "gbk"}, "encoding", "UTF-8"),
    ("bad.csv", b"name\n\x81\xff\xff\x80\n", {}, "encoding", "UTF-8"),
    ("bad.csv", b"name,x\n\x00\x00\x00\n", {}, "file", "NUL"),
    ("bad.xlsx", b"PK\x03\x04 this is not a real workbook", {}, "file", "XLSX"),
    ("bad.xlsx", b"just text pretending", {}, "file", "XLSX"),
    ("old.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 100, {}, "file", ".xls"),
    ("empty.csv", b"", {}, "file", "空"),
    ("blank.csv", b"\n\n,,\n", {}, "file", "空"),
    ("header.csv", "客户名称,电话\n".encode(), {}, "file", "没有数据行"),
    ("pic.png", b"\x89PNG\r\n", {}, "file", "CSV"),
    ("m.csv", "客户名称\nx\n".encode(), {"mapping": json.dumps({"客户名称": "nickname"})}, "mapping.客户名称", "nickname"),
    ("m.csv", "客户名称\nx\n".encode(), {"mapping": json.dumps({"不存在": "name"})}, "mapping.不存在", "不存在"),
    ("m.csv", "客户名称\nx\n".encode(), {"mapping": "[1, 2"}, "mapping", "JSON"),
    ("m.csv", "客户名称\nx\n".encode(), {"encoding": "latin-9"}, "encoding", "latin-9"),
])
def test_unreadable_files_get_a_clear_400_and_no_job(tenant_a, people, api_for, in_tenant,
                                                     name, content, data, field, words):
    api = api_for(tenant_a, people["sales"])
    with in_tenant(tenant_a):
        before = ImportJob.objects.count()
    response = upload(api, name, content, **data)
    assert response.status_code == 400, response.content
    body = response.json()
    assert field in body, body
    assert words in " ".join(body[field]), body
    with in_tenant(tenant_a):
        assert ImportJob.objects.count() == before


def test_oversize_file_states_the_limit(tenant_a, people, api_for, monkeypatch):
    monkeypatch.setattr(imports, "MAX_UPLOAD_BYTES", 1000)
    response = upload(api_for(tenant_a, people["sales"]), "big.csv", b"name\n" + b"x" * 2000 + b"\n")
    assert response.status_code == 400
    assert "20 MB" in response.json()["file"][0]
    assert "上限" in response.json()["file"][0]
    missing = api_for(tenant_a, people["sales"]).post("/api/v1/customers/imports", {}, format="multipart")
    assert missing.status_code == 400 and "file" in missing.json()


def test_unknown_columns_are_ignored_and_listed_and_without_a_name_column_nothing_runs(
        tenant_a, people, api_for, django_capture_on_commit_callbacks):
    api = api_for(tenant_a, people["sales"])
    job = upload(api, "u.csv", csv_bytes([["名称", "星座", "Favourite colour"], ["厦门航空配件", "狮子座", "red"]])).json()
    assert job["status"] == "checked" and job["dry_run"]["ignored_columns"] == ["星座", "Favourite colour"]
    nameless = upload(api, "n.csv", csv_bytes([["星座", "colour"], ["狮子座", "red"]])).json()
    assert nameless["status"] == "uploaded" and "客户名称" in nameless["dry_run"]["mapping_error"]
    refused = run(api, nameless["id"], django_capture_on_commit_callbacks)
    assert refused.status_code == 400 and "mapping" in refused.json()


def test_another_users_job_is_404_and_a_manager_in_scope_sees_it(tenant_a, tenant_b, people, api_for, user_in):
    mine = upload(api_for(tenant_a, people["sales"]), "g.csv", csv_bytes([["名称"], ["天津港"]])).json()
    other = api_for(tenant_a, people["sales2"])
    for method, url in (("get", f"/api/v1/customers/imports/{mine['id']}"),
                        ("post", f"/api/v1/customers/imports/{mine['id']}/run"),
                        ("patch", f"/api/v1/customers/imports/{mine['id']}"),
                        ("get", f"/api/v1/customers/imports/{mine['id']}/errors.csv")):
        assert getattr(other, method)(url, {}, format="json").status_code == 404, url
    assert mine["id"] not in [j["id"] for j in other.get("/api/v1/customers/imports").json()]
    assert api_for(tenant_a, people["manager"]).get(f"/api/v1/customers/imports/{mine['id']}").status_code == 200
    stranger = api_for(tenant_b, user_in(tenant_b, "admin"))
    assert stranger.get(f"/api/v1/customers/imports/{mine['id']}").status_code == 404
    assert api_for(tenant_a).get(f"/api/v1/customers/imports/{mine['id']}").status_code == 401


def test_a_failed_batch_leaves_nothing_behind_and_the_rerun_resumes(tenant_a, people, in_tenant, monkeypatch):
    rows = [["名称", "外部编号"]] + [[f"批量测试公司{i:03d}", f"B-{i:03d}"] for i in range(7)]
    with in_tenant(tenant_a):
        job = imports.import_job_create(actor=people["admin"], file_name="h.csv", content=csv_bytes(rows))
        ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.QUEUED)
        real = AuditCopyWriter.write
        calls = []

        def flaky(self, cursor):
            calls.append(len(self.rows))
            if len(calls) == 2:  # the audit rows of the second batch: written last in the batch
                raise RuntimeError("audit down")
            return real(self, cursor)

        monkeypatch.setattr(AuditCopyWriter, "write", flaky)
        with pytest.raises(RuntimeError):
            imports.import_job_execute(job_id=job.pk, batch_size=3)
        imports.import_job_fail(job_id=job.pk, error="audit down")
        job.refresh_from_db()
        assert job.status == "failed" and job.processed_rows == 3 and job.created_rows == 3
        assert Customer.objects.filter(external_id__startswith="B-").count() == 3  # batch 2 rolled back
        assert OwnershipChange.objects.filter(customer__external_id__startswith="B-").count() == 3
        ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.QUEUED)
        imports.import_job_execute(job_id=job.pk, batch_size=3)
        job.refresh_from_db()
        assert job.status == "done" and (job.created_rows, job.rejected_rows) == (7, 0)
        assert Customer.objects.filter(external_id__startswith="B-").count() == 7


def test_search_tokens_written_with_the_row_equal_those_of_the_search_index(tenant_a, people, in_tenant):
    from crm.customers import search

    rows = [["名称", "邮箱", "电话", "外部编号"], ["O'Brien\\Co 重庆两江（集团）", "o'brien@example.com", "023-6789 0123", "S-1"]]
    with in_tenant(tenant_a):
        job = imports.import_job_create(actor=people["admin"], file_name="s.csv", content=csv_bytes(rows))
        ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.QUEUED)
        imports.import_job_execute(job_id=job.pk)
        customer = Customer.objects.get(external_id="S-1")
        written = customer.search_vector
        assert written and "'u:重'" in written
        search.customer_index([customer.pk])
        customer.refresh_from_db()
        assert customer.search_vector == written
        found = search.search_customers(qs=Customer.objects.all(), parsed=search.parse_query("cqlj"))
        assert customer in found


def test_overlong_values_are_rejected_rows_not_a_failed_batch(tenant_a, people, api_for, in_tenant,
                                                             django_capture_on_commit_callbacks):
    api = api_for(tenant_a, people["sales"])
    job = upload(api, "l.csv", csv_bytes([["名称", "地址"], ["长" * 201, "x"], ["正常长度公司", "地" * 301]])).json()
    assert job["dry_run"]["summary"]["reject"] == 2
    assert "200" in job["dry_run"]["rows"][0]["errors"]["name"] and "300" in job["dry_run"]["rows"][1]["errors"]["address"]
    run(api, job["id"], django_capture_on_commit_callbacks)
    done = api.get(f"/api/v1/customers/imports/{job['id']}").json()
    assert done["status"] == "done" and done["rejected_rows"] == 2 and done["created_rows"] == 0


def test_same_customer_twice_in_one_file_is_rejected_with_the_row(tenant_a, people, api_for):
    job = upload(api_for(tenant_a, people["sales"]), "t.csv", csv_bytes([
        ["名称", "外部编号"], ["甲公司", "X-1"], ["乙公司", "X-1"]])).json()
    assert job["dry_run"]["summary"]["reject"] == 1
    assert "第 2 行" in job["dry_run"]["rows"][0]["errors"]["external_id"]


# -- export ---------------------------------------------------------------------------------------
def test_export_csv_escapes_formulas_and_shows_only_visible_customers(tenant_a, people, api_for, new_customer):
    new_customer(tenant_a, people["sales"], "=HYPERLINK(\"http://evil\",\"点我\")", notes="@SUM(A1)",
                 phone="+86 138 0013 8000", tags=["-1+1"])
    new_customer(tenant_a, people["sales2"], "别人的客户有限公司")
    response = api_for(tenant_a, people["sales"]).get("/api/v1/customers/export?format=csv")
    assert response.status_code == 200 and response["Content-Type"].startswith("text/csv")
    text = b"".join(response.streaming_content).decode("utf-8")
    assert text.startswith("\ufeff")
    rows = list(csv.reader(io.StringIO(text.lstrip("\ufeff"))))
    assert rows[0][0] == "客户名称"
    names = [r[0] for r in rows[1:]]
    assert "'=HYPERLINK(\"http://evil\",\"点我\")" in names and "别人的客户有限公司" not in names
    evil = next(r for r in rows[1:] if r[0].startswith("'="))
    assert evil[4] == "'+86 138 0013 8000" and evil[12] == "'-1+1" and evil[13] == "'@SUM(A1)"
    assert not any(cell.startswith(("=", "+", "-", "@")) for row in rows for cell in row)


def test_export_xlsx_has_no_formula_cells_and_honours_filters(tenant_a, people, api_for, new_customer):
    new_customer(tenant_a, people["sales"], "=1+2", stage="lead")
    new_customer(tenant_a, people["sales"], "普通客户甲", stage="customer")
    api = api_for(tenant_a, people["sales"])
    response = api.get("/api/v1/customers/export?format=xlsx&stage=lead")
    assert response.status_code == 200
    workbook = openpyxl.load_workbook(io.BytesIO(b"".join(response.streaming_content)))
    sheet = workbook.active
    values = [[c.value for c in row] for row in sheet.iter_rows()]
    assert values[0][0] == "客户名称"
    assert [row[0] for row in values[1:]] == ["'=1+2"]
    assert all(c.data_type != "f" for row in sheet.iter_rows() for c in row)
    assert api.get("/api/v1/customers/export?format=pdf").status_code == 400


def test_an_export_can_be_imported_back_as_updates(tenant_a, people, api_for, in_tenant, new_customer,
                                                   credit_code, django_capture_on_commit_callbacks):
    new_customer(tenant_a, people["sales"], "往返测试有限公司", credit_code=credit_code(), stage="opportunity",
                 tags=["回流"])
    api = api_for(tenant_a, people["sales"])
    exported = b"".join(api.get("/api/v1/customers/export?format=csv&tag=回流").streaming_content)
    job = upload(api, "export.csv", exported).json()
    assert job["dry_run"]["summary"]["update"] == 1 and job["dry_run"]["summary"]["reject"] == 0, job["dry_run"]
    with in_tenant(tenant_a):
        before = Customer.objects.count()
    run(api, job["id"], django_capture_on_commit_callbacks)
    with in_tenant(tenant_a):
        assert Customer.objects.count() == before


# -- web pages ------------------------------------------------------------------------------------
def test_web_upload_mapping_dry_run_run_and_progress(tenant_a, people, web_as, in_tenant,
                                                     django_capture_on_commit_callbacks):
    from django.core.files.uploadedfile import SimpleUploadedFile

    web = web_as(tenant_a, people["sales"])
    page = web.get("/customers/import/")
    assert page.status_code == 200 and "20 MB" in page.content.decode()
    content = csv_bytes([["客户名称", "无关列"], ["长沙岳麓书院文化", "x"], ["", "y"]])
    response = web.post("/customers/import/", {"file": SimpleUploadedFile("w.csv", content), "encoding": "auto"})
    assert response.status_code == 302
    detail_url = response["Location"]
    detail = web.get(detail_url).content.decode()
    assert "无关列" in detail and "预检" in detail
    job_id = int(detail_url.rstrip("/").split("/")[-1])
    remap = web.post(f"/customers/import/{job_id}/mapping/", {"map-0": "name", "map-1": "", "template_name": ""})
    assert remap.status_code == 302
    with django_capture_on_commit_callbacks(execute=True):
        started = web.post(f"/customers/import/{job_id}/run/", {})
    assert started.status_code == 302
    progress = web.get(f"/customers/import/{job_id}/progress/", HTTP_HX_REQUEST="true")
    body = progress.content.decode()
    assert progress.status_code == 200 and "100" in body and "errors.csv" in body and "hx-trigger" not in body
    errors = web.get(f"/customers/import/{job_id}/errors.csv")
    assert errors.status_code == 200 and "客户名称不能为空" in errors.content.decode()
    other = web_as(tenant_a, people["sales2"])
    assert other.get(detail_url).status_code == 404
    bad = web.post("/customers/import/", {"file": SimpleUploadedFile("x.xlsx", b"PK\x03\x04junk")})
    assert bad.status_code == 400 and "XLSX" in bad.content.decode()
    with in_tenant(tenant_a):
        assert Customer.objects.filter(name="长沙岳麓书院文化").exists()


def test_web_export(tenant_a, people, web_as, new_customer):
    new_customer(tenant_a, people["sales"], "+网页导出测试")
    response = web_as(tenant_a, people["sales"]).get("/customers/import/export/?format=csv")
    assert response.status_code == 200
    assert "'+网页导出测试" in b"".join(response.streaming_content).decode()


def test_errors_and_pages_speak_the_users_language(tenant_a, people, api_for, web_as, in_tenant):
    from crm.org.services import user_set_language

    with in_tenant(tenant_a):
        user_set_language(user=people["sales"], language="en")
    response = upload(api_for(tenant_a, people["sales"]), "empty.csv", b"  \n")
    assert response.status_code == 400 and response.json()["file"] == ["The file is empty."]
    page = web_as(tenant_a, people["sales"]).get("/customers/import/").content.decode()
    assert "Import customers" in page and "Upload and check" in page


def test_a_redelivered_task_does_not_run_a_job_another_worker_is_running(tenant_a, people, in_tenant):
    import psycopg
    from django.db import connection

    with in_tenant(tenant_a):
        job = imports.import_job_create(actor=people["admin"], file_name="r.csv",
                                        content=csv_bytes([["名称"], ["重复投递测试公司"]]))
        ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.QUEUED)
        key = f"customers.import:{connection.schema_name}:{job.pk}"
        params = connection.get_connection_params()
        with psycopg.connect(**{k: v for k, v in params.items() if k in ("dbname", "user", "password", "host", "port")},
                             autocommit=True) as other:
            other.execute("SELECT pg_advisory_lock(hashtext(%s))", [key])  # "another worker"
            assert imports.import_job_execute(job_id=job.pk).status == "queued"
            assert not Customer.objects.filter(name="重复投递测试公司").exists()
            # the other worker finishes (an explicit unlock: closing the connection releases the
            # lock only once the server has noticed, which under load can be later)
            other.execute("SELECT pg_advisory_unlock(hashtext(%s))", [key])
        assert imports.import_job_execute(job_id=job.pk).status == "done"
        assert Customer.objects.filter(name="重复投递测试公司").count() == 1


# -- speed-ups: COPY writes, chunked runs, the dry run of a big file in a task ----------------------
def _import(actor, rows, *, capture, allow_duplicates=False, name="x.csv"):
    """Upload and run ``rows`` as ``actor`` (inside the tenant): the finished job."""
    job = imports.import_job_create(actor=actor, file_name=name, content=csv_bytes(rows))
    assert job.status == "checked", job.dry_run
    ImportJob.objects.filter(pk=job.pk).update(
        status=ImportJob.Status.QUEUED, dry_run={**job.dry_run, "options": {"allow_duplicates": allow_duplicates}})
    with capture(execute=True):
        imports.import_job_execute(job_id=job.pk)
    job.refresh_from_db()
    return job


CASE_HEADER = ["客户名称", "统一社会信用代码", "电话", "邮箱", "行业", "外部编号", "负责人邮箱"]


def _case(p, pd, codes):
    """Existing customers and a file whose rows depend on each other in every way the planner
    knows (same external id, credit code, name, phone, e-mail; one customer named by external
    id in one row and by credit code in another), far apart in the file. ``p``, ``pd`` and the
    codes keep two copies of the case apart in one tenant."""
    tag = f"t{pd}"
    setup = [CASE_HEADER,
             [f"{p}老客户甲有限公司", codes[0], f"0571-{pd}00 0001", "", "旧行业", f"{p}-X", ""],
             [f"{p}老客户乙有限公司", "", f"0571-{pd}00 0002", f"y@{tag}.example.com", "", f"{p}-Y", ""]]
    rows = [CASE_HEADER,
            [f"{p}新客户一有限公司", codes[1], f"0571-{pd}11 0001", f"one@{tag}.example.com", "软件", f"{p}-1", ""],
            [f"{p}新客户二有限公司", "", "", "", "", f"{p}-1", ""],  # external id of row 2 again
            [f"{p}新客户三有限公司", codes[1], "", "", "", f"{p}-3", ""],  # credit code of row 2 again
            [f"{p}新客户一", "", "", "", "", f"{p}-5", ""],  # the name of row 2
            [f"{p}老客户甲有限公司", "", "", "", "新行业", f"{p}-X", "sales@alpha.example.com"],  # update, new owner
            [f"{p}新客户七有限公司", "", f"0571-{pd}00 0002", "", "", f"{p}-7", ""],  # phone of 老客户乙
            [f"{p}新客户八有限公司", "", "", f"y@{tag}.example.com", "", f"{p}-8", ""],  # its e-mail
            [f"{p}新客户九有限公司", "", "", "bad-mail", "", f"{p}-9", ""],  # invalid
            [f"{p}老客户乙有限公司", "", "", "", "物流", f"{p}-Y", ""]]  # update
    rows += [[f"{p}填充{i}号有限公司", "", f"0571-{pd}22 {i:04d}", "", "", f"{p}-F{i}", ""] for i in range(12)]
    rows += [[f"{p}新客户八有限公司", "", "", "", "", f"{p}-30", ""],  # the name of row 8, far below
             [f"{p}尾部客户有限公司", "", "", f"ONE@{tag}.example.com", "", f"{p}-31", ""],  # e-mail of row 2
             ["", codes[0], "", "", "医药", "", ""]]  # 老客户甲 again, by its credit code only
    return setup, rows


def _outcome(job, p, pd, codes):
    """What a run did, with the copy's own names, phones, codes and ids made neutral."""
    import re

    def neutral(text):
        text = str(text).replace(p, "P").replace(f"t{pd}", "T").replace(f"0571-{pd}", "0571-PD")
        text = text.replace(f"0571{pd}", "0571PD")
        for i, code in enumerate(codes):
            text = text.replace(code, f"CODE{i}")
        return re.sub(r"#\d+", "#ID", text)

    report = [tuple(neutral(cell) for cell in line)
              for line in csv.reader(io.StringIO(job.error_report.lstrip("\ufeff")))]
    customers = Customer.objects.filter(external_id__startswith=f"{p}-").order_by("external_id")
    state = [tuple(neutral(v) for v in (c.external_id, c.name, c.credit_code, c.phone, c.email, c.industry,
                                        c.owner.email, c.version)) for c in customers]
    audits = {neutral(c.external_id): sorted(AuditEntry.objects.filter(
        content_type__model="customer", object_id=str(c.pk)).values_list("action", flat=True)) for c in customers}
    moves = sorted(neutral(o.customer.external_id) + o.reason for o in OwnershipChange.objects.filter(
        customer__external_id__startswith=f"{p}-"))
    return ((job.status, job.processed_rows, job.created_rows, job.updated_rows, job.rejected_rows),
            report, state, audits, moves)


def test_a_chunked_run_equals_the_serial_run(tenant_a, people, in_tenant, credit_code, monkeypatch,
                                             django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    serial = ("东", "81", [credit_code(), credit_code()])
    chunked = ("西", "82", [credit_code(), credit_code()])
    outcomes = []
    with in_tenant(tenant_a):
        for p, pd, codes in (serial, chunked):
            setup, rows = _case(p, pd, codes)
            _import(people["admin"], setup, capture=capture, name="setup.csv")
            if p == chunked[0]:
                monkeypatch.setattr(imports, "CHUNK_ROWS", 3)
                # the rows that depend on each other stay together, in the chunk of the first
                parts = import_chunks.partition(rows[1:], headers=rows[0], mapping=imports.suggest_mapping(rows[0]),
                                                size=3)
                where = {i + 2: n for n, part in enumerate(parts) for i in part}
                assert where[2] == where[3] == where[4] == where[5] == where[24] == 0  # id, code, name, mail
                assert where[6] == where[25] == 1 and where[8] == where[23] == 2  # id + code of one; a name
                assert len(parts) >= 6 and sorted(i for part in parts for i in part) == list(range(len(rows) - 1))
            job = _import(people["admin"], rows, capture=capture)
            assert ("run" in job.dry_run) == (p == chunked[0])
            outcomes.append(_outcome(job, p, pd, codes))
    serial_outcome, chunked_outcome = outcomes
    assert serial_outcome == chunked_outcome
    counts, report, state, audits, moves = serial_outcome
    assert counts == ("done", 24, 13, 3, 8)
    assert [line[0] for line in report[1:]] == ["3", "4", "5", "7", "8", "9", "23", "24"]  # in file order
    assert ("P-X", "P老客户甲有限公司", "CODE0", "0571-PD00 0001", "", "医药", "sales@alpha.example.com", "3") in state
    assert audits["P-X"] == ["create", "update", "update"] and moves == ["P-1created", "P-F0created", "P-F10created",
                                                                        "P-F11created", "P-F1created", "P-F2created",
                                                                        "P-F3created", "P-F4created", "P-F5created",
                                                                        "P-F6created", "P-F7created", "P-F8created",
                                                                        "P-F9created", "P-Xcreated", "P-Xtransfer",
                                                                        "P-Ycreated"]


def test_a_failed_chunk_fails_the_job_and_the_rerun_does_only_what_is_left(
        tenant_a, people, in_tenant, monkeypatch, django_capture_on_commit_callbacks):
    rows = [["名称", "外部编号"]] + [[f"分块测试公司{i:02d}", f"K-{i:02d}"] for i in range(9)]
    monkeypatch.setattr(imports, "CHUNK_ROWS", 3)
    real = AuditCopyWriter.write
    calls = []

    def flaky(self, cursor):
        calls.append(len(self.rows))
        if len(calls) == 2:  # the second chunk's only batch
            raise RuntimeError("audit down")
        return real(self, cursor)

    with in_tenant(tenant_a):
        job = imports.import_job_create(actor=people["admin"], file_name="k.csv", content=csv_bytes(rows))
        ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.QUEUED)
        monkeypatch.setattr(AuditCopyWriter, "write", flaky)
        with pytest.raises(RuntimeError), django_capture_on_commit_callbacks(execute=True):
            imports.import_job_execute(job_id=job.pk)
        job.refresh_from_db()
        assert job.status == "failed" and "第 2 部分" in job.error and "audit down" in job.error
        assert [c["done"] for c in job.dry_run["run"]["chunks"]] == [3, 0, 0]
        assert (job.processed_rows, job.created_rows) == (3, 3)
        assert sorted(Customer.objects.filter(external_id__startswith="K-").values_list("external_id", flat=True)) \
            == ["K-00", "K-01", "K-02"]  # the failed chunk's batch left nothing behind

        monkeypatch.setattr(AuditCopyWriter, "write", real)
        ImportJob.objects.filter(pk=job.pk).update(status=ImportJob.Status.QUEUED)  # "continue the import"
        with django_capture_on_commit_callbacks(execute=True):
            imports.import_job_execute(job_id=job.pk)
        job.refresh_from_db()
        assert job.status == "done" and (job.processed_rows, job.created_rows, job.rejected_rows) == (9, 9, 0)
        imported = Customer.objects.filter(external_id__startswith="K-")
        assert imported.count() == 9
        assert AuditEntry.objects.filter(content_type__model="customer", action="create",
                                         object_id__in=[str(pk) for pk in imported.values_list("pk", flat=True)]
                                         ).count() == 9
        assert OwnershipChange.objects.filter(customer__in=imported).count() == 9

        # a chunk task delivered again after the job is done changes nothing
        from crm.customers import tasks

        tasks.customers_import_chunk_task.apply(args=[job.pk, 1])
        assert imported.count() == 9 and ImportJob.objects.get(pk=job.pk).created_rows == 9

        # the same file again, chunked: every row updates (nothing to change), nothing is created
        again = _import(people["admin"], rows, capture=django_capture_on_commit_callbacks)
        assert (again.status, again.created_rows, again.updated_rows, again.rejected_rows) == ("done", 0, 9, 0)
        assert imported.count() == 9 and set(imported.values_list("version", flat=True)) == {1}


def test_the_audit_rows_written_by_copy_are_those_of_the_audit_service(tenant_a, people, in_tenant, credit_code,
                                                                       django_capture_on_commit_callbacks):
    from crm.audit.services import audit_diff, audit_record_bulk, audit_snapshot

    rows = [["名称", "统一社会信用代码", "电话", "标签", "外部编号"],
            ["审计比对有限公司", credit_code(), "021-6666 7777", "重点，华东", "AU-1"]]
    with in_tenant(tenant_a):
        _import(people["admin"], rows, capture=django_capture_on_commit_callbacks)
        customer = Customer.objects.get(external_id="AU-1")
        written = AuditEntry.objects.get(content_type__model="customer", object_id=str(customer.pk), action="create")
        expected = {k: v for k, v in audit_diff({}, audit_snapshot(customer, import_write.AUDITED)).items()
                    if v["new"] not in (None, "", [], {})}
        assert written.changes == expected and written.changes["tags"]["new"] == ["重点", "华东"]
        audit_record_bulk(actor=people["admin"], instances=[customer], action="create",
                          changes_by_pk={customer.pk: expected}, note=written.note)
        by_service = AuditEntry.objects.filter(content_type__model="customer", object_id=str(customer.pk),
                                               action="create").exclude(pk=written.pk).get()
        fields = ["actor_id", "actor_label", "via", "action", "content_type_id", "object_id", "object_repr",
                  "changes", "note", "request_id", "ip"]
        assert {f: getattr(written, f) for f in fields} == {f: getattr(by_service, f) for f in fields}

        # and the row itself is what the model's defaults and the service's derivations give
        assert (customer.kind, customer.stage, customer.custom, customer.version) == ("company", "prospect", {}, 1)
        assert customer.name_norm == "审计比对" and customer.phone_digits == "02166667777"
        assert customer.owner == people["admin"] and customer.created_by == people["admin"]


def test_an_update_written_over_a_concurrent_change_is_read_again_and_applied_to_it(
        tenant_a, people, in_tenant, monkeypatch, django_capture_on_commit_callbacks):
    capture = django_capture_on_commit_callbacks
    with in_tenant(tenant_a):
        _import(people["admin"], [["名称", "外部编号", "行业"], ["并发修改测试公司", "CC-1", "旧"]], capture=capture)
        customer = Customer.objects.get(external_id="CC-1")
        real = import_write._write_updates
        calls = []

        def meanwhile(cursor, customers):
            if not calls:  # someone edits the customer between the planning and the write
                Customer.objects.filter(pk=customer.pk).update(address="别人改的地址", version=F("version") + 1)
            calls.append([c.pk for c in customers])
            return real(cursor, customers)

        from django.db.models import F

        monkeypatch.setattr(import_write, "_write_updates", meanwhile)
        job = _import(people["admin"], [["名称", "外部编号", "行业"], ["并发修改测试公司", "CC-1", "新"]], capture=capture)
        assert calls == [[customer.pk], [customer.pk]]  # written again over the row read afresh
        customer.refresh_from_db()
        assert (customer.industry, customer.address, customer.version) == ("新", "别人改的地址", 3)
        assert job.updated_rows == 1
        updates = AuditEntry.objects.filter(content_type__model="customer", object_id=str(customer.pk),
                                            action="update")
        assert [e.changes for e in updates] == [{"industry": {"old": "旧", "new": "新"}}]


def test_a_big_file_is_dry_run_in_a_task(tenant_a, people, api_for, in_tenant, monkeypatch,
                                         django_capture_on_commit_callbacks):
    monkeypatch.setattr(imports, "DRY_RUN_SYNC_ROWS", 2)
    api = api_for(tenant_a, people["sales"])
    rows = [["客户名称", "电话"], ["后台预检一号公司", ""], ["后台预检二号公司", ""], ["后台预检三号公司", "1"]]
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = upload(api, "big.csv", csv_bytes(rows))
    assert response.status_code == 201, response.json()
    job = response.json()
    assert job["status"] == "uploaded" and job["dry_run"]["checking"] is True
    assert job["dry_run"]["summary"] == {"total": 3} and "后台预检" in job["dry_run"]["mapping_error"]
    assert len(queued) == 1
    refused = api.post(f"/api/v1/customers/imports/{job['id']}/run", {}, format="json")
    assert refused.status_code == 400 and "后台预检" in " ".join(refused.json()["mapping"])

    # the mapping changed while the first check waits: only the newest check writes its result
    with django_capture_on_commit_callbacks(execute=False) as requeued:
        changed = api.patch(f"/api/v1/customers/imports/{job['id']}", {"mapping": {"客户名称": "name"}},
                            format="json")
    assert changed.status_code == 200 and changed.json()["dry_run"]["checking"] is True
    queued[0]()  # the stale check: discarded
    assert api.get(f"/api/v1/customers/imports/{job['id']}").json()["status"] == "uploaded"
    requeued[0]()
    checked = api.get(f"/api/v1/customers/imports/{job['id']}").json()
    assert checked["status"] == "checked" and "checking" not in checked["dry_run"]
    assert checked["dry_run"]["summary"] == {"total": 3, "create": 3, "update": 0, "reject": 0, "duplicates": 0}
    started = run(api, job["id"], django_capture_on_commit_callbacks)
    assert started.status_code == 202
    with in_tenant(tenant_a):
        assert Customer.objects.filter(name__startswith="后台预检").count() == 3


def test_the_import_page_says_a_big_file_is_being_checked(tenant_a, people, web_as, monkeypatch,
                                                          django_capture_on_commit_callbacks):
    from django.core.files.uploadedfile import SimpleUploadedFile

    monkeypatch.setattr(imports, "DRY_RUN_SYNC_ROWS", 1)
    web = web_as(tenant_a, people["sales"])
    content = csv_bytes([["客户名称"], ["网页后台预检甲"], ["网页后台预检乙"]])
    with django_capture_on_commit_callbacks(execute=False) as queued:
        response = web.post("/customers/import/", {"file": SimpleUploadedFile("w.csv", content), "encoding": "auto"})
    assert response.status_code == 302 and len(queued) == 1
    page = web.get(response["Location"]).content.decode()
    assert "正在后台预检 2 行" in page and 'data-testid="dry-run-summary"' not in page
    assert 'data-testid="import-checking"' in page and 'hx-trigger="every 3s"' in page  # refreshes itself
    assert 'role="alert"' not in page  # a notice, not an error
    queued[0]()
    page = web.get(response["Location"]).content.decode()
    assert "正在后台预检" not in page and 'data-testid="dry-run-summary"' in page


def test_an_update_writes_the_search_tokens_of_the_search_index_and_the_owner_history(
        tenant_a, people, in_tenant, django_capture_on_commit_callbacks):
    from crm.customers import search

    capture = django_capture_on_commit_callbacks
    header = ["名称", "电话", "外部编号", "负责人邮箱"]
    with in_tenant(tenant_a):
        _import(people["admin"], [header, ["令牌更新测试有限公司", "0571-1234 5678", "TK-1", "sales@alpha.example.com"]],
                capture=capture)
        job = _import(people["admin"], [header, ["令牌更新后的名字有限公司", "0571-8765 4321", "TK-1",
                                                 "sales2@alpha.example.com"]], capture=capture)
        assert (job.created_rows, job.updated_rows) == (0, 1)
        customer = Customer.objects.get(external_id="TK-1")
        written = customer.search_vector
        assert customer.owner == people["sales2"] and customer.phone_digits == "057187654321"
        assert "'u:后'" in written and "'u:测'" not in written and f"'so:{people['sales2'].pk}'" in written
        search.customer_index([customer.pk])
        customer.refresh_from_db()
        assert customer.search_vector == written
        moves = OwnershipChange.objects.filter(customer=customer).order_by("id")
        assert [(m.reason, m.from_owner_id, m.to_owner_id) for m in moves] == [
            ("created", None, people["sales"].pk), ("transfer", people["sales"].pk, people["sales2"].pk)]
        entry = AuditEntry.objects.get(content_type__model="customer", object_id=str(customer.pk), action="update")
        moved = {"owner"} | ({"department"} if people["sales"].department_id != people["sales2"].department_id else set())
        assert set(entry.changes) == {"name", "phone"} | moved
        assert entry.changes["owner"] == {"old": people["sales"].pk, "new": people["sales2"].pk}


def test_pinyin_from_cached_runs_is_that_of_the_whole_text():
    import random

    from pypinyin import lazy_pinyin

    from crm.customers import search

    rnd = random.Random(5)
    pool = "重庆长沙银行行长华为思壮合众有限公司股份集团〇𠀀𪚥乐音乐快乐" + "abcXYZ0123456789_-（）() ·"
    texts = ["重庆银行", "长沙行长", "音乐乐器", "A股重庆2号长沙", "华为（深圳）有限公司", "𠀀〇𪚥", "abc", ""]
    texts += ["".join(rnd.choice(pool) for _ in range(rnd.randint(1, 24))) for _ in range(3000)]
    for text in texts:
        folded = search._fold(text)
        assert search._pinyin(folded) == [s for s in lazy_pinyin(folded, errors="ignore") if s], text
