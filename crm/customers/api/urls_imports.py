"""URL patterns added by the imports part of the customers app."""

urlpatterns: list = []
