"""The WSGI applications of gowsgi's benchmark (bench/run), the same for
every server."""

import os
import time

HELLO = b"Hello, world!"


def hello(environ, start_response):
    """13 bytes."""
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "13")])
    return [HELLO]


def _flask_json():
    from flask import Flask, jsonify

    app = Flask("bench_json")
    data = {
        "items": [
            {"id": i, "name": f"item-{i}", "tags": ["alpha", "beta"], "price": i * 1.5, "stock": i % 7 == 0}
            for i in range(14)
        ]
    }

    @app.route("/")
    def index():
        return jsonify(data)

    return app


_json_app = None


def json(environ, start_response):
    """Flask's jsonify of about 1 KB. Flask is imported on the first call,
    so it weighs on no other application's memory."""
    global _json_app
    if _json_app is None:
        _json_app = _flask_json()
    return _json_app(environ, start_response)

HEADERS = ["HTTP_X_HEADER_%d" % i for i in range(10)]


def environ_heavy(environ, start_response):
    """Reads 10 request headers (X-Header-0 ... X-Header-9)."""
    total = 0
    for name in HEADERS:
        total += len(environ.get(name, ""))
    body = str(total).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def upload(environ, start_response):
    """Reads the request body in 64 KiB blocks; answers its length."""
    inp = environ["wsgi.input"]
    remaining = int(environ.get("CONTENT_LENGTH") or 0)
    total = 0
    while remaining > 0:
        block = inp.read(min(65536, remaining))
        if not block:
            break
        total += len(block)
        remaining -= len(block)
    body = str(total).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


BLOCK = b"s" * 65536


def stream(environ, start_response):
    """A generator of 16 blocks of 64 KiB, no Content-Length."""
    start_response("200 OK", [("Content-Type", "application/octet-stream")])

    def gen():
        for _ in range(16):
            yield BLOCK
    return gen()


BIG = b"b" * (4 << 20)


def big(environ, start_response):
    """One 4 MiB bytes object."""
    start_response("200 OK", [("Content-Type", "application/octet-stream"), ("Content-Length", str(len(BIG)))])
    return [BIG]


def sleep(environ, start_response):
    """Waits 10 ms (without the GIL), then 5 bytes."""
    time.sleep(0.01)
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
    return [b"slept"]


FILE = os.environ.get("BENCH_FILE", "/tmp/gowsgi-bench-100MiB")


def file(environ, start_response):
    """The 100 MiB file BENCH_FILE through wsgi.file_wrapper."""
    f = open(FILE, "rb")
    size = os.fstat(f.fileno()).st_size
    start_response("200 OK", [("Content-Type", "application/octet-stream"), ("Content-Length", str(size))])
    return environ["wsgi.file_wrapper"](f, 1 << 20)


def big_stream(environ, start_response):
    """QUERY_STRING MiB from a generator (the memory check)."""
    mib = int(environ.get("QUERY_STRING") or 1024)
    start_response("200 OK", [("Content-Type", "application/octet-stream")])

    def gen():
        for _ in range(mib * 16):
            yield BLOCK
    return gen()
