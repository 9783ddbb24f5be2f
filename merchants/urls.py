from django.urls import path

from merchants import views

urlpatterns = [
    path("merchants/", views.bonus_merchants, name="bonus-merchants"),
]
