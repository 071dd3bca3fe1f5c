"""WSGI applications for gowsgi's PEP 3333 conformance tests.

Each application exercises one point of PEP 3333. validated(name) wraps one
in the standard library's wsgiref.validate.validator, with its warnings
turned into errors: whatever the validator finds becomes a 500 the tests
see.
"""

import hashlib
import io
import json
import os
import signal
import sys
import threading
import warnings
from wsgiref.validate import WSGIWarning, validator

warnings.simplefilter("error", WSGIWarning)


def validated(name):
    return validator(globals()[name])


def _json(start_response, data, status="200 OK", extra=()):
    out = json.dumps(data).encode()
    start_response(
        status,
        [("Content-Type", "application/json"), ("Content-Length", str(len(out)))] + list(extra),
    )
    return [out]


def _length(environ):
    return int(environ.get("CONTENT_LENGTH") or 0)


# --- environ -----------------------------------------------------------------


def environ(environ, start_response):
    """The environ as JSON: str values as they are, others described."""
    body = environ["wsgi.input"].read(_length(environ))
    data = {}
    for key, value in environ.items():
        if isinstance(value, (str, bool)):
            data[key] = value
        elif key == "wsgi.version":
            data[key] = list(value)
        else:
            data[key] = type(value).__name__
    data["body"] = body.decode("latin-1")
    data["has_read"] = all(hasattr(environ["wsgi.input"], m) for m in ("read", "readline", "readlines", "__iter__"))
    data["file_wrapper_callable"] = callable(environ["wsgi.file_wrapper"])
    errors = environ["wsgi.errors"]
    data["errors_methods"] = all(hasattr(errors, m) for m in ("write", "writelines", "flush"))
    return _json(start_response, data)


def errors(environ, start_response):
    """Writes to wsgi.errors, which goes to the server's error log."""
    err = environ["wsgi.errors"]
    err.write("wsgi.errors says hello\n")
    err.writelines(["line one\n", "line two\n"])
    err.flush()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"ok"]


def interpreter(environ, start_response):
    """Facts about the embedded interpreter."""
    return _json(start_response, {
        "executable": sys.executable,
        "prefix": sys.prefix,
        "path": sys.path,
        "sigint": str(signal.getsignal(signal.SIGINT)),
        "sigterm": str(signal.getsignal(signal.SIGTERM)),
        "thread": threading.get_ident(),
        "main_thread": threading.main_thread().ident,
        "environ_marker": os.environ.get("GOWSGI_TEST_MARKER", ""),
    })


# --- wsgi.input --------------------------------------------------------------


def input_read(environ, start_response):
    """Reads the body the way QUERY_STRING says; returns what each call gave."""
    inp = environ["wsgi.input"]
    mode, _, arg = environ["QUERY_STRING"].partition("=")
    n = int(arg) if arg else None
    parts = []
    if mode == "read":
        parts.append(inp.read())
    elif mode == "read-1":
        parts.append(inp.read(-1))
    elif mode == "readNone":
        parts.append(inp.read(None))
    elif mode == "readn":
        while True:
            chunk = inp.read(n)
            parts.append(chunk)
            if not chunk:
                break
    elif mode == "readline":
        while True:
            line = inp.readline()
            parts.append(line)
            if not line:
                break
    elif mode == "readlinen":
        while True:
            line = inp.readline(n)
            parts.append(line)
            if not line:
                break
    elif mode == "readlines":
        parts.extend(inp.readlines())
    elif mode == "readlineshint":
        parts.extend(inp.readlines(n))
        parts.append(b"|")
        parts.append(inp.read(_length(environ)))
    elif mode == "iter":
        parts.extend(iter(inp))
    elif mode == "past":
        # Asking for far more than the body must return only the body.
        parts.append(inp.read(10**9))
        parts.append(inp.read(10))
    else:
        raise ValueError("unknown mode " + mode)
    return _json(start_response, [p.decode("latin-1") for p in parts])


def input_hash(environ, start_response):
    """Reads the body in 64 KiB blocks; returns its length and sha256."""
    inp = environ["wsgi.input"]
    h = hashlib.sha256()
    total = 0
    while True:
        block = inp.read(65536)
        if not block:
            break
        total += len(block)
        h.update(block)
    return _json(start_response, {
        "length": total,
        "sha256": h.hexdigest(),
        "content_length": environ.get("CONTENT_LENGTH"),
    })


def input_count(environ, start_response):
    """Reads the body in 1 MiB blocks and counts it."""
    inp = environ["wsgi.input"]
    total = 0
    while True:
        block = inp.read(1 << 20)
        if not block:
            break
        total += len(block)
    return _json(start_response, {"length": total})


def no_read(environ, start_response):
    """Answers without reading the body."""
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "7")])
    return [b"ignored"]


# --- start_response ----------------------------------------------------------


def bad(environ, start_response):
    """Breaks one rule of start_response or of the response, per QUERY_STRING."""
    case = environ["QUERY_STRING"]
    ok = [("Content-Type", "text/plain")]
    if case == "status-int":
        start_response(200, ok)
    elif case == "status-noreason":
        start_response("200", ok)
    elif case == "status-code":
        start_response("20x OK", ok)
    elif case == "status-crlf":
        start_response("200 OK\r\nX-Injected: 1", ok)
    elif case == "header-crlf":
        start_response("200 OK", ok + [("X-Test", "a\r\nX-Injected: 1")])
    elif case == "header-hop":
        start_response("200 OK", ok + [("Connection", "close")])
    elif case == "headers-tuple":
        start_response("200 OK", tuple(ok))
    elif case == "header-bytes":
        start_response("200 OK", [(b"Content-Type", b"text/plain")])
    elif case == "header-name":
        start_response("200 OK", ok + [("Bad Name", "x")])
    elif case == "header-nonlatin":
        start_response("200 OK", ok + [("X-Name", "\u20ac")])
    elif case == "content-length":
        start_response("200 OK", ok + [("Content-Length", "-1")])
    elif case == "twice":
        start_response("200 OK", ok)
        start_response("200 OK", ok)
    elif case == "body-before-start":
        def gen():
            yield b"early"
            start_response("200 OK", ok)
        return gen()
    elif case == "str-chunk":
        start_response("200 OK", ok)
        return ["text"]
    elif case == "no-start":
        return [b"body"]
    elif case == "no-start-empty":
        return []
    elif case == "ok":
        start_response("200 OK", ok)
        return [b"fine"]
    return [b"should not be sent"]


def exc_before(environ, start_response):
    """An error page replaces the headers: nothing was sent yet."""
    start_response("200 OK", [("Content-Type", "text/plain")])
    try:
        raise ValueError("boom")
    except ValueError:
        start_response("500 Oops", [("Content-Type", "text/plain")], sys.exc_info())
    return [b"handled"]


def exc_lazy(environ, start_response):
    """Headers go out with the first non-empty chunk, so an error after an
    empty chunk may still change the status."""
    def gen():
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b""
        try:
            raise KeyError("late")
        except KeyError:
            start_response("404 Not Here", [("Content-Type", "text/plain")], sys.exc_info())
        yield b"replaced"
    return gen()


_reraised = {}


def exc_after(environ, start_response):
    """After the head is sent, start_response must re-raise exc_info."""
    tag = environ["QUERY_STRING"]

    def gen():
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b"partial"
        try:
            raise ValueError("late failure")
        except ValueError as original:
            try:
                start_response("500 Oops", [("Content-Type", "text/plain")], sys.exc_info())
            except ValueError as again:
                _reraised[tag] = again is original
                raise
            _reraised[tag] = "not raised"
        yield b"never sent"
    return gen()


def reraised(environ, start_response):
    return _json(start_response, _reraised.get(environ["QUERY_STRING"]))


def lazy(environ, start_response):
    """start_response called inside the generator, after the call returned."""
    def gen():
        start_response("201 Created", [("Content-Type", "text/plain")])
        yield b"lazy"
    return gen()


def lazy_after_empty(environ, start_response):
    """start_response after an empty chunk: still before any body byte.
    (wsgiref.validate wants it before the first chunk of any size.)"""
    def gen():
        yield b""
        start_response("201 Created", [("Content-Type", "text/plain")])
        yield b"lazy"
    return gen()


def lazy_empty(environ, start_response):
    """start_response inside a generator that yields nothing."""
    def gen():
        start_response("202 Accepted", [("Content-Type", "text/plain")])
        return
        yield
    return gen()


# --- write() -----------------------------------------------------------------


def write(environ, start_response):
    w = start_response("200 OK", [("Content-Type", "text/plain")])
    w(b"one,")
    w(b"two,")
    return [b"three,", b"four"]


def write_interleaved(environ, start_response):
    """write() between the chunks of the iterable."""
    w = start_response("200 OK", [("Content-Type", "text/plain")])

    def gen():
        yield b"a"
        w(b"b")
        yield b"c"
        w(b"d")
    return gen()


# --- response ----------------------------------------------------------------


def status(environ, start_response):
    """Answers the status in QUERY_STRING (spaces as %20) with a body."""
    from urllib.parse import unquote
    status = unquote(environ["QUERY_STRING"])
    # 204 and 304 have no content, hence no Content-Type (wsgiref.validate).
    headers = [] if status[:3] in ("204", "304") else [("Content-Type", "text/plain")]
    start_response(status, headers)
    return [b"body that must not be sent for 1xx, 204 and 304"]


def no_content_length(environ, start_response):
    """204 with a Content-Length, which a server must not pass on."""
    start_response("204 No Content", [("Content-Length", "0")])
    return []


def status_length(environ, start_response):
    """304 with the Content-Length the GET would have had."""
    start_response("304 Not Modified", [("Content-Length", "42"), ("ETag", '"x"')])
    return []


def cookies(environ, start_response):
    start_response("200 OK", [
        ("Content-Type", "text/plain"),
        ("Set-Cookie", "a=1; Path=/"),
        ("Set-Cookie", "b=2; Path=/"),
        ("Set-Cookie", "c=3; Path=/; HttpOnly"),
    ])
    return [b"cookies"]


def cl_over(environ, start_response):
    """Declares 5 bytes and returns 10: only 5 may be sent."""
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "5")])
    return [b"01234", b"56789"]


def cl_under(environ, start_response):
    """Declares 10 bytes and returns 5: the connection must not look complete."""
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "10")])
    return [b"01234"]


def stream(environ, start_response):
    """A generator of QUERY_STRING chunks of 1 KiB, no Content-Length."""
    n = int(environ["QUERY_STRING"] or 16)
    start_response("200 OK", [("Content-Type", "application/octet-stream")])

    def gen():
        for i in range(n):
            yield bytes([65 + i % 26]) * 1024
    return gen()


def big_stream(environ, start_response):
    """QUERY_STRING MiB from a generator, 64 KiB at a time, no Content-Length."""
    mib = int(environ["QUERY_STRING"])
    block = b"x" * 65536
    start_response("200 OK", [("Content-Type", "application/octet-stream")])

    def gen():
        for _ in range(mib * 16):
            yield block
    return gen()


def big_list(environ, start_response):
    """One 4 MiB bytes object in a list."""
    body = bytes(range(256)) * (16 * 1024)
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    return [body]


def empty(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return []


# --- close() -----------------------------------------------------------------

_closed = []
_closed_lock = threading.Lock()


class _Tracked:
    """An iterable whose close() is recorded under a tag."""

    def __init__(self, tag, chunks, fail_at=None, forever=False):
        self.tag = tag
        self.chunks = chunks
        self.fail_at = fail_at
        self.forever = forever

    def __iter__(self):
        i = 0
        while self.forever or i < self.chunks:
            if i == self.fail_at:
                raise RuntimeError("failure while iterating")
            yield b"z" * 65536
            i += 1

    def close(self):
        with _closed_lock:
            _closed.append(self.tag)


def tracked(environ, start_response):
    """QUERY_STRING: tag:kind, kind one of ok, fail, forever, fail-first."""
    tag, _, kind = environ["QUERY_STRING"].partition(":")
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    if kind == "fail":
        return _Tracked(tag, 4, fail_at=2)
    if kind == "fail-first":
        return _Tracked(tag, 4, fail_at=0)
    if kind == "forever":
        return _Tracked(tag, 0, forever=True)
    return _Tracked(tag, 3)


def closed(environ, start_response):
    with _closed_lock:
        return _json(start_response, list(_closed))


# --- wsgi.file_wrapper -------------------------------------------------------

_reads = {}


class _RecordingFile(io.FileIO):
    """A real file that records calls of read(), which sendfile avoids."""

    tag = ""

    def read(self, n=-1):
        _reads[self.tag] = _reads.get(self.tag, 0) + 1
        return super().read(n)


class _RecordingBytes(io.BytesIO):
    """A file-like without a descriptor that records the sizes read."""

    tag = ""

    def read(self, n=-1):
        _reads.setdefault(self.tag, []).append(n)
        return super().read(n)


def file(environ, start_response):
    """Sends the file named in X-File from the offset in X-Offset."""
    tag = environ.get("HTTP_X_TAG", "")
    f = _RecordingFile(environ["HTTP_X_FILE"], "r")
    f.tag = tag
    f.seek(int(environ.get("HTTP_X_OFFSET") or 0))
    headers = [("Content-Type", "application/octet-stream")]
    if environ.get("HTTP_X_LENGTH"):
        headers.append(("Content-Length", environ["HTTP_X_LENGTH"]))
    start_response("200 OK", headers)
    return environ["wsgi.file_wrapper"](f, 8192)


def file_buffered(environ, start_response):
    """A buffered reader that has read ahead: the position is tell()'s."""
    f = open(environ["HTTP_X_FILE"], "rb")
    f.read(10)  # the OS offset is now past 10, the file's position is 10
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    return environ["wsgi.file_wrapper"](f)


def filelike(environ, start_response):
    """A file-like without a descriptor: read in blocks of 1000."""
    tag = environ.get("HTTP_X_TAG", "")
    f = _RecordingBytes(b"0123456789" * 500)
    f.tag = tag
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    return environ["wsgi.file_wrapper"](f, 1000)


class _LengthlessRead:
    """A file-like whose read() returns something without a length."""

    def read(self, n=-1):
        return 42


def filelike_bad(environ, start_response):
    start_response("200 OK", [("Content-Type", "application/octet-stream")])
    return environ["wsgi.file_wrapper"](_LengthlessRead(), 1000)


def reads(environ, start_response):
    return _json(start_response, _reads.get(environ["QUERY_STRING"]))


# --- errors ------------------------------------------------------------------


def boom(environ, start_response):
    raise ValueError("kaboom")


def boom_after(environ, start_response):
    def gen():
        start_response("200 OK", [("Content-Type", "text/plain")])
        yield b"x" * 100
        raise ValueError("kaboom after the head")
    return gen()


class _BadClose:
    def __init__(self, body):
        self.body = body

    def __iter__(self):
        if self.body:
            yield self.body

    def close(self):
        raise RuntimeError("close failed")


def bad_close(environ, start_response):
    """close() fails; the body in QUERY_STRING went out before, or not."""
    start_response("200 OK", [("Content-Type", "text/plain")])
    return _BadClose(environ["QUERY_STRING"].encode())


def boom_markup(environ, start_response):
    """The --debug page must escape what it shows: this message is markup."""
    raise ValueError("<script>alert('kaboom')</script> & more")


# --- threads and the queue ---------------------------------------------------

_gate = threading.Event()
_waiting = []


def gate_wait(environ, start_response):
    """Holds its Python thread until gate_open runs (at most 30 s)."""
    _waiting.append(1)
    try:
        opened = _gate.wait(30)
    finally:
        _waiting.pop()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"opened" if opened else b"timed out"]


def gate_waiting(environ, start_response):
    """How many requests wait at the gate."""
    return _json(start_response, len(_waiting))


def gate_open(environ, start_response):
    _gate.set()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"open"]


def gate_close(environ, start_response):
    _gate.clear()
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"closed"]


def sleep(environ, start_response):
    """Sleeps QUERY_STRING seconds, saying so on wsgi.errors first."""
    import time
    seconds = environ["QUERY_STRING"]
    environ["wsgi.errors"].write(f"sleeping {seconds}\n")
    time.sleep(float(seconds))
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [f"slept {seconds}".encode()]


def spin(environ, start_response):
    """Loops in Python forever."""
    while True:
        pass


def spin_after_head(environ, start_response):
    """Sends its head and a first chunk, then loops in Python forever."""
    start_response("200 OK", [("Content-Type", "text/plain")])
    yield b"first"
    while True:
        pass


def sleep_forever(environ, start_response):
    """Blocks in C for an hour: no exception can interrupt it."""
    import time
    time.sleep(3600)
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"woke"]


def late_in_c(environ, start_response):
    """On /late?SECONDS: a body whose one block comes from a read in C that
    ends after SECONDS, with no Python code of the request running after
    it: a timeout meanwhile is posted to the thread and never delivered in
    this request. Elsewhere: "fine"."""
    start_response("200 OK", [("Content-Type", "text/plain")])
    if environ["PATH_INFO"] != "/late":
        return [b"fine"]
    import functools
    import os
    import threading
    r, w = os.pipe()

    def write():
        os.write(w, b"late")
        os.close(w)
    threading.Timer(float(environ["QUERY_STRING"]), write).start()
    # All C: the read, the partial, the iterator (until the end of the pipe).
    return iter(functools.partial(open(r, "rb", buffering=0).read, 4), b"")


_leak = []


def leak(environ, start_response):
    """Keeps 4 MiB more after every request: memory grows without end."""
    _leak.append(bytearray(4 << 20))
    body = str(len(_leak)).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def pid(environ, start_response):
    """The worker's process ID, so tests can tell which worker answered."""
    body = str(os.getpid()).encode()
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))])
    return [body]


def hello(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain"), ("Content-Length", "13")])
    return [b"Hello, world!"]


# --- gateways ------------------------------------------------------------------

_stream_gate = threading.Event()


def stream_gated(environ, start_response):
    """Streams "first", waits until a request for /open opens the gate, then
    streams "second": a client sees "first" before it opens the gate only
    when the chunk was not held back on its way. X-Accel-Buffering asks
    nginx to pass it on at once."""
    start_response("200 OK", [("Content-Type", "text/plain"), ("X-Accel-Buffering", "no")])
    if environ["PATH_INFO"] == "/open":
        _stream_gate.set()
        return [b"open"]
    _stream_gate.clear()

    def gen():
        yield b"first\n"
        yield b"second\n" if _stream_gate.wait(30) else b"timed out\n"
    return gen()
