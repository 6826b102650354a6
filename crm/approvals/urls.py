from django.urls import path

from . import views

app_name = "approvals"

urlpatterns = [
    path("", views.inbox, name="inbox"),
    path("mine/", views.mine, name="mine"),
    path("<int:request_id>/", views.detail, name="detail"),
    path("<int:request_id>/decide", views.decide, name="decide"),
    path("<int:request_id>/recall", views.recall, name="recall"),
    path("policies/", views.policies, name="policies"),
    path("policies/<slug:doc_type>/", views.policy_edit, name="policy-edit"),
    path("delegations/", views.delegations, name="delegations"),
    path("delegations/<int:delegation_id>/end", views.delegation_end, name="delegation-end"),
]
