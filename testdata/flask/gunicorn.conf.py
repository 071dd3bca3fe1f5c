# gunicorn.conf.py of a Flask deployment, read by gowsgi as gunicorn reads
# it (units/flask.service names it with -c).
import multiprocessing

keepalive = 5
graceful_timeout = 10
max_requests = 1000
max_requests_jitter = 50
loglevel = "info"
errorlog = "-"
raw_env = ["FLASK_DEBUG=0"]
proc_name = "flask-app"
cpu_count = multiprocessing.cpu_count()


def when_ready(server):
    server.log.info("Flask application ready to serve on %s", server.address)


def post_fork(server, worker):
    server.log.info("Worker spawned (pid: %s)", worker.pid)


def worker_exit(server, worker):
    server.log.info("Worker %s exiting", worker.pid)
