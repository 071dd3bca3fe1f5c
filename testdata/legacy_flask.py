"""A small Flask application, mounted under a prefix by example_test.go."""

from flask import Flask, request

app = Flask(__name__)


@app.route("/hello")
def hello():
    return f"Flask: script_root={request.script_root} path={request.path}\n"
