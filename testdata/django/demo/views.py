import hashlib
import json
import platform

import django

from django.http import HttpResponseBadRequest, JsonResponse, StreamingHttpResponse
from django.middleware.csrf import get_token
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET, require_http_methods, require_POST


@require_http_methods(["GET", "POST"])
def json_view(request):
    if request.method == "GET":
        return JsonResponse({"framework": "django", "path": request.path})
    # JSON API clients do not carry a CSRF token; the view still parses
    # the body itself.
    try:
        data = json.loads(request.body)
    except ValueError:
        return HttpResponseBadRequest("invalid JSON")
    return JsonResponse({"received": data, "keys": sorted(data)})


json_view = csrf_exempt(json_view)


@require_http_methods(["GET", "POST"])
def form_view(request):
    # GET hands out the CSRF token (and sets the csrftoken cookie) that
    # the POST must send back; CsrfViewMiddleware rejects a POST without it.
    if request.method == "GET":
        return JsonResponse({"csrftoken": get_token(request)})
    return JsonResponse(
        {
            "fields": {key: request.POST.getlist(key) for key in request.POST if key != "csrfmiddlewaretoken"},
            "content_type": request.content_type,
        }
    )


@csrf_exempt
@require_POST
def upload_view(request):
    upload = request.FILES["file"]
    digest = hashlib.sha256()
    size = 0
    for chunk in upload.chunks():
        size += len(chunk)
        digest.update(chunk)
    return JsonResponse(
        {
            "filename": upload.name,
            "size": size,
            "sha256": digest.hexdigest(),
            "handler": type(upload).__name__,
            "note": request.POST.get("note"),
        }
    )


@require_GET
def stream_view(request):
    count = int(request.GET.get("chunks", "200"))

    def generate():
        for i in range(count):
            yield f"line {i:04d}\n"

    return StreamingHttpResponse(generate(), content_type="text/plain")


@csrf_exempt
@require_POST
def echo_view(request):
    body = request.body
    return JsonResponse(
        {
            "size": len(body),
            "sha256": hashlib.sha256(body).hexdigest(),
            "content_length": request.META.get("CONTENT_LENGTH"),
        }
    )


def error_view(request):
    raise RuntimeError("deliberate failure in django view")


@require_GET
def version_view(request):
    # Which Django and Python serve: Debian's or a virtualenv's.
    return JsonResponse({"version": django.get_version(), "file": django.__file__, "python": platform.python_version()})
