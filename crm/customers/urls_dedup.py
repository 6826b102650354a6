"""Web pages of the duplicate review (mounted at /customers/duplicates/)."""

from django.urls import path

from . import views_dedup

app_name = "customers_dedup"
urlpatterns = [
    path("", views_dedup.review, name="review"),
    path("merge/", views_dedup.merge, name="merge"),
    path("merges/<int:merge_id>/undo/", views_dedup.undo, name="undo"),
]
