"""The WSGI application of Granian's own benchmark method, as its
repository's benchmarks describe it, for bench/harness/granian.go: plain
text without Content-Length."""

import time

TEXT = [("Content-Type", "text/plain; charset=utf-8")]


def _fixed(size):
    body = b"x" * size

    def answer(environ, start_response):
        start_response("200 OK", TEXT)
        return [body]

    return answer


def _echo(environ, start_response):
    """The request body, read whole."""
    start_response("200 OK", TEXT)
    return [environ["wsgi.input"].read()]


def _echo_iter(environ, start_response):
    """The request body, 4 KiB at a time, yielded as read."""
    start_response("200 OK", TEXT)
    stream = environ["wsgi.input"]
    while True:
        block = stream.read(4096)
        if not block:
            return
        yield block


def _sleeping(ms):
    def answer(environ, start_response):
        start_response("200 OK", TEXT)
        time.sleep(ms / 1000)
        return [b"x" * 10]

    return answer


ROUTES = {
    "/b10": _fixed(10),
    "/b1k": _fixed(1024),
    "/b10k": _fixed(10 * 1024),
    "/b100k": _fixed(100 * 1024),
    "/echo": _echo,
    "/echoi": _echo_iter,
    "/io10": _sleeping(10),
    "/io100": _sleeping(100),
}


def app(environ, start_response):
    route = ROUTES.get(environ.get("PATH_INFO", ""))
    if route is None:
        start_response("404 Not Found", TEXT)
        return [b"not found"]
    return route(environ, start_response)
