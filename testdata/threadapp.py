"""Applications that report on the Python threads serving them.

Each factory makes a new application with state of its own, made on the
thread that loads it (as a module's globals are made on the thread that
imports it): a sqlite3 connection, which refuses to be used from any other
thread, and a threading.local.
"""

import json
import sqlite3
import threading
import time
import wsgiref.validate


def validated(name):
    """The application of factory call `name` ("identity()"), behind
    wsgiref.validate.validator."""
    assert name.endswith("()")
    return wsgiref.validate.validator(globals()[name[:-2]]())


def _json(start_response, data):
    body = json.dumps(data).encode()
    start_response("200 OK", [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]


def identity():
    """Every request uses the loading thread's sqlite3 connection (as a
    module-level one would be used) and counts itself in a thread local;
    it answers the thread's ident, the loader's, and the counts."""
    loader = threading.get_ident()
    db = sqlite3.connect(":memory:")
    db.execute("create table hits (ident integer)")
    local = threading.local()

    def app(environ, start_response):
        local.count = getattr(local, "count", 0) + 1
        ident = threading.get_ident()
        try:
            db.execute("insert into hits values (?)", (ident,))
            rows = db.execute("select count(*) from hits").fetchone()[0]
            error = None
        except sqlite3.Error as e:
            rows, error = None, repr(e)
        return _json(start_response, {"ident": ident, "loader": loader, "count": local.count,
                                      "rows": rows, "error": error,
                                      "main": threading.current_thread() is threading.main_thread()})

    return app


def together():
    """For several threads: a request waits (up to 10 s) until as many
    requests run at once as QUERY_STRING says, so that each runs on a
    thread of its own; it answers its thread's ident, the loader's, and
    how many requests this thread has served (a thread local)."""
    loader = threading.get_ident()
    local = threading.local()
    lock = threading.Condition()
    state = {"arrived": 0, "round": 0}

    def app(environ, start_response):
        n = int(environ["QUERY_STRING"])
        local.count = getattr(local, "count", 0) + 1
        with lock:
            my_round = state["round"]
            state["arrived"] += 1
            if state["arrived"] == n:
                state["arrived"] = 0
                state["round"] += 1
                lock.notify_all()
            else:
                lock.wait_for(lambda: state["round"] != my_round, timeout=10)
            met = state["round"] != my_round
        return _json(start_response, {"ident": threading.get_ident(), "loader": loader,
                                      "count": local.count, "met": met})

    return app


def overlap():
    """Records how many requests run at once, from the call of the
    application to the end of its response's close(), which sleeps 20 ms.
    /report answers the largest number seen, the requests counted, and
    the threads close() ran on that were not the request's."""
    lock = threading.Lock()
    state = {"active": 0, "most": 0, "requests": 0, "foreign_close": 0}

    class Body:
        def __init__(self, ident):
            self.ident = ident

        def __iter__(self):
            yield b"ok"

        def close(self):
            time.sleep(0.02)
            with lock:
                if threading.get_ident() != self.ident:
                    state["foreign_close"] += 1
                state["active"] -= 1

    def app(environ, start_response):
        if environ["PATH_INFO"] == "/report":
            with lock:
                return _json(start_response, dict(state))
        with lock:
            state["active"] += 1
            state["requests"] += 1
            state["most"] = max(state["most"], state["active"])
        start_response("200 OK", [("Content-Type", "text/plain")])
        return Body(threading.get_ident())

    return app
