"""The application of the reference-count test (refcount_test.go): one
path for each way a request goes through gowsgi's C code, and /refcount,
which answers sys.gettotalrefcount() (a debug interpreter's) after a full
garbage collection. Every path keeps nothing between requests, so the
total reference count after many requests is the one before them."""

import gc
import io
import os
import sys

_FILE = os.path.join(os.path.dirname(os.path.abspath(__file__)), "conformance.py")


def _plain(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]


def _environ(environ, start_response):
    # Every key and value of the environ, and the headers the client sent
    # (many: the C code builds one entry per header).
    n = 0
    for key, value in environ.items():
        n += len(key)
        if isinstance(value, str):
            n += len(value)
    start_response("200 OK", [("Content-Type", "text/plain"), ("X-Keys", str(len(environ)))])
    return [str(n).encode()]


def _input(environ, start_response):
    # Each of wsgi.input's methods, over a body larger than one read.
    inp = environ["wsgi.input"]
    first = inp.readline()
    some = inp.read(100)
    lines = inp.readlines(200)
    rest = b"".join(iter(inp))
    n = len(first) + len(some) + sum(map(len, lines)) + len(rest)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(n).encode()]


def _generator(environ, start_response):
    # A generator the server closes: its finally runs in close().
    def body():
        try:
            for i in range(5):
                yield b"chunk %d\n" % i
        finally:
            environ["refcount.closed"] = True
    start_response("200 OK", [("Content-Type", "text/plain")])
    return body()


class _Closing:
    """An iterable with close() that is not a generator."""

    def __init__(self, chunks):
        self.chunks = chunks

    def __iter__(self):
        return iter(self.chunks)

    def close(self):
        self.chunks = None


def _closing(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return _Closing([b"a", b"b", b"c"])


def _file(environ, start_response):
    # A real file: gowsgi sends it from its descriptor.
    start_response("200 OK", [("Content-Type", "text/plain")])
    return environ["wsgi.file_wrapper"](open(_FILE, "rb"), 8192)


def _filelike(environ, start_response):
    # A file-like without a descriptor: read() block by block.
    start_response("200 OK", [("Content-Type", "text/plain")])
    return environ["wsgi.file_wrapper"](io.BytesIO(b"0123456789" * 500), 1000)


def _exc_info(environ, start_response):
    # An error page replacing the headers before anything was sent.
    start_response("200 OK", [("Content-Type", "text/plain")])
    try:
        raise ValueError("replaced")
    except ValueError:
        start_response("500 Oops", [("Content-Type", "text/plain")], sys.exc_info())
    return [b"handled"]


def _exc_info_lazy(environ, start_response):
    # exc_info after an empty chunk, the headers still unsent.
    def body():
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b""
        try:
            raise KeyError("late")
        except KeyError:
            start_response("404 Not Here", [("Content-Type", "text/plain")], sys.exc_info())
        yield b"replaced"
    return body()


def _error(environ, start_response):
    # An application error: a 500, and a traceback in the error log.
    raise RuntimeError("refcount test error")


def _error_after(environ, start_response):
    # An error in the middle of the body, once the headers are out.
    def body():
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b"part"
        raise RuntimeError("refcount test error after the head")
    return body()


def _write(environ, start_response):
    # The write() callable start_response returns.
    write = start_response("200 OK", [("Content-Type", "text/plain")])
    write(b"written ")
    return [b"returned"]


def _errors(environ, start_response):
    # wsgi.errors.
    environ["wsgi.errors"].write("refcount test line\n")
    environ["wsgi.errors"].flush()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"logged"]


def _refcount(environ, start_response):
    gc.collect()
    total = sys.gettotalrefcount()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [str(total).encode()]


ROUTES = {
    "/plain": _plain,
    "/environ": _environ,
    "/input": _input,
    "/generator": _generator,
    "/closing": _closing,
    "/file": _file,
    "/filelike": _filelike,
    "/exc_info": _exc_info,
    "/exc_info_lazy": _exc_info_lazy,
    "/error": _error,
    "/error_after": _error_after,
    "/write": _write,
    "/errors": _errors,
    "/refcount": _refcount,
}


def application(environ, start_response):
    return ROUTES[environ["PATH_INFO"]](environ, start_response)
