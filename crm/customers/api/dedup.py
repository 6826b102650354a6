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
        groups = dedup.duplicate_groups_with_customers(actor=request.user)
        return Response({"groups": [{
            "reasons": g["reasons"],
            "customers": [{"id": c.pk, "name": c.name, "phone": c.phone, "email": c.email,
                           "owner": c.owner.full_name if c.owner else None,
                           "created_at": c.created_at} for c in g["customers"]],
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
