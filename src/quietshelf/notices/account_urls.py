from django.urls import path

from quietshelf.notices import views

app_name = "account_notices"

urlpatterns = [
    path("", views.account_history, name="history"),
]
