"""Falcon application for gowsgi's framework tests.

Started as 'app:app' with --chdir pointing here.
"""

import hashlib
import importlib.metadata
import platform

import falcon


class Index:
    def on_get(self, req, resp):
        resp.content_type = falcon.MEDIA_TEXT
        resp.text = "falcon index"


class Item:
    def on_get(self, req, resp, item_id):
        if item_id > 1000:
            raise falcon.HTTPNotFound()
        resp.media = {"id": item_id, "double": item_id * 2}


class JSONEcho:
    def on_post(self, req, resp):
        # Malformed JSON raises MediaMalformedError: a 400.
        data = req.get_media()
        resp.media = {"received": data, "keys": sorted(data), "content_type": req.content_type}


class Upload:
    def on_post(self, req, resp):
        out = {"note": None}
        # Falcon parses multipart/form-data part by part, as it streams in.
        for part in req.get_media():
            if part.name == "file":
                digest = hashlib.sha256()
                size = 0
                while True:
                    chunk = part.stream.read(64 * 1024)
                    if not chunk:
                        break
                    size += len(chunk)
                    digest.update(chunk)
                out.update(filename=part.filename, size=size, sha256=digest.hexdigest())
            elif part.name == "note":
                out["note"] = part.get_text()
        resp.media = out


class Stream:
    def on_get(self, req, resp):
        count = req.get_param_as_int("chunks", default=200)
        prefix = req.get_param("prefix", default="chunk")

        def generate():
            for i in range(count):
                yield f"{prefix} {i:04d}\n".encode()

        resp.content_type = falcon.MEDIA_TEXT
        resp.stream = generate()


class Echo:
    def on_post(self, req, resp):
        # bounded_stream stops at Content-Length; a chunked body has none,
        # and the server's wsgi.input ends where the body does
        # (wsgi.input_terminated).
        if req.content_length is not None:
            body = req.bounded_stream.read()
        else:
            body = req.stream.read()
        resp.media = {
            "size": len(body),
            "sha256": hashlib.sha256(body).hexdigest(),
            "content_length": req.get_header("Content-Length"),
        }


class Error:
    def on_get(self, req, resp):
        raise RuntimeError("deliberate failure in falcon resource")


class Version:
    def on_get(self, req, resp):
        # Which Falcon and Python serve.
        resp.media = {
            "version": importlib.metadata.version("falcon"),
            "file": falcon.__file__,
            "python": platform.python_version(),
        }


app = falcon.App()
app.add_route("/", Index())
app.add_route("/items/{item_id:int}", Item())
app.add_route("/json", JSONEcho())
app.add_route("/upload", Upload())
app.add_route("/stream", Stream())
app.add_route("/echo", Echo())
app.add_route("/error", Error())
app.add_route("/version", Version())
