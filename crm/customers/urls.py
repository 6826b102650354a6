"""Staff web pages of customers and contacts."""

app_name = "customers"
urlpatterns: list = []
