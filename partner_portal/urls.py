from django.urls import path

from . import views

app_name = "portal"

urlpatterns = [
    path("", views.HomeView.as_view(), name="home"),
    path("login/", views.PortalLoginView.as_view(), name="login"),
    path("logout/", views.PortalLogoutView.as_view(), name="logout"),
    path("password-reset/", views.PortalPasswordResetView.as_view(), name="password-reset"),
    path("password-reset/sent/", views.PortalPasswordResetDoneView.as_view(), name="password-reset-done"),
    path("reset/<uidb64>/<token>/", views.PortalPasswordSetView.as_view(), name="password-set"),
    path("reset/done/", views.PortalPasswordSetDoneView.as_view(), name="password-set-done"),
    path("catalog/", views.CatalogView.as_view(), name="catalog"),
    path("cart/", views.CartView.as_view(), name="cart"),
    path("cart/add/", views.CartAddView.as_view(), name="cart-add"),
    path("cart/preview/", views.CartPreviewView.as_view(), name="cart-preview"),
    path("orders/", views.OrderListView.as_view(), name="orders"),
    path("orders/<int:order_id>/", views.OrderDetailView.as_view(), name="order"),
    path("orders/<int:order_id>/edit/", views.OrderEditView.as_view(), name="order-edit"),
    *[path(f"orders/<int:order_id>/{action}/", views.OrderActionView.as_view(), {"action": action},
           name=f"order-{action}") for action in ("submit", "recall", "cancel", "reorder")],
    path("statements/", views.StatementsView.as_view(), name="statements"),
    path("customers/", views.CustomersView.as_view(), name="customers"),
    path("deals/", views.DealsView.as_view(), name="deals"),
    path("deals/<int:deal_id>/withdraw/", views.DealWithdrawView.as_view(), name="deal-withdraw"),
    path("users/", views.UsersView.as_view(), name="users"),
    path("users/sales-visibility/", views.SalesVisibilityView.as_view(), name="users-visibility"),
    *[path(f"users/<int:member_id>/{action}/", views.UserActionView.as_view(), {"action": action},
           name=f"user-{action}") for action in ("role", "deactivate", "reactivate")],
    path("notifications/", views.NotificationsView.as_view(), name="notifications"),
]
