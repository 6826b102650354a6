from django.shortcuts import render

from .modes import MODES


def landing(request):
    return render(request, "tenants/landing.html", {"modes": MODES.values()})
