"""A gunicorn configuration whose post_fork and post_worker_init open
sqlite3 connections for the application (testdata/sqlite_app.py)."""

import sqlite3


def post_fork(server, worker):
    import sqlite_app

    sqlite_app.hook_db = sqlite3.connect(":memory:")
    sqlite_app.hook_db.execute("create table hits (ident integer)")


def post_worker_init(worker):
    # After the application is loaded: the thread is serving by then.
    import sqlite_app

    sqlite_app.init_db = sqlite3.connect(":memory:")
    sqlite_app.init_db.execute("create table hits (ident integer)")
