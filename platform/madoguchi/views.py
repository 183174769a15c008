from __future__ import annotations

from django.http import HttpRequest, HttpResponse
from django.shortcuts import render


def vendor_home(request: HttpRequest) -> HttpResponse:
    from tenants.selectors import municipality_list

    return render(
        request, "public/home.html", {"municipalities": municipality_list().filter(status="active")}
    )


def city_home(request: HttpRequest) -> HttpResponse:
    return render(request, "city/home.html")
