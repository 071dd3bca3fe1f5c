"""Flask application for gowsgi's framework tests.

Started as 'app:create_app()' with --chdir pointing here.
"""

import hashlib
import importlib.metadata
import platform

import flask
from flask import Flask, Response, abort, jsonify, request, stream_with_context, url_for


def create_app():
    app = Flask(__name__)

    @app.get("/")
    def index():
        return "flask index"

    @app.get("/hello/<name>")
    def hello(name):
        return f"Hello, {name}!"

    @app.get("/items/<int:item_id>")
    def item(item_id):
        if item_id > 1000:
            abort(404)
        return jsonify(id=item_id, double=item_id * 2)

    @app.post("/json")
    def json_echo():
        data = request.get_json()
        return jsonify(
            received=data,
            keys=sorted(data),
            content_type=request.content_type,
        )

    @app.post("/form")
    def form():
        # request.form works the same for urlencoded and multipart bodies.
        return jsonify(
            fields={key: request.form.getlist(key) for key in request.form},
            content_type=request.mimetype,
        )

    @app.post("/upload")
    def upload():
        upload = request.files["file"]
        digest = hashlib.sha256()
        size = 0
        while True:
            chunk = upload.stream.read(64 * 1024)
            if not chunk:
                break
            size += len(chunk)
            digest.update(chunk)
        return jsonify(
            filename=upload.filename,
            size=size,
            sha256=digest.hexdigest(),
            note=request.form.get("note"),
        )

    @app.get("/stream")
    def stream():
        count = request.args.get("chunks", 200, type=int)

        # stream_with_context keeps request available while the server
        # iterates the response after the view has returned.
        @stream_with_context
        def generate():
            prefix = request.args.get("prefix", "chunk")
            for i in range(count):
                yield f"{prefix} {i:04d}\n"

        return Response(generate(), mimetype="text/plain")

    @app.post("/echo")
    def echo():
        body = request.get_data()
        return jsonify(
            size=len(body),
            sha256=hashlib.sha256(body).hexdigest(),
            content_length=request.headers.get("Content-Length"),
        )

    @app.get("/external")
    def external():
        # Behind a front end that terminates TLS, the URL it builds is https.
        return url_for("index", _external=True)

    @app.get("/error")
    def error():
        raise RuntimeError("deliberate failure in flask view")

    @app.get("/version")
    def version():
        # Which Flask and Python serve: Debian's or a virtualenv's.
        return jsonify(
            version=importlib.metadata.version("flask"),
            file=flask.__file__,
            python=platform.python_version(),
        )

    return app


# For "gowsgi app:app", the form gunicorn's deployment examples use.
app = create_app()
