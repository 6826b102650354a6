from django.urls import path

from . import views

urlpatterns = [
    path("approvals/inbox", views.ApprovalInboxApi.as_view(), name="api-approvals-inbox"),
    path("approvals/waiting-count", views.ApprovalWaitingCountApi.as_view(), name="api-approvals-waiting-count"),
    path("approvals/submissions", views.ApprovalSubmissionsApi.as_view(), name="api-approvals-submissions"),
    path("approvals/<int:request_id>/", views.ApprovalDetailApi.as_view(), name="api-approval"),
    path("approvals/<int:request_id>/approve", views.ApprovalApproveApi.as_view(), name="api-approval-approve"),
    path("approvals/<int:request_id>/reject", views.ApprovalRejectApi.as_view(), name="api-approval-reject"),
    path("approvals/<int:request_id>/recall", views.ApprovalRecallApi.as_view(), name="api-approval-recall"),
    path("approval-policies/", views.ApprovalPolicyListApi.as_view(), name="api-approval-policies"),
    path("approval-policies/<slug:doc_type>", views.ApprovalPolicyDetailApi.as_view(), name="api-approval-policy"),
    path("delegations/", views.DelegationListApi.as_view(), name="api-delegations"),
    path("delegations/<int:delegation_id>/end", views.DelegationEndApi.as_view(), name="api-delegation-end"),
]
