"""The soak's mixed application (bench/soak): hello, a Flask view, uploads
that read the whole body, streamed generator responses and a large body
for slow readers. Every answer names its worker in X-Worker-Pid, so the
driver knows which process served each connection."""

import hashlib
import os

from flask import Flask, jsonify

PID = str(os.getpid())

flask_app = Flask(__name__)


@flask_app.route("/flask/item/<int:n>")
def item(n):
    resp = jsonify(n=n, square=n * n)
    resp.headers["X-Worker-Pid"] = PID
    return resp


def hello(environ, start_response):
    body = b"Hello, world!"
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body))),
                              ("X-Worker-Pid", PID)])
    return [body]


def upload(environ, start_response):
    # Read in pieces until the end of the body (Content-Length or chunked:
    # wsgi.input_terminated), as a framework's form parser does.
    digest, size = hashlib.sha256(), 0
    stream = environ["wsgi.input"]
    while True:
        piece = stream.read(65536)
        if not piece:
            break
        digest.update(piece)
        size += len(piece)
    body = ("%d %s" % (size, digest.hexdigest())).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body))),
                              ("X-Worker-Pid", PID)])
    return [body]


def chunks(n, size):
    # Chunk i is its number in 8 digits, repeated: the client rebuilds the
    # same bytes to check what arrived.
    for i in range(n):
        yield (b"%08d" % i) * (size // 8)


def stream(environ, start_response):
    # No Content-Length: the server sends it chunked.
    query = dict(p.split("=", 1) for p in environ.get("QUERY_STRING", "").split("&") if "=" in p)
    n, size = int(query.get("n", "16")), int(query.get("size", "4096"))
    start_response("200 OK", [("Content-Type", "application/octet-stream"), ("X-Worker-Pid", PID)])
    return chunks(n, size)


BIG = b"".join(chunks(32, 8192))  # 256 KiB


def big(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/octet-stream"), ("Content-Length", str(len(BIG))),
                              ("X-Worker-Pid", PID)])
    return [BIG]


ROUTES = {"/hello": hello, "/upload": upload, "/stream": stream, "/big": big}


def application(environ, start_response):
    path = environ.get("PATH_INFO", "")
    if path.startswith("/flask/"):
        return flask_app(environ, start_response)
    view = ROUTES.get(path)
    if view is None:
        start_response("404 Not Found", [("Content-Type", "text/plain"), ("X-Worker-Pid", PID)])
        return [b"not found\n"]
    return view(environ, start_response)
