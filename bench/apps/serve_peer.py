"""Starts one of the benchmark's peers that have no command of their own:
bench/harness runs `python serve_peer.py SERVER MODULE:CALLABLE PORT THREADS`
with the benchmark's virtualenv, from bench/apps.

bjoern and fastwsgi serve every request on the one thread that called
them (THREADS does not apply); pyruvate runs the application on THREADS
worker threads."""

import importlib
import sys


def load(spec):
    module, _, name = spec.partition(":")
    return getattr(importlib.import_module(module), name)


def main():
    server, spec, port, threads = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
    app = load(spec)
    host = "127.0.0.1"
    if server == "bjoern":
        import bjoern

        bjoern.run(app, host, port)
    elif server == "fastwsgi":
        import fastwsgi

        # Errors only, as the other servers log.
        fastwsgi.run(wsgi_app=app, host=host, port=port, loglevel=fastwsgi.LL_ERROR)
    elif server == "pyruvate":
        import pyruvate

        # Its defaults: one request per connection. pyruvate 1.6.1's
        # keep-alive (max_reuse_count) answers wrk's first request on a
        # connection and then nothing, and its chunked_transfer appends a
        # last chunk to bodies sent with Content-Length.
        pyruvate.serve(app, f"{host}:{port}", threads)
    else:
        sys.exit(f"serve_peer.py: unknown server {server!r}")


if __name__ == "__main__":
    main()
