"""A module-level sqlite3 connection, as small applications have one.

sqlite3 refuses to be used from any thread but the one that made it, so
this works only where the application is imported and served on the same
thread (gunicorn's sync worker, gowsgi with one Python thread).
"""

import json
import sqlite3
import threading

db = sqlite3.connect(":memory:")
db.execute("create table hits (ident integer)")

# Made by a server hook (post_fork, in testdata/sqlite_hooks.py), as
# gunicorn users open connections per worker.
hook_db = None
init_db = None  # ... by post_worker_init


def app(environ, start_response):
    conn = {"/hook": hook_db, "/init": init_db}.get(environ["PATH_INFO"], db)
    try:
        conn.execute("insert into hits values (?)", (threading.get_ident(),))
        rows = conn.execute("select count(*) from hits").fetchone()[0]
        body, status = json.dumps({"rows": rows, "ident": threading.get_ident()}).encode(), "200 OK"
    except Exception as e:
        body, status = repr(e).encode(), "500 Internal Server Error"
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(body)))])
    return [body]
