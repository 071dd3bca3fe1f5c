"""Applications found the ways gunicorn finds them (see cli_test.go)."""

import json
import os
import sys


def _answer(name, extra=None):
    def app(environ, start_response):
        data = {"name": name, "multithread": environ["wsgi.multithread"]}
        data.update(extra or {})
        body = json.dumps(data).encode()
        start_response("200 OK", [("Content-Type", "application/json")])
        return [body]
    return app


application = _answer("application")
app = _answer("app")


def create_app(greeting="hello", *, times=1):
    return _answer("factory", {"greeting": greeting, "times": times})


class Holder:
    wsgi = staticmethod(_answer("attribute"))


holder = Holder()

not_callable = 42


def factory_returning_none():
    return None


def interpreter(environ, start_response):
    import signal
    import threading
    body = json.dumps({
        "executable": sys.executable,
        "prefix": sys.prefix,
        "base_prefix": sys.base_prefix,
        "path": sys.path,
        "cwd": os.getcwd(),
        "sigint": str(signal.getsignal(signal.SIGINT)),
        "sigterm": str(signal.getsignal(signal.SIGTERM)),
        "marker": os.environ.get("GOWSGI_TEST_MARKER", ""),
        "main_thread": threading.main_thread().ident == threading.get_ident(),
    }).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]


def timer_slack(environ, start_response):
    """The timer slack of the request's thread and of a thread it starts."""
    import threading

    def slack():
        with open("/proc/%d/timerslack_ns" % threading.get_native_id()) as f:
            return int(f.read())

    started = []
    t = threading.Thread(target=lambda: started.append(slack()))
    t.start()
    t.join()
    body = json.dumps({
        "request_thread": slack(),
        "started_thread": started[0],
        "variable_seen": any(k.startswith("_GOWSGI_TIMERSLACK") for k in os.environ),
    }).encode()
    start_response("200 OK", [("Content-Type", "application/json")])
    return [body]
