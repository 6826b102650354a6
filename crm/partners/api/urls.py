from django.urls import path

from . import views

urlpatterns = [
    path("partners/", views.PartnerListApi.as_view(), name="api-partners"),
    path("partners/tiers/", views.TierListApi.as_view(), name="api-partner-tiers"),
    path("partners/ranking", views.RankingApi.as_view(), name="api-partner-ranking"),
    path("partners/deals/", views.DealListApi.as_view(), name="api-partner-deals"),
    path("partners/deals/<int:deal_id>/decide", views.DealDecideApi.as_view(), name="api-partner-deal-decide"),
    path("partners/<int:partner_id>/", views.PartnerDetailApi.as_view(), name="api-partner"),
    path("partners/<int:partner_id>/status", views.PartnerStatusApi.as_view(), name="api-partner-status"),
    path("partners/<int:partner_id>/users/", views.PartnerUsersApi.as_view(), name="api-partner-users"),
    path("partners/<int:partner_id>/users/<int:member_id>/role", views.PartnerUserRoleApi.as_view(),
         name="api-partner-user-role"),
    path("partners/<int:partner_id>/users/<int:member_id>/active", views.PartnerUserActiveApi.as_view(),
         name="api-partner-user-active"),
    path("partners/<int:partner_id>/quotas/", views.PartnerQuotasApi.as_view(), name="api-partner-quotas"),
    path("partners/<int:partner_id>/quotas/<int:quota_id>", views.PartnerQuotaDetailApi.as_view(),
         name="api-partner-quota"),
    path("partners/<int:partner_id>/attainment", views.PartnerAttainmentApi.as_view(), name="api-partner-attainment"),
]
