"""API of the de-duplication pass."""

from django.urls import path

from . import dedup

urlpatterns = [
    path("customers/duplicates", dedup.DuplicateScanApi.as_view(), name="api-customers-duplicates"),
    path("customers/merge", dedup.MergeApi.as_view(), name="api-customers-merge"),
    path("customers/merges/<int:merge_id>/undo", dedup.MergeUndoApi.as_view(), name="api-customers-merge-undo"),
]
