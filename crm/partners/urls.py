"""Staff web pages of partners (/partners/...)."""

from django.urls import path

from . import views

app_name = "partners"

urlpatterns = [
    path("", views.partner_list, name="list"),
    path("new/", views.partner_create, name="create"),
    path("inbox/", views.inbox, name="inbox"),
    path("ranking/", views.ranking, name="ranking"),
    path("settings/", views.channel_settings, name="settings"),
    path("notices/", views.notice_admin, name="notices"),
    path("notices/<int:notice_id>/unpublish/", views.notice_unpublish, name="notice-unpublish"),
    path("deals/<int:deal_id>/decide/", views.deal_decide, name="deal-decide"),
    path("<int:partner_id>/", views.partner_detail, name="detail"),
    path("<int:partner_id>/edit/", views.partner_edit, name="edit"),
    path("<int:partner_id>/status/", views.partner_status, name="status"),
    path("<int:partner_id>/quotas/set/", views.quota_set, name="quota-set"),
    path("<int:partner_id>/quotas/<int:quota_id>/delete/", views.quota_delete, name="quota-delete"),
    path("<int:partner_id>/users/invite/", views.member_invite, name="member-invite"),
    path("<int:partner_id>/users/<int:member_id>/", views.member_change, name="member-change"),
    path("<int:partner_id>/<str:tab>/", views.partner_detail, name="tab"),
]
