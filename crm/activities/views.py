from django.contrib.auth.decorators import login_required
from django.shortcuts import render

from .selectors import today_for


@login_required
def today(request):
    return render(request, "activities/today.html", today_for(actor=request.user))
