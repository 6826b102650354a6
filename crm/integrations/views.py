"""Staff web pages of the integrations (the tenant admin): webhook endpoints (create, edit,
rotate the secret, deactivate, ping), the delivery log with each delivery's attempts and
replay, ERP clients (create, revoke) with the inbound message log, and the set-up help.
Thin: selectors in, services out. Secrets and tokens are shown once, in the response to the
POST that made them (never stored in the session or a message)."""

from __future__ import annotations

import json
from urllib.parse import urlencode

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.exceptions import ObjectDoesNotExist, PermissionDenied, ValidationError
from django.http import Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_POST

from crm.audit.selectors import audit_trail_for
from crm.org.services import StaleVersion
from crm.org.web import validation_messages as _messages_of

from . import conf, selectors, services
from .enums import (
    ALL_EVENTS,
    EVENT_TYPES_STORED,
    DeliveryStatus,
    InboundKind,
    InboundStatus,
    event_type_label,
)
from .forms import EndpointForm, ErpClientForm


# -- helpers ------------------------------------------------------------------------------------------
def _need_manager(request) -> None:
    from .permissions import can_manage_integrations

    if not can_manage_integrations(request.user):
        raise PermissionDenied(_("你没有管理系统集成的权限。"))


def manager_required(view):
    @login_required
    def wrapper(request, *args, **kwargs):
        _need_manager(request)
        try:
            return view(request, *args, **kwargs)
        except ObjectDoesNotExist:
            raise Http404 from None
    wrapper.__name__ = view.__name__
    wrapper.__doc__ = view.__doc__
    return wrapper


def _errors_into(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            for message in errors:
                form.add_error(field if field in form.fields else None, message)
    else:
        for message in exc.messages:
            form.add_error(None, message)



def _once(response):
    """A page that shows a secret: never cached."""
    response["Cache-Control"] = "no-store"
    return response


def _events_text(events: list[str]) -> str:
    if ALL_EVENTS in events:
        return _("全部事件")
    return "、".join(event_type_label(e) for e in events)


def _nav(current: str) -> dict:
    return {"subnav": current}


# -- overview: endpoints and ERP clients ----------------------------------------------------------------------
def _index(request, *, endpoint_form=None, client_form=None, status=200):
    endpoints = list(selectors.webhook_endpoint_list_visible_to(actor=request.user))
    for endpoint in endpoints:
        endpoint.events_text = _events_text(endpoint.events)
    return render(request, "integrations/index.html", {
        **_nav("index"), "endpoints": endpoints,
        "clients": selectors.erp_client_list_visible_to(actor=request.user),
        "endpoint_form": endpoint_form or EndpointForm(initial={"events": [ALL_EVENTS]}),
        "client_form": client_form or ErpClientForm(),
    }, status=status)


@manager_required
def index(request):
    return _index(request)


@manager_required
@require_POST
def endpoint_create(request):
    form = EndpointForm(request.POST)
    if form.is_valid():
        try:
            endpoint = services.webhook_endpoint_create(
                actor=request.user, url=form.cleaned_data["url"], events=form.cleaned_data["events"],
                description=form.cleaned_data["description"])
        except ValidationError as exc:
            _errors_into(form, exc)
        else:
            return _once(render(request, "integrations/secret_once.html", {
                **_nav("index"), "endpoint": endpoint, "secret": endpoint.secret, "created": True}))
    return _index(request, endpoint_form=form, status=400)


@manager_required
def endpoint_detail(request, endpoint_id: int):
    endpoint = selectors.webhook_endpoint_get(actor=request.user, endpoint_id=endpoint_id)
    form = EndpointForm(initial={"url": endpoint.url, "description": endpoint.description,
                                 "events": endpoint.events, "version": endpoint.version})
    status = 200
    if request.method == "POST":
        form = EndpointForm(request.POST)
        if form.is_valid():
            try:
                services.webhook_endpoint_update(actor=request.user, endpoint_id=endpoint.pk, data={
                    "url": form.cleaned_data["url"], "description": form.cleaned_data["description"],
                    "events": form.cleaned_data["events"]}, version=form.cleaned_data.get("version"))
            except StaleVersion:
                form.add_error(None, _("这个接收地址已被他人修改，请刷新后重试。"))
            except ValidationError as exc:
                _errors_into(form, exc)
            else:
                messages.success(request, _("接收地址已保存。"))
                return redirect("integrations:endpoint", endpoint_id=endpoint.pk)
        status = 400
    endpoint.events_text = _events_text(endpoint.events)
    return render(request, "integrations/endpoint_detail.html", {
        **_nav("index"), "endpoint": endpoint, "form": form,
        "deliveries": selectors.webhook_deliveries_recent_for(endpoint=endpoint),
        "trail": audit_trail_for(instance=endpoint, limit=20)}, status=status)


@manager_required
@require_POST
def endpoint_rotate(request, endpoint_id: int):
    selectors.webhook_endpoint_get(actor=request.user, endpoint_id=endpoint_id)
    endpoint = services.webhook_endpoint_rotate_secret(actor=request.user, endpoint_id=endpoint_id)
    return _once(render(request, "integrations/secret_once.html", {
        **_nav("index"), "endpoint": endpoint, "secret": endpoint.secret, "created": False,
        "grace_hours": conf.secret_grace_hours()}))


@manager_required
@require_POST
def endpoint_active(request, endpoint_id: int):
    selectors.webhook_endpoint_get(actor=request.user, endpoint_id=endpoint_id)
    if request.POST.get("active") == "1":
        services.webhook_endpoint_activate(actor=request.user, endpoint_id=endpoint_id)
        messages.success(request, _("接收地址已启用。"))
    else:
        services.webhook_endpoint_deactivate(actor=request.user, endpoint_id=endpoint_id)
        messages.success(request, _("接收地址已停用，等待中的投递不再发送。"))
    return redirect("integrations:endpoint", endpoint_id=endpoint_id)


@manager_required
@require_POST
def endpoint_ping(request, endpoint_id: int):
    selectors.webhook_endpoint_get(actor=request.user, endpoint_id=endpoint_id)
    try:
        delivery = services.webhook_endpoint_ping(actor=request.user, endpoint_id=endpoint_id)
    except ValidationError as exc:
        for message in _messages_of(exc):
            messages.error(request, message)
        return redirect("integrations:endpoint", endpoint_id=endpoint_id)
    messages.success(request, _("测试事件已发出，结果见下方的尝试记录。"))
    return redirect("integrations:delivery", delivery_id=delivery.pk)


# -- deliveries --------------------------------------------------------------------------------------------------
@manager_required
def deliveries(request):
    wanted = {"endpoint": request.GET.get("endpoint", ""), "event_type": request.GET.get("event_type", ""),
              "status": request.GET.get("status", "")}
    error = None
    try:
        page = selectors.webhook_delivery_list(actor=request.user, endpoint_id=wanted["endpoint"],
                                               event_type=wanted["event_type"], status=wanted["status"],
                                               cursor=request.GET.get("cursor"))
    except ValidationError as exc:
        error = " ".join(_messages_of(exc))
        page = selectors.Page()
    query = urlencode({k: v for k, v in wanted.items() if v})
    return render(request, "integrations/deliveries.html", {
        **_nav("deliveries"), "page": page, "wanted": wanted, "error": error, "query": query,
        "endpoints": selectors.webhook_endpoint_list_visible_to(actor=request.user),
        "event_types": [(t, event_type_label(t)) for t in EVENT_TYPES_STORED],
        "statuses": DeliveryStatus.choices}, status=400 if error else 200)


@manager_required
def delivery_detail(request, delivery_id: int):
    delivery = selectors.webhook_delivery_get(actor=request.user, delivery_id=delivery_id)
    return render(request, "integrations/delivery_detail.html", {
        **_nav("deliveries"), "delivery": delivery, "attempts": list(delivery.attempt_log.all()),
        "event_label": event_type_label(delivery.event_type),
        "payload": json.dumps(delivery.event.payload, ensure_ascii=False, indent=2)})


@manager_required
def delivery_attempts(request, delivery_id: int):
    """The attempts of one delivery, for the log's inline expansion (htmx)."""
    delivery = selectors.webhook_delivery_get(actor=request.user, delivery_id=delivery_id)
    return render(request, "integrations/_attempts.html", {"delivery": delivery,
                                                           "attempts": list(delivery.attempt_log.all())})


@manager_required
@require_POST
def delivery_replay(request, delivery_id: int):
    selectors.webhook_delivery_get(actor=request.user, delivery_id=delivery_id)
    try:
        services.webhook_delivery_replay(actor=request.user, delivery_id=delivery_id)
    except ValidationError as exc:
        for message in _messages_of(exc):
            messages.error(request, message)
    else:
        messages.success(request, _("已重新发送，结果见尝试记录。"))
    return redirect("integrations:delivery", delivery_id=delivery_id)


# -- ERP clients and their messages ---------------------------------------------------------------------------------
@manager_required
@require_POST
def client_create(request):
    form = ErpClientForm(request.POST)
    if form.is_valid():
        try:
            client, token = services.erp_client_create(actor=request.user, name=form.cleaned_data["name"],
                                                       scopes=form.cleaned_data["scopes"])
        except ValidationError as exc:
            _errors_into(form, exc)
        else:
            return _once(render(request, "integrations/token_once.html", {
                **_nav("index"), "client": client, "token": token,
                "base_url": request.build_absolute_uri("/api/v1/erp/")}))
    return _index(request, client_form=form, status=400)


@manager_required
@require_POST
def client_revoke(request, client_id: int):
    client = selectors.erp_client_get(actor=request.user, client_id=client_id)
    services.erp_client_revoke(actor=request.user, client_id=client_id)
    messages.success(request, _("已吊销“%(name)s”的令牌，它将无法再调用 ERP 接口。") % {"name": client.name})
    return redirect(reverse("integrations:index") + "#erp-clients")


@manager_required
def inbound(request):
    wanted = {"client": request.GET.get("client", ""), "kind": request.GET.get("kind", ""),
              "status": request.GET.get("status", "")}
    error = None
    try:
        page = selectors.inbound_message_list(actor=request.user, client_id=wanted["client"], kind=wanted["kind"],
                                              status=wanted["status"], cursor=request.GET.get("cursor"))
    except ValidationError as exc:
        error = " ".join(_messages_of(exc))
        page = selectors.Page()
    for message in page.items:
        message.payload_text = json.dumps(message.payload, ensure_ascii=False, indent=2)
        message.result_text = json.dumps(message.result, ensure_ascii=False, indent=2)
    query = urlencode({k: v for k, v in wanted.items() if v})
    return render(request, "integrations/inbound.html", {
        **_nav("inbound"), "page": page, "wanted": wanted, "error": error, "query": query,
        "clients": selectors.erp_client_list_visible_to(actor=request.user),
        "kinds": InboundKind.choices, "statuses": InboundStatus.choices}, status=400 if error else 200)


@manager_required
def help_page(request):
    schedule = conf.retry_schedule()
    return render(request, "integrations/help.html", {
        **_nav("help"), "schedule": [_duration(s) for s in schedule], "max_attempts": conf.max_attempts(),
        "tolerance": conf.signature_tolerance(), "grace_hours": conf.secret_grace_hours(),
        "connect_timeout": conf.timeouts()[0], "read_timeout": conf.timeouts()[1],
        "api_base": request.build_absolute_uri("/api/v1/")})


def _duration(seconds: int) -> str:
    if seconds % 3600 == 0:
        return _("%(n)s 小时") % {"n": seconds // 3600}
    if seconds % 60 == 0:
        return _("%(n)s 分钟") % {"n": seconds // 60}
    return _("%(n)s 秒") % {"n": seconds}
