"""A gunicorn configuration whose post_fork opens the worker's sqlite3
connection for the application (testdata/sqlite_app.py)."""

import sqlite3


def post_fork(server, worker):
    import sqlite_app

    sqlite_app.hook_db = sqlite3.connect(":memory:")
    sqlite_app.hook_db.execute("create table hits (ident integer)")
