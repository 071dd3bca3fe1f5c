"""Strict PEP 3333 checking of an application, for gowsgi --validate.

validator(app) wraps the application the way wsgiref.validate.validator
does, and checks everything that one checks and more. A broken rule raises
Violation, naming the rule and the place in the application's code where it
was broken (the caller of start_response, write() or wsgi.input, or the
generator's frame for the response body); the server logs it as one line
and answers 500, or cuts the connection when the head is already out.

An application may catch a Violation: it is then raised again the next time
the application hands control back to the server (when it returns, yields
or is closed), so a caught violation still fails the request.

Only loaded with --validate: without it no request runs any of this.
"""

import re
import sys
import types


class Violation(AssertionError):
    """An application (or, for the environ, the server) broke a rule."""

    def __init__(self, rule, where):
        super().__init__(rule)
        self.rule = rule
        self.where = where

    def __str__(self):
        return f"{self.rule} (at {self.where})"


_SELF = sys._getframe().f_code.co_filename
_STATUS = re.compile(r"[1-5][0-9][0-9] [^\x00-\x20\x7f](?:[^\x00-\x1f\x7f]*[^\x00-\x20\x7f])?")
# wsgiref.validate's header name rule, stricter than RFC 9110's token.
_HEADER_NAME = re.compile(r"[a-zA-Z][a-zA-Z0-9\-_]*")
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")
_HOP_BY_HOP = frozenset((
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
    "te", "trailers", "transfer-encoding", "upgrade",
))
# wsgiref.validate: Content-Type is required except in these, where it is
# forbidden; they carry no content.
_NO_CONTENT = (204, 304)


def _at(frame):
    return f"{frame.f_code.co_filename}:{frame.f_lineno}"


def _caller():
    """Where the application called into the validator: the nearest frame
    that is not this module's."""
    f = sys._getframe(1)
    while f is not None and f.f_code.co_filename == _SELF:
        f = f.f_back
    return _at(f) if f is not None else "?"


def _code_of(obj, methods):
    code = getattr(obj, "__code__", None)
    if code is None:
        code = getattr(getattr(obj, "__func__", None), "__code__", None)
    if code is None:
        for name in methods:
            code = getattr(getattr(type(obj), name, None), "__code__", None)
            if code is not None:
                break
    return code


def _defined(obj, methods=("__next__", "__iter__")):
    """Where obj's code is: a suspended generator's current line, else the
    first line of the function behind it, or of its first method among
    methods."""
    if isinstance(obj, types.GeneratorType):
        if obj.gi_frame is not None:
            return _at(obj.gi_frame)
        return f"{obj.gi_code.co_filename}:{obj.gi_code.co_firstlineno}"
    code = _code_of(obj, methods)
    if code is None:
        return f"<{type(obj).__qualname__} object>"
    return f"{code.co_filename}:{code.co_firstlineno}"


def _describe(v):
    """'a str', 'an int': the type of v, for messages."""
    name = type(v).__name__
    return ("an " if name[:1] in "aeiou" else "a ") + name


class _Request:
    """What the validator knows about one request."""

    def __init__(self, environ, app_where):
        self.app_where = app_where
        self.called = False       # start_response was called, even if it failed
        self.started = False      # start_response succeeded
        self.code = 0
        self.length = None        # the declared Content-Length
        self.sent = 0             # body bytes from write() and the iterable
        self.returned = False     # the application returned its iterable
        self.finished = False     # the server closed the response
        self.reraised_at = None   # where start_response re-raised exc_info
        self.pending = None       # the first violation the server has not seen
        self.head = environ.get("REQUEST_METHOD") == "HEAD"
        # wsgi.input_terminated is true, so reading up to the end is safe
        # (werkzeug reads the end twice: parsing, then draining); an
        # application that reads on after that is in a loop that never sees
        # the end of CONTENT_LENGTH.
        self.ends = 0             # reads that returned the end of the body

    def violation(self, rule, where):
        v = Violation(rule, where)
        if self.pending is None:
            self.pending = v
        return v

    def handed(self, e):
        """e goes to the server now: it must not be raised again."""
        if e is self.pending:
            self.pending = None

    def deliver(self, current=None):
        """Raises the first violation the application caught, if any, unless
        it is the exception already on its way to the server."""
        v, self.pending = self.pending, None
        if v is not None and v is not current:
            raise v

    def body(self, n, where):
        """Accounts for n body bytes."""
        if n and self.code in _NO_CONTENT:
            raise self.violation(
                f"RFC 9110: a {self.code} response has no content, but the application "
                f"sends {n} body bytes", where)
        self.sent += n
        if self.length is not None and self.sent > self.length:
            raise self.violation(
                f"RFC 9110: the body is longer than the application's Content-Length "
                f"({self.sent} bytes so far, Content-Length: {self.length})", where)

    def check_trap(self):
        if self.reraised_at is not None:
            where, self.reraised_at = self.reraised_at, None
            raise self.violation(
                "PEP 3333: the application must not trap any exceptions raised by "
                "start_response, if it called start_response with exc_info (start_response "
                "re-raised the exception here, and the application went on)", where)

    def end(self, where):
        """The body is complete."""
        self.check_trap()
        if not self.started:
            raise self.violation(
                "PEP 3333: the application must call start_response() before it returns "
                "(it returned an empty body without calling it)", where)
        if (self.length is not None and self.sent < self.length and not self.head
                and self.code >= 200 and self.code not in _NO_CONTENT):
            raise self.violation(
                f"RFC 9110: the body is shorter than the application's Content-Length "
                f"({self.sent} of {self.length} bytes)", where)

    def result(self, result, application):
        """Checks what the application returned and the body, when it is
        complete already; returns what the server is to iterate."""
        where = self.app_where
        self.deliver()
        self.check_trap()
        if result is None or result is False:
            raise self.violation(
                "PEP 3333: the application must return an iterable yielding zero or more "
                f"bytestrings, even if only an empty list; it returned {result!r}", where)
        if isinstance(result, (str, bytes, bytearray)):
            raise self.violation(
                "PEP 3333: the application must return an iterable yielding bytestrings, "
                f"not {_describe(result)} itself (the server would send it one "
                "character or int at a time); return [body]", where)
        if result is application:
            raise self.violation(
                "PEP 3333: the application returned itself as its response iterable; "
                "one object would serve every request at once: return a new iterable "
                "per call", where)
        if type(result) in (list, tuple):
            # The body is complete: check it all before anything is sent, so
            # that the client gets a 500 and the server's fast path stays.
            for i, chunk in enumerate(result):
                if type(chunk) is not bytes:
                    raise self.violation(
                        "PEP 3333: the response iterable must yield bytestrings; item "
                        f"{i} of the returned {type(result).__name__} is {_describe(chunk)}",
                        where)
                if chunk and not self.started:
                    raise self.violation(
                        "PEP 3333: the application must call start_response() before the "
                        "iterable yields its first body bytestring", where)
                self.body(len(chunk), where)
            self.end(where)
            # No application code runs for this request any more.
            self.finished = True
            return result
        if type(result).__name__ == "FileWrapper" and type(result).__module__ == "gowsgi":
            if not self.started:
                raise self.violation(
                    "PEP 3333: the application must call start_response() before it "
                    "returns its file", where)
            self.finished = True
            return result
        try:
            iterator = iter(result)
        except TypeError:
            raise self.violation(
                "PEP 3333: the application must return an iterable yielding bytestrings, "
                f"not {_describe(result)}", where) from None
        return _Iterator(result, iterator, self)


class _Iterator:
    """The response iterable as the server sees it."""

    def __init__(self, original, iterator, req):
        self.original = original
        self.iterator = iterator
        self.req = req
        self.closed = False

    def __iter__(self):
        return self

    def __next__(self):
        try:
            return self._next()
        except BaseException as e:
            self.req.handed(e)
            raise

    def _next(self):
        req = self.req
        if self.closed:
            raise req.violation(
                "PEP 3333: the server iterated the response after calling its close()",
                "the server")
        try:
            chunk = next(self.iterator)
        except StopIteration:
            req.deliver()
            req.end(_defined(self.iterator))
            raise
        except BaseException as e:
            req.deliver(e)
            raise
        req.deliver()
        where = _defined(self.iterator)
        req.check_trap()
        if type(chunk) is not bytes:
            raise req.violation(
                f"PEP 3333: the response iterable must yield bytestrings, not "
                f"{_describe(chunk)} ({chunk!r:.40})", where)
        if chunk and not req.started:
            raise req.violation(
                "PEP 3333: the application must call start_response() before the "
                "iterable yields its first body bytestring", where)
        req.body(len(chunk), where)
        return chunk

    def close(self):
        self.closed = True
        close = getattr(self.original, "close", None)
        try:
            if close is not None:
                close()
        except BaseException as e:
            self.req.deliver(e)
            raise
        finally:
            self.req.finished = True
        self.req.deliver()


class _StartResponse:
    """start_response, checked before the server's own checks run."""

    def __init__(self, start_response, req):
        self.start_response = start_response
        self.req = req

    def __call__(self, *args, **kwargs):
        req = self.req
        where = _caller()
        if kwargs:
            raise req.violation(
                "PEP 3333: as with all WSGI callables, the arguments of start_response must "
                f"be supplied positionally, not by keyword (got {', '.join(kwargs)}=)", where)
        if len(args) not in (2, 3):
            raise req.violation(
                "PEP 3333: start_response(status, response_headers, exc_info=None) takes "
                f"2 or 3 arguments, got {len(args)}", where)
        status, headers = args[0], args[1]
        exc_info = args[2] if len(args) == 3 else None
        if exc_info is not None:
            if type(exc_info) is not tuple or len(exc_info) != 3:
                raise req.violation(
                    "PEP 3333: the exc_info argument, if supplied, must be a Python "
                    f"sys.exc_info() tuple, not {_describe(exc_info)}", where)
            if not isinstance(exc_info[1], BaseException):
                raise req.violation(
                    "PEP 3333: exc_info should be supplied only if start_response is being "
                    "called by an error handler; this one holds no exception "
                    "(sys.exc_info() outside an except block?)", where)
        elif req.called:
            raise req.violation(
                "PEP 3333: it is a fatal error to call start_response without the exc_info "
                "argument if start_response has already been called", where)
        req.called = True
        code = self.check_status(status, where)
        length = self.check_headers(code, headers, where)
        try:
            write = self.start_response(*args)
        except BaseException as e:
            if exc_info is not None and e is exc_info[1]:
                # The head is out: PEP 3333 has start_response re-raise, and
                # the application must let it propagate.
                req.reraised_at = where
                raise
            # A rule of the server's own checks.
            raise req.violation(str(e), where) from None
        req.started = True
        req.code = code
        req.length = length
        return _Write(write, req)

    def check_status(self, status, where):
        req = self.req
        if type(status) is not str:
            raise req.violation(
                f"PEP 3333: the status must be a str such as '200 OK', not {_describe(status)}",
                where)
        if not _STATUS.fullmatch(status):
            raise req.violation(
                "PEP 3333: the status must be a Status-Code and a Reason-Phrase separated by "
                "a single space, with no surrounding whitespace or control characters, "
                f"such as '200 OK'; got {status!r}", where)
        return int(status[:3])

    def check_headers(self, code, headers, where):
        req = self.req
        if type(headers) is not list:
            raise req.violation(
                "PEP 3333: response_headers must be a Python list, i.e. type(response_headers) "
                f"is list, not {_describe(headers)}", where)
        length = None
        content_type = False
        for item in headers:
            if type(item) is not tuple or len(item) != 2:
                raise req.violation(
                    "PEP 3333: response_headers must be a list of (header_name, header_value) "
                    f"tuples; got {item!r}", where)
            name, value = item
            if type(name) is not str or type(value) is not str:
                raise req.violation(
                    f"PEP 3333: header names and values must be of type str; got {item!r}", where)
            lower = name.lower()
            if not _HEADER_NAME.fullmatch(name) or name.endswith(("-", "_")):
                raise req.violation(
                    "PEP 3333: each header_name must be a valid HTTP field-name, without a "
                    "trailing colon or other punctuation (wsgiref.validate: letters, digits, "
                    f"'-' and '_', from a letter, not ending in '-' or '_'); got {name!r}", where)
            if lower == "status":
                raise req.violation(
                    "wsgiref.validate: the Status header cannot be used; the status is "
                    "start_response's first argument", where)
            if _CONTROL.search(value):
                raise req.violation(
                    "PEP 3333: each header_value must not include any control characters, "
                    "including carriage returns or linefeeds, either embedded or at the end; "
                    f"got {name}: {value!r}", where)
            if lower in _HOP_BY_HOP:
                raise req.violation(
                    "PEP 3333: applications are forbidden from using HTTP/1.1 hop-by-hop "
                    f"headers; got {name!r} (the server manages the connection)", where)
            if lower == "content-type":
                content_type = True
            if lower == "content-length":
                if not value.isascii() or not value.isdigit() or (
                        length is not None and int(value) != length):
                    raise req.violation(
                        "RFC 9110: Content-Length must be a non-negative integer, the same "
                        f"in every copy; got {value!r}", where)
                length = int(value)
        if code in _NO_CONTENT and content_type:
            raise req.violation(
                f"wsgiref.validate: a {code} response has no content, so no Content-Type "
                "header", where)
        if code not in _NO_CONTENT and not content_type:
            raise req.violation(
                "wsgiref.validate: a Content-Type header is required in every response but "
                f"204 and 304; there is none in {headers!r}", where)
        return length


class _Write:
    """The write() callable."""

    def __init__(self, write, req):
        self.write = write
        self.req = req

    def __call__(self, data):
        req = self.req
        where = _caller()
        if type(data) is not bytes:
            raise req.violation(
                f"PEP 3333: write() accepts a single bytestring, not {_describe(data)}", where)
        if req.returned:
            raise req.violation(
                "PEP 3333: applications must not invoke write() from within their return "
                "iterable", where)
        req.body(len(data), where)
        return self.write(data)


def _size(req, method, args, where):
    if len(args) > 1:
        raise req.violation(
            f"PEP 3333: wsgi.input.{method}() takes at most one argument, got {len(args)}", where)
    size = args[0] if args else None
    if size is not None and type(size) is not int:
        raise req.violation(
            f"PEP 3333: the size argument of wsgi.input.{method}() must be an int, "
            f"not {_describe(size)}", where)
    return size


class _Input:
    """wsgi.input, with only PEP 3333's methods."""

    def __init__(self, wsgi_input, req):
        self.input = wsgi_input
        self.req = req

    def _before(self, method, args):
        req = self.req
        where = _caller()
        size = _size(req, method, args, where)
        if req.finished:
            raise req.violation(
                f"PEP 3333: wsgi.input.{method}() after the response was closed; the "
                "request is over", where)
        if req.ends >= 2 and size != 0:
            raise req.violation(
                "PEP 3333: the application should not attempt to read more data than is "
                f"specified by the CONTENT_LENGTH variable (wsgi.input.{method}() after the "
                "whole body was read and its end returned twice)", where)

    def _took(self, data):
        req = self.req
        if type(data) is not bytes:
            raise req.violation(f"PEP 3333: wsgi.input returned {_describe(data)}, not bytes",
                                "the server")
        if not data:
            req.ends += 1
        return data

    def read(self, *args):
        self._before("read", args)
        return self._took(self.input.read(*args))

    def readline(self, *args):
        self._before("readline", args)
        return self._took(self.input.readline(*args))

    def readlines(self, *args):
        self._before("readlines", args)
        lines = self.input.readlines(*args)
        for line in lines:
            self._took(line)
        if not args or args[0] is None or args[0] <= 0:
            self.req.ends += 1
        return lines

    def __iter__(self):
        while True:
            line = self.readline()
            if not line:
                return
            yield line

    def close(self):
        raise self.req.violation(
            "PEP 3333: applications must not attempt to close the input or errors streams, "
            "even if they possess close() methods (wsgi.input.close())", _caller())


class _Errors:
    """wsgi.errors, with only PEP 3333's methods."""

    def __init__(self, errors, req):
        self.errors = errors
        self.req = req

    def write(self, s):
        if type(s) is not str:
            raise self.req.violation(
                f"PEP 3333: wsgi.errors.write() takes a str, not {_describe(s)}", _caller())
        return self.errors.write(s)

    def writelines(self, seq):
        for line in seq:
            self.write(line)

    def flush(self):
        return self.errors.flush()

    def close(self):
        raise self.req.violation(
            "PEP 3333: applications must not attempt to close the input or errors streams, "
            "even if they possess close() methods (wsgi.errors.close())", _caller())


_REQUIRED = ("REQUEST_METHOD", "SERVER_NAME", "SERVER_PORT", "wsgi.version", "wsgi.input",
             "wsgi.errors", "wsgi.multithread", "wsgi.multiprocess", "wsgi.run_once",
             "wsgi.url_scheme")


def check_environ(environ):
    """The server's side: the environ as wsgiref.validate wants it. A
    violation here is a bug in gowsgi."""

    def fail(rule):
        return Violation("PEP 3333 (server): " + rule, "the server")

    if type(environ) is not dict:
        raise fail(f"the environ must be a dict, not {_describe(environ)}")
    for key in _REQUIRED:
        if key not in environ:
            raise fail(f"the environ lacks the required key {key!r}")
    for key in ("HTTP_CONTENT_TYPE", "HTTP_CONTENT_LENGTH"):
        if key in environ:
            raise fail(f"the environ must not have {key} (it is {key[5:]})")
    for key, value in environ.items():
        if "." not in key and type(value) is not str:
            raise fail(f"environ[{key!r}] must be a str, not {_describe(value)}")
    if type(environ["wsgi.version"]) is not tuple:
        raise fail("wsgi.version must be a tuple")
    if environ["wsgi.url_scheme"] not in ("http", "https"):
        raise fail(f"wsgi.url_scheme {environ['wsgi.url_scheme']!r} is neither http nor https")
    script, path = environ.get("SCRIPT_NAME", ""), environ.get("PATH_INFO", "")
    if script and not script.startswith("/") or script == "/":
        raise fail(f"SCRIPT_NAME {script!r} must be empty or start with '/' (and not be '/')")
    if path and not path.startswith("/"):
        raise fail(f"PATH_INFO {path!r} must be empty or start with '/'")
    if not script and "PATH_INFO" not in environ:
        raise fail("one of SCRIPT_NAME or PATH_INFO is required")
    length = environ.get("CONTENT_LENGTH")
    if length and not (length.isascii() and length.isdigit()):
        raise fail(f"CONTENT_LENGTH {length!r} is not a non-negative integer")


def validator(application):
    """Wraps application in PEP 3333 checks."""
    app_where = _defined(application, ("__call__",))

    def validated(environ, start_response):
        check_environ(environ)
        req = _Request(environ, app_where)
        environ["wsgi.input"] = _Input(environ["wsgi.input"], req)
        environ["wsgi.errors"] = _Errors(environ["wsgi.errors"], req)
        try:
            result = application(environ, _StartResponse(start_response, req))
        except BaseException as e:
            req.deliver(e)
            raise
        req.returned = True
        try:
            return req.result(result, application)
        except BaseException as e:
            req.handed(e)
            # The server will not see this iterable: close it, as PEP 3333
            # wants every returned iterable closed.
            close = getattr(result, "close", None)
            if close is not None and type(result) not in (list, tuple):
                try:
                    close()
                except Exception:
                    pass
            raise

    return validated
