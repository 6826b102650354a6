from django.urls import path

from . import views

app_name = "signup"

urlpatterns = [
    path("pricing/", views.pricing, name="pricing"),
    path("signup/", views.signup, name="signup"),
    path("signup/check-slug/", views.slug_check, name="check-slug"),
    path("signup/progress/<str:token>/", views.progress, name="progress"),
    path("signup/progress/<str:token>/checkout/", views.checkout_retry, name="checkout"),
]
