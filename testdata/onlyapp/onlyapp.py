"""A module whose WSGI callable is named app (no application)."""


def app(environ, start_response):
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"only app"]
