"""Web pages of the dedup part of the customers app."""

app_name = "customers_dedup"
urlpatterns: list = []
