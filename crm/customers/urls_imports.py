"""Web pages of the imports part of the customers app."""

app_name = "customers_imports"
urlpatterns: list = []
