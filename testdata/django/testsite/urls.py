from django.contrib import admin
from django.urls import path

from demo import views

urlpatterns = [
    path("admin/", admin.site.urls),
    path("json/", views.json_view),
    path("form/", views.form_view),
    path("upload/", views.upload_view),
    path("stream/", views.stream_view),
    path("echo/", views.echo_view),
    path("error/", views.error_view),
    path("version/", views.version_view),
]
