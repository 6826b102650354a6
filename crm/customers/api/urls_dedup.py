"""URL patterns added by the dedup part of the customers app."""

urlpatterns: list = []
