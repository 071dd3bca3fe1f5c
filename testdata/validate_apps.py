"""Applications that each break one rule of PEP 3333, for --validate.

The line where the violation happens carries a "# <- name" comment: the
tests check that the error log names this file and that line.
"""

import sys

OK = [("Content-Type", "text/plain")]


# --- start_response: status --------------------------------------------------


def status_type(environ, start_response):
    start_response(200, OK)  # <- status_type
    return [b"x"]


def status_syntax(environ, start_response):
    start_response("200OK", OK)  # <- status_syntax
    return [b"x"]


def status_whitespace(environ, start_response):
    start_response("200 OK ", OK)  # <- status_whitespace
    return [b"x"]


def status_crlf(environ, start_response):
    start_response("200 OK\r\nX-Injected: 1", OK)  # <- status_crlf
    return [b"x"]


# --- start_response: headers -------------------------------------------------


def headers_tuple(environ, start_response):
    start_response("200 OK", tuple(OK))  # <- headers_tuple
    return [b"x"]


def header_item(environ, start_response):
    start_response("200 OK", [["Content-Type", "text/plain"]])  # <- header_item
    return [b"x"]


def header_bytes(environ, start_response):
    start_response("200 OK", [(b"Content-Type", b"text/plain")])  # <- header_bytes
    return [b"x"]


def header_name(environ, start_response):
    start_response("200 OK", OK + [("X Bad", "1")])  # <- header_name
    return [b"x"]


def header_name_trailing(environ, start_response):
    start_response("200 OK", OK + [("X-Trailing-", "1")])  # <- header_name_trailing
    return [b"x"]


def header_status(environ, start_response):
    start_response("200 OK", OK + [("Status", "200 OK")])  # <- header_status
    return [b"x"]


def header_crlf(environ, start_response):
    start_response("200 OK", OK + [("X-Test", "a\r\nX-Injected: 1")])  # <- header_crlf
    return [b"x"]


def header_tab(environ, start_response):
    start_response("200 OK", OK + [("X-Test", "a\tb")])  # <- header_tab
    return [b"x"]


def hop_by_hop(environ, start_response):
    start_response("200 OK", OK + [("Connection", "close")])  # <- hop_by_hop
    return [b"x"]


def content_length_syntax(environ, start_response):
    start_response("200 OK", OK + [("Content-Length", "ten")])  # <- content_length_syntax
    return [b"x"]


def content_type_missing(environ, start_response):
    start_response("200 OK", [("Content-Length", "1")])  # <- content_type_missing
    return [b"x"]


def content_type_204(environ, start_response):
    start_response("204 No Content", OK)  # <- content_type_204
    return []


# --- start_response: calls ---------------------------------------------------


def keywords(environ, start_response):
    start_response(status="200 OK", response_headers=OK)  # <- keywords
    return [b"x"]


def twice(environ, start_response):
    start_response("200 OK", OK)
    start_response("200 OK", OK)  # <- twice
    return [b"x"]


def exc_info_type(environ, start_response):
    start_response("500 Oops", OK, "it failed")  # <- exc_info_type
    return [b"x"]


def exc_info_empty(environ, start_response):
    start_response("500 Oops", OK, sys.exc_info())  # <- exc_info_empty
    return [b"x"]


def exc_info_trapped(environ, start_response):
    def body():
        start_response("200 OK", OK)
        yield b"partial"
        try:
            raise ValueError("late")
        except ValueError:
            try:
                start_response("500 Oops", OK, sys.exc_info())  # <- exc_info_trapped
            except ValueError:
                pass  # the violation: the re-raised error is swallowed
        yield b" and more"
    return body()


def caught(environ, start_response):
    """The application catches the violation; the request fails anyway."""
    try:
        start_response(200, OK)  # <- caught
    except Exception:
        pass
    return [b"x"]


# --- write() -----------------------------------------------------------------


def write_str(environ, start_response):
    write = start_response("200 OK", OK)
    write("text")  # <- write_str
    return []


def write_in_iterable(environ, start_response):
    write = start_response("200 OK", OK)

    def body():
        write(b"written from the iterable")  # <- write_in_iterable
        yield b""
    return body()


# --- the response iterable ---------------------------------------------------


def returns_str(environ, start_response):  # <- returns_str
    start_response("200 OK", OK)
    return "text"


def returns_bytes(environ, start_response):  # <- returns_bytes
    start_response("200 OK", OK)
    return b"bytes"


def returns_none(environ, start_response):  # <- returns_none
    start_response("200 OK", OK)


def returns_int(environ, start_response):  # <- returns_int
    start_response("200 OK", OK)
    return 42


class _Itself:
    def __call__(self, environ, start_response):  # <- returns_itself
        start_response("200 OK", OK)
        return self

    def __iter__(self):
        return iter([b"shared"])


returns_itself = _Itself()


def str_chunk(environ, start_response):  # <- str_chunk
    start_response("200 OK", OK)
    return [b"bytes, then ", "text"]


def str_chunk_stream(environ, start_response):
    start_response("200 OK", OK)

    def body():
        yield "text"  # <- str_chunk_stream
    return body()


def yield_before_start(environ, start_response):
    def body():
        yield b"early"  # <- yield_before_start
        start_response("200 OK", OK)
    return body()


def no_start(environ, start_response):  # <- no_start
    return []


def no_start_stream(environ, start_response):
    def body():  # <- no_start_stream
        return
        yield
    return body()


def longer(environ, start_response):  # <- longer
    start_response("200 OK", OK + [("Content-Length", "3")])
    return [b"too long"]


def longer_stream(environ, start_response):
    start_response("200 OK", OK + [("Content-Length", "4")])

    def body():
        yield b"abc"
        yield b"def"  # <- longer_stream
    return body()


def shorter(environ, start_response):  # <- shorter
    start_response("200 OK", OK + [("Content-Length", "10")])
    return [b"short"]


def shorter_stream(environ, start_response):
    start_response("200 OK", OK + [("Content-Length", "10")])

    def body():  # <- shorter_stream
        yield b"short"
    return body()


def body_204(environ, start_response):
    start_response("204 No Content", [])

    def body():
        yield b"content"  # <- body_204
    return body()


# --- wsgi.input and wsgi.errors ----------------------------------------------


def read_size_type(environ, start_response):
    environ["wsgi.input"].read("10")  # <- read_size_type
    start_response("200 OK", OK)
    return [b"x"]


def readline_size_type(environ, start_response):
    environ["wsgi.input"].readline(1.5)  # <- readline_size_type
    start_response("200 OK", OK)
    return [b"x"]


def read_arguments(environ, start_response):
    environ["wsgi.input"].read(1, 2)  # <- read_arguments
    start_response("200 OK", OK)
    return [b"x"]


def read_past(environ, start_response):
    inp = environ["wsgi.input"]
    inp.read(int(environ["CONTENT_LENGTH"]))
    inp.read(10)  # the end: b""
    inp.read(10)  # the end again, as werkzeug drains a body it parsed
    inp.read(10)  # <- read_past
    start_response("200 OK", OK)
    return [b"x"]


_kept = []


def read_after_response(environ, start_response):
    """The first request keeps its wsgi.input, the second reads it."""
    if not _kept:
        _kept.append(environ["wsgi.input"])
        start_response("200 OK", OK)
        return [b"kept"]
    _kept.pop().read(1)  # <- read_after_response
    start_response("200 OK", OK)
    return [b"x"]


def input_close(environ, start_response):
    environ["wsgi.input"].close()  # <- input_close
    start_response("200 OK", OK)
    return [b"x"]


def errors_close(environ, start_response):
    environ["wsgi.errors"].close()  # <- errors_close
    start_response("200 OK", OK)
    return [b"x"]


def errors_bytes(environ, start_response):
    environ["wsgi.errors"].write(b"bytes")  # <- errors_bytes
    start_response("200 OK", OK)
    return [b"x"]


# --- correct -----------------------------------------------------------------


def correct(environ, start_response):
    """Uses every part of the interface as PEP 3333 allows."""
    inp = environ["wsgi.input"]
    first = inp.readline()
    rest = inp.read(int(environ.get("CONTENT_LENGTH") or 0) - len(first))
    environ["wsgi.errors"].write("read the body\n")
    environ["wsgi.errors"].flush()
    body = b"%d bytes" % (len(first) + len(rest))
    write = start_response("200 OK", OK + [("Content-Length", str(len(body)))])
    write(body[:2])

    def chunks():
        yield b""
        yield body[2:]
    return chunks()
