from django.urls import path

from . import views

urlpatterns = [
    path("opportunities/", views.OpportunityListApi.as_view(), name="api-opportunities"),
    path("opportunities/<int:opportunity_id>/", views.OpportunityDetailApi.as_view(), name="api-opportunity"),
    path("opportunities/<int:opportunity_id>/stage", views.OpportunityStageApi.as_view(),
         name="api-opportunity-stage"),
    path("opportunities/<int:opportunity_id>/won", views.OpportunityWonApi.as_view(), name="api-opportunity-won"),
    path("opportunities/<int:opportunity_id>/lost", views.OpportunityLostApi.as_view(), name="api-opportunity-lost"),
    path("opportunities/<int:opportunity_id>/reopen", views.OpportunityReopenApi.as_view(),
         name="api-opportunity-reopen"),
    path("quotes/", views.QuoteListApi.as_view(), name="api-quotes"),
    path("quotes/<int:quote_id>/", views.QuoteDetailApi.as_view(), name="api-quote"),
    path("quotes/<int:quote_id>/send", views.QuoteSendApi.as_view(), name="api-quote-send"),
    path("quotes/<int:quote_id>/recall", views.QuoteRecallApi.as_view(), name="api-quote-recall"),
    path("quotes/<int:quote_id>/reopen", views.QuoteReopenApi.as_view(), name="api-quote-reopen"),
    path("quotes/<int:quote_id>/accept", views.QuoteAcceptApi.as_view(), name="api-quote-accept"),
    path("quotes/<int:quote_id>/reject", views.QuoteRejectApi.as_view(), name="api-quote-reject"),
    path("forecast", views.ForecastApi.as_view(), name="api-forecast"),
]
