app_name = "staff_accounts"

urlpatterns: list = []
