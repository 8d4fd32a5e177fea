"""URLs of the second SCIM server: django-scim2-server's views under ``/scim/v2/``, as its README says."""

from __future__ import annotations

from django.urls import include, path

urlpatterns = [path("scim/v2/", include("django_scim2_server.urls"))]
