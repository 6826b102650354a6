"""Staff web pages of customer imports: upload -> mapping -> dry-run review -> run with a
progress bar (htmx polling) -> result with the error report; and list exports. Thin: the
work is in crm.customers.imports and crm.customers.exports."""

from __future__ import annotations

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ValidationError
from django.http import Http404, HttpResponse, HttpResponseBadRequest
from django.shortcuts import redirect, render
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy
from django.views.decorators.http import require_POST

from crm.org.web import validation_messages as _messages_of

from . import imports, selectors
from .models import ImportJob

ENCODING_CHOICES = (("auto", gettext_lazy("自动识别")), ("utf-8", "UTF-8"), ("gbk", "GBK / GB18030"))



def _job_or_404(request, job_id) -> ImportJob:
    try:
        return imports.import_job_get_for_actor(actor=request.user, job_id=job_id)
    except ImportJob.DoesNotExist:
        raise Http404 from None


def _start_page(request, *, errors=(), status=200):
    jobs = imports.import_job_list_visible_to(actor=request.user).defer("content", "error_report", "dry_run")[:20]
    return render(request, "customers/import_start.html", {
        "jobs": jobs, "templates": imports.import_template_list(), "errors": errors,
        "limit": imports.MAX_UPLOAD_LABEL, "max_rows": f"{imports.MAX_ROWS:,}",
        "encodings": ENCODING_CHOICES, "fields": imports.FIELDS,
    }, status=status)


@login_required
def import_start(request):
    if request.method != "POST":
        return _start_page(request)
    upload = request.FILES.get("file")
    if upload is None:
        return _start_page(request, errors=[_("请选择要上传的文件（CSV 或 XLSX）。")], status=400)
    if upload.size > imports.MAX_UPLOAD_BYTES:
        return _start_page(request, errors=[_("文件大小 %(size)s 超过上限 %(limit)s。") % {
            "size": f"{upload.size / 1024 / 1024:.1f} MB", "limit": imports.MAX_UPLOAD_LABEL}], status=400)
    template = request.POST.get("template", "")
    try:
        job = imports.import_job_create(actor=request.user, file_name=upload.name, content=upload.read(),
                                        encoding=request.POST.get("encoding", "auto"),
                                        template_id=int(template) if template.isdigit() else None)
    except ValidationError as exc:
        return _start_page(request, errors=_messages_of(exc), status=400)
    return redirect("customers_imports:detail", job_id=job.pk)


def _mapping_rows(job: ImportJob) -> list[dict]:
    headers = job.dry_run.get("headers", [])
    return [{"index": i, "header": h, "field": job.mapping.get(h, "")} for i, h in enumerate(headers)]


@login_required
def import_detail(request, job_id: int):
    job = _job_or_404(request, job_id)
    return render(request, "customers/import_detail.html", {
        "job": job, "mapping_rows": _mapping_rows(job), "fields": imports.FIELDS,
        "summary": job.dry_run.get("summary", {}), "findings": job.dry_run.get("rows", []),
        "encodings": ENCODING_CHOICES,
        "editable": job.status in (ImportJob.Status.UPLOADED, ImportJob.Status.CHECKED),
        "runnable": job.status in (ImportJob.Status.CHECKED, ImportJob.Status.FAILED),
        "started": job.status in (ImportJob.Status.QUEUED, ImportJob.Status.RUNNING, ImportJob.Status.DONE,
                                  ImportJob.Status.FAILED),
        "kept": imports.DRY_RUN_ROWS_KEPT,
    })


@login_required
@require_POST
def import_mapping(request, job_id: int):
    job = _job_or_404(request, job_id)
    headers = job.dry_run.get("headers", [])
    mapping = {h: request.POST.get(f"map-{i}", "") for i, h in enumerate(headers)}
    encoding = request.POST.get("encoding") if job.file_format == "csv" else None
    try:
        imports.import_job_check(actor=request.user, job_id=job.pk, mapping=mapping, encoding=encoding,
                                 template_name=request.POST.get("template_name", "").strip())
    except ValidationError as exc:
        for message in _messages_of(exc):
            messages.error(request, message)
    else:
        messages.success(request, _("已按新的列映射重新预检。"))
    return redirect("customers_imports:detail", job_id=job.pk)


@login_required
@require_POST
def import_run(request, job_id: int):
    job = _job_or_404(request, job_id)
    try:
        _job, queued = imports.import_job_run(actor=request.user, job_id=job.pk,
                                              allow_duplicates=request.POST.get("allow_duplicates") == "on")
    except ValidationError as exc:
        for message in _messages_of(exc):
            messages.error(request, message)
    else:
        if queued:
            messages.success(request, _("导入已开始，可以离开本页，稍后回来查看结果。"))
        else:
            messages.info(request, _("这个导入已经在运行或已完成，没有重复执行。"))
    return redirect("customers_imports:detail", job_id=job.pk)


@login_required
def import_progress(request, job_id: int):
    """The progress bar; htmx polls it until the job is done or failed."""
    job = _job_or_404(request, job_id)
    return render(request, "customers/import_progress.html", {"job": job})


@login_required
def import_errors(request, job_id: int):
    job = _job_or_404(request, job_id)
    response = HttpResponse(job.error_report or "\ufeff", content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-errors.csv"'
    return response


@login_required
def customer_export(request):
    """Any filtered customer list (the list's query parameters) as CSV or XLSX."""
    from .api.imports import export_response

    fmt = request.GET.get("format", "csv")
    if fmt not in ("csv", "xlsx"):
        return HttpResponseBadRequest(_("导出格式必须是 csv 或 xlsx。"))
    try:
        qs = selectors.customer_list_filter(selectors.customer_list_visible_to(actor=request.user), request.GET)
        return export_response(qs, fmt)
    except ValidationError as exc:
        return HttpResponseBadRequest(" ".join(_messages_of(exc)))
