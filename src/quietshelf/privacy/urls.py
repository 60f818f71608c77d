from django.urls import path

from quietshelf.privacy import views

app_name = "privacy"

urlpatterns = [
    path("", views.statement, name="statement"),
    path("acknowledge/", views.acknowledge, name="acknowledge"),
    path("policy/<str:version>/", views.policy_text, name="policy"),
]
