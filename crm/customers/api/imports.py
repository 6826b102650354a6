"""Staff API for customer imports (upload with a dry run, mapping, run, error report) and
exports of any filtered customer list."""

from __future__ import annotations

import json

from django.http import FileResponse, Http404, HttpResponse, StreamingHttpResponse
from django.utils.translation import gettext as _
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, JSONParser, MultiPartParser
from rest_framework.renderers import JSONRenderer
from rest_framework.response import Response

from crm.customers import exports, imports, selectors
from crm.customers.models import ImportJob, ImportTemplate
from crm.org.api.base import StaffApiView


class ImportJobSerializer(serializers.ModelSerializer):
    created_by_name = serializers.CharField(source="created_by.full_name", read_only=True, default=None)
    progress = serializers.SerializerMethodField()
    errors_url = serializers.SerializerMethodField()

    class Meta:
        model = ImportJob
        fields = ["id", "file_name", "file_format", "encoding", "mapping", "status", "total_rows",
                  "processed_rows", "created_rows", "updated_rows", "rejected_rows", "progress",
                  "dry_run", "error", "errors_url", "created_by", "created_by_name", "created_at",
                  "finished_at"]
        read_only_fields = fields

    def get_progress(self, job) -> float:
        return round(100.0 * job.processed_rows / job.total_rows, 1) if job.total_rows else 0.0

    def get_errors_url(self, job) -> str | None:
        return f"/api/v1/customers/imports/{job.pk}/errors.csv" if job.rejected_rows else None


class ImportJobListSerializer(ImportJobSerializer):
    class Meta(ImportJobSerializer.Meta):
        fields = [f for f in ImportJobSerializer.Meta.fields if f not in ("dry_run", "mapping")]
        read_only_fields = fields


class ImportTemplateSerializer(serializers.ModelSerializer):
    class Meta:
        model = ImportTemplate
        fields = ["id", "name", "mapping", "created_at"]
        read_only_fields = ["id", "created_at"]


def _mapping_param(value):
    if value in (None, ""):
        return None
    if isinstance(value, dict):
        return value
    try:
        parsed = json.loads(value)
    except (TypeError, ValueError):
        raise serializers.ValidationError({"mapping": [_("列映射必须是 JSON 对象，例如 {\"客户名称\": \"name\"}。")]}) from None
    if not isinstance(parsed, dict):
        raise serializers.ValidationError({"mapping": [_("列映射必须是 JSON 对象，例如 {\"客户名称\": \"name\"}。")]})
    return parsed


def _job_or_404(request, job_id) -> ImportJob:
    try:
        return imports.import_job_get_for_actor(actor=request.user, job_id=job_id)
    except ImportJob.DoesNotExist:
        raise Http404 from None


class _PlainNegotiation:
    """``?format=csv`` names our file format, not a DRF renderer."""

    def perform_content_negotiation(self, request, force=False):
        return JSONRenderer(), JSONRenderer.media_type


class CustomerImportListApi(StaffApiView):
    parser_classes = [MultiPartParser, FormParser, JSONParser]

    @extend_schema(tags=["imports"], responses={200: ImportJobListSerializer(many=True)})
    def get(self, request):
        jobs = imports.import_job_list_visible_to(actor=request.user).defer("content", "error_report", "dry_run")
        return Response(ImportJobListSerializer(jobs[:100], many=True).data)

    @extend_schema(tags=["imports"], request={"multipart/form-data": inline_serializer("ImportUpload", {
        "file": serializers.FileField(), "encoding": serializers.CharField(required=False),
        "mapping": serializers.CharField(required=False, help_text='JSON {"file column": "field"}'),
        "template": serializers.IntegerField(required=False)})},
        responses={201: ImportJobSerializer})
    def post(self, request):
        upload = request.FILES.get("file")
        if upload is None:
            raise serializers.ValidationError({"file": [_("请选择要上传的文件（CSV 或 XLSX）。")]})
        if upload.size > imports.MAX_UPLOAD_BYTES:
            raise serializers.ValidationError({"file": [_("文件大小 %(size)s 超过上限 %(limit)s。") % {
                "size": f"{upload.size / 1024 / 1024:.1f} MB", "limit": imports.MAX_UPLOAD_LABEL}]})
        template = request.data.get("template") or None
        if template is not None and not str(template).isdigit():
            raise serializers.ValidationError({"template": [_("模板编号无效。")]})
        job = imports.import_job_create(actor=request.user, file_name=upload.name, content=upload.read(),
                                        encoding=str(request.data.get("encoding", "")),
                                        mapping=_mapping_param(request.data.get("mapping")),
                                        template_id=int(template) if template else None)
        return Response(ImportJobSerializer(job).data, status=status.HTTP_201_CREATED)


class CustomerImportDetailApi(StaffApiView):
    @extend_schema(tags=["imports"], responses={200: ImportJobSerializer})
    def get(self, request, job_id: int):
        return Response(ImportJobSerializer(_job_or_404(request, job_id)).data)

    @extend_schema(tags=["imports"], request=inline_serializer("ImportMapping", {
        "mapping": serializers.DictField(child=serializers.CharField(allow_blank=True)),
        "encoding": serializers.CharField(required=False),
        "template_name": serializers.CharField(required=False)}), responses={200: ImportJobSerializer})
    def patch(self, request, job_id: int):
        """Change the column mapping (or the encoding) and dry-run again."""
        _job_or_404(request, job_id)
        encoding = request.data.get("encoding")
        job = imports.import_job_check(actor=request.user, job_id=job_id,
                                       mapping=_mapping_param(request.data.get("mapping")),
                                       encoding=str(encoding) if encoding is not None else None,
                                       template_name=str(request.data.get("template_name", "")))
        return Response(ImportJobSerializer(job).data)


class CustomerImportRunApi(StaffApiView):
    @extend_schema(tags=["imports"], request=inline_serializer("ImportRun", {
        "allow_duplicates": serializers.BooleanField(required=False, default=False)}),
        responses={202: ImportJobSerializer, 200: ImportJobSerializer})
    def post(self, request, job_id: int):
        """Start the import. Idempotent: a job already queued, running or done answers 200
        with its state and is not run again."""
        _job_or_404(request, job_id)
        allow = request.data.get("allow_duplicates", False)
        allow = allow is True or str(allow).lower() in ("1", "true", "yes", "on")
        job, queued = imports.import_job_run(actor=request.user, job_id=job_id, allow_duplicates=allow)
        job.refresh_from_db()
        return Response(ImportJobSerializer(job).data,
                        status=status.HTTP_202_ACCEPTED if queued else status.HTTP_200_OK)


class CustomerImportErrorsApi(_PlainNegotiation, StaffApiView):
    @extend_schema(tags=["imports"], responses={(200, "text/csv"): str})
    def get(self, request, job_id: int):
        job = _job_or_404(request, job_id)
        response = HttpResponse(job.error_report or "\ufeff", content_type="text/csv; charset=utf-8")
        response["Content-Disposition"] = f'attachment; filename="import-{job.pk}-errors.csv"'
        return response


class ImportTemplateListApi(StaffApiView):
    @extend_schema(tags=["imports"], responses={200: ImportTemplateSerializer(many=True)})
    def get(self, request):
        return Response(ImportTemplateSerializer(imports.import_template_list(), many=True).data)

    @extend_schema(tags=["imports"], request=ImportTemplateSerializer, responses={201: ImportTemplateSerializer})
    def post(self, request):
        template = imports.import_template_save(actor=request.user, name=str(request.data.get("name", "")),
                                                mapping=_mapping_param(request.data.get("mapping")) or {})
        return Response(ImportTemplateSerializer(template).data, status=status.HTTP_201_CREATED)


class CustomerExportApi(_PlainNegotiation, StaffApiView):
    @extend_schema(tags=["customers"], parameters=[OpenApiParameter("format", str, enum=["csv", "xlsx"]),
                                                   OpenApiParameter("owner", int), OpenApiParameter("region", int),
                                                   OpenApiParameter("stage", str), OpenApiParameter("tag", str, many=True)],
                   responses={(200, "text/csv"): str,
                              (200, "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"): bytes})
    def get(self, request):
        """The customers the user may see, with the list's filters, as CSV or XLSX."""
        fmt = request.query_params.get("format", "csv")
        if fmt not in ("csv", "xlsx"):
            raise serializers.ValidationError({"format": [_("导出格式必须是 csv 或 xlsx。")]})
        qs = selectors.customer_list_filter(selectors.customer_list_visible_to(actor=request.user), request.query_params)
        return export_response(qs, fmt)


def export_response(qs, fmt: str):
    if fmt == "xlsx":
        handle = exports.export_xlsx_file(qs)
        return FileResponse(handle, as_attachment=True, filename=exports.export_file_name("xlsx"),
                            content_type="application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    response = StreamingHttpResponse(exports.export_csv_stream(qs), content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = f'attachment; filename="{exports.export_file_name("csv")}"'
    return response
