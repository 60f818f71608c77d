app_name = "staff_patrons"

urlpatterns: list = []
