"""The de-duplication pass through the API: scan, merge, undo."""

from django.http import Http404
from drf_spectacular.utils import extend_schema, inline_serializer
from rest_framework import serializers, status
from rest_framework.response import Response

from crm.customers import dedup
from crm.customers.models import Customer, MergeRecord
from crm.org.api.base import StaffApiView


class MergeRequestSerializer(serializers.Serializer):
    survivor_id = serializers.IntegerField()
    merged_id = serializers.IntegerField()


class MergeRecordSerializer(serializers.ModelSerializer):
    class Meta:
        model = MergeRecord
        fields = ["id", "survivor", "merged", "moved", "actor", "at", "undone_at", "undone_by"]


class DuplicateScanApi(StaffApiView):
    @extend_schema(tags=["customers"], responses={200: inline_serializer("DuplicateGroups", {
        "groups": serializers.ListField(child=serializers.DictField())})})
    def get(self, request):
        groups = dedup.duplicate_groups(actor=request.user)
        ids = {pk for g in groups for pk in g.ids}
        rows = {c.pk: c for c in Customer.objects.filter(pk__in=ids).select_related("owner")}
        return Response({"groups": [{
            "reasons": sorted(g.reasons),
            "customers": [{"id": pk, "name": rows[pk].name, "phone": rows[pk].phone, "email": rows[pk].email,
                           "owner": rows[pk].owner.full_name if rows[pk].owner else None,
                           "created_at": rows[pk].created_at} for pk in g.ids if pk in rows],
        } for g in groups]})


class MergeApi(StaffApiView):
    @extend_schema(tags=["customers"], request=MergeRequestSerializer, responses={201: MergeRecordSerializer})
    def post(self, request):
        data = MergeRequestSerializer(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            record = dedup.customer_merge(actor=request.user, **data.validated_data)
        except Customer.DoesNotExist:
            raise Http404 from None
        return Response(MergeRecordSerializer(record).data, status=status.HTTP_201_CREATED)


class MergeUndoApi(StaffApiView):
    @extend_schema(tags=["customers"], request=None, responses={200: MergeRecordSerializer})
    def post(self, request, merge_id: int):
        try:
            record = dedup.customer_merge_undo(actor=request.user, merge_id=merge_id)
        except MergeRecord.DoesNotExist:
            raise Http404 from None
        return Response(MergeRecordSerializer(record).data)
