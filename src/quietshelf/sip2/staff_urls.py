from django.urls import path

from quietshelf.sip2 import views

app_name = "staff_sip2"

urlpatterns = [
    path("", views.terminals, name="terminals"),
    path("<int:terminal_id>/", views.terminal, name="terminal"),
    path("<int:terminal_id>/password/", views.new_password, name="password"),
]
