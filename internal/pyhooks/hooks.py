"""gunicorn's configuration files and server hooks, inside gowsgi.

This module runs in gowsgi's embedded interpreter: in the master's helper
process, which reads a Python configuration file and runs the master's
hooks, and in each worker, which runs the workers' hooks and, when
pre_request or post_request is defined, calls them around the
application. Go calls dispatch(name, json) and gets JSON back; hooks
write to the server's error log through _emit(level, text), a function
gowsgi puts in this module.

The objects hooks receive have the attributes of gunicorn's that real
hooks use (docs/migrating-from-gunicorn.md lists them).
"""

import importlib
import importlib.machinery
import importlib.util
import inspect
import json
import os
import sys
import traceback
from urllib.parse import urlsplit

HOOKS = {}  # name -> callable, the hooks of this process
SERVER = None
WORKER = None
WORKERS = {}  # master side: age -> Worker, as pre_fork saw them
CFG = None


def dispatch(name, arg):
    try:
        result = _ENTRY[name](json.loads(arg))
    except _Failure as e:
        return json.dumps({"error": str(e)})
    except BaseException:
        return json.dumps({"error": traceback.format_exc()})
    return json.dumps({"result": result})


class _Failure(Exception):
    """An error already explained: its text is the whole message."""


# --- logging: server.log, worker.log ----------------------------------------

DEBUG, INFO, WARNING, ERROR, CRITICAL = 10, 20, 30, 40, 50


class Logger:
    """The methods gunicorn's Logger offers hooks; lines go to gowsgi's
    error log, in its format, at the level given."""

    def _write(self, level, msg, args, exc_info=None):
        text = str(msg)
        if args:
            try:
                text = text % args
            except (TypeError, ValueError):
                text = " ".join([text] + [str(a) for a in args])
        if exc_info:
            if isinstance(exc_info, BaseException):
                exc_info = (type(exc_info), exc_info, exc_info.__traceback__)
            elif not isinstance(exc_info, tuple):
                exc_info = sys.exc_info()
            if exc_info[0] is not None:
                text += "\n" + "".join(traceback.format_exception(*exc_info)).rstrip("\n")
        _emit(level, text)

    def debug(self, msg, *args, **kw):
        self._write(DEBUG, msg, args, kw.get("exc_info"))

    def info(self, msg, *args, **kw):
        self._write(INFO, msg, args, kw.get("exc_info"))

    def warning(self, msg, *args, **kw):
        self._write(WARNING, msg, args, kw.get("exc_info"))

    warn = warning

    def error(self, msg, *args, **kw):
        self._write(ERROR, msg, args, kw.get("exc_info"))

    def critical(self, msg, *args, **kw):
        self._write(CRITICAL, msg, args, kw.get("exc_info"))

    def exception(self, msg, *args, **kw):
        self._write(ERROR, msg, args, kw.get("exc_info", True))

    def log(self, level, msg, *args, **kw):
        if isinstance(level, str):
            level = {"debug": DEBUG, "info": INFO, "warning": WARNING, "error": ERROR,
                     "critical": CRITICAL}.get(level.lower(), INFO)
        self._write(level, msg, args, kw.get("exc_info"))

    def reopen_files(self):
        """gowsgi reopens its log files itself on SIGUSR1."""

    def close_on_exec(self):
        """Nothing to do: gowsgi's log descriptors are close-on-exec."""


LOG = Logger()


# --- the configuration ------------------------------------------------------

class _Value:
    def __init__(self, name, value):
        self.name, self.value = name, value

    def get(self):
        return self.value


class Config:
    """cfg of server and worker: every setting as an attribute
    (cfg.workers, cfg.bind), cfg.settings[name].value, and cfg.env."""

    def __init__(self, values):
        self.__dict__["settings"] = {k: _Value(k, v) for k, v in values.items()}

    def __getattr__(self, name):
        try:
            return self.settings[name].value
        except KeyError:
            raise AttributeError("No configuration setting for: %s" % name) from None

    def __setattr__(self, name, value):
        raise AttributeError("Invalid access!")

    @property
    def env(self):
        env = {}
        for item in self.settings.get("raw_env", _Value("", [])).value or []:
            key, _, value = item.partition("=")
            env[key] = value
        return env

    @property
    def proc_name(self):
        v = self.settings.get("proc_name")
        return v.value if v and v.value else self.settings["default_proc_name"].value

    @property
    def address(self):
        return list(self.settings["bind"].value)

    @property
    def worker_class_str(self):
        return "gthread" if self.threads > 1 else "sync"

    @property
    def uid(self):
        return os.geteuid()

    @property
    def gid(self):
        return os.getegid()

    def __str__(self):
        return "\n".join("%s = %r" % (k, self.settings[k].value) for k in sorted(self.settings))


# --- reading a configuration file --------------------------------------------

def _jsonable(v):
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    if isinstance(v, (list, tuple, set, frozenset)):
        return [_jsonable(e) for e in v]
    if isinstance(v, dict):
        return {str(k): _jsonable(e) for k, e in v.items()}
    if inspect.isclass(v):
        return "%s.%s" % (v.__module__, v.__qualname__)
    return {"__repr__": repr(v)}


def _describe(fn):
    if isinstance(fn, str):
        return fn
    code = getattr(fn, "__code__", None)
    where = " at %s:%d" % (code.co_filename, code.co_firstlineno) if code else ""
    return "%s()%s" % (getattr(fn, "__qualname__", repr(fn)), where)


def _exec_file(location, startdir):
    """Runs a configuration file as gunicorn does: as the module __config__,
    with the directory gowsgi started in at the front of sys.path."""
    added = startdir and startdir not in sys.path
    if added:
        sys.path.insert(0, startdir)
    try:
        if location.startswith("python:"):
            return vars(importlib.import_module(location[len("python:"):]))
        filename = location[len("file:"):] if location.startswith("file:") else location
        if not os.path.exists(filename):
            raise _Failure("config file %s does not exist" % filename)
        try:
            if os.path.splitext(filename)[1] in (".py", ".pyc"):
                spec = importlib.util.spec_from_file_location("__config__", filename)
            else:
                loader = importlib.machinery.SourceFileLoader("__config__", filename)
                spec = importlib.util.spec_from_file_location("__config__", filename, loader=loader)
            module = importlib.util.module_from_spec(spec)
            sys.modules["__config__"] = module
            spec.loader.exec_module(module)
        except Exception:
            raise _Failure("Failed to read config file: %s\n%s" % (filename, traceback.format_exc().rstrip("\n"))) from None
        return vars(module)
    finally:
        if added:
            try:
                sys.path.remove(startdir)
            except ValueError:
                pass


def _arity(fn):
    arity = 0
    for p in inspect.signature(fn).parameters.values():
        if p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD):
            arity += 1
    return arity


def _callable(name, value, arity):
    """gunicorn's validate_callable: a callable of the right arity, or the
    dotted name of one."""
    if isinstance(value, str):
        module_name, _, attr = value.rpartition(".")
        if not module_name:
            raise _Failure("hook %s: %r is not a dotted name (module.function)" % (name, value))
        try:
            value = getattr(importlib.import_module(module_name), attr)
        except ImportError as e:
            raise _Failure("hook %s: %s" % (name, e)) from None
        except AttributeError:
            raise _Failure("hook %s: module %r has no %r" % (name, module_name, attr)) from None
    if not callable(value):
        raise _Failure("hook %s: %r is not callable" % (name, value))
    n = _arity(value)
    if name == "post_request":
        if n == 3:
            fn = value
            return lambda worker, req, environ, resp: fn(worker, req, environ)
        if n == 2:
            fn = value
            return lambda worker, req, environ, resp: fn(worker, req)
        if n != 4:
            raise _Failure("hook post_request must take 2 to 4 arguments, not %d" % n)
    elif arity is not None and n != arity:
        raise _Failure("hook %s must take %d argument%s (gunicorn's signature), not %d"
                       % (name, arity, "" if arity == 1 else "s", n))
    return value


def read_config(arg):
    """The settings and hooks of a configuration file, for Go."""
    ns = _exec_file(arg["path"], arg.get("startdir"))
    settings, hooks = set(arg["settings"]), arg["hooks"]
    values, defined, unknown = {}, {}, []
    for k, v in ns.items():
        if k.startswith("_") or inspect.ismodule(v):
            continue
        if k in hooks:
            _callable(k, v, hooks[k])
            defined[k] = _describe(v)
        elif k in settings:
            values[k] = _jsonable(v)
        elif not callable(v):
            unknown.append(k)
    return {"values": values, "hooks": defined, "unknown": sorted(unknown)}


# --- the objects hooks receive ----------------------------------------------

class Server:
    """The master (gunicorn's Arbiter) as hooks see it."""

    def __init__(self):
        self.log = LOG
        self.cfg = CFG
        self.pid = os.getppid()
        self.num_workers = 0
        self.WORKERS = {}
        self.LISTENERS = []
        self.worker_age = 0
        self.master_name = "Master"
        self.master_pid = 0
        self.reexec_pid = 0
        self.app = None
        self.timeout = 0
        self.proc_name = ""
        self.address = []
        self.START_CTX = {}

    def _update(self, state):
        self.cfg = CFG
        for k in ("pid", "num_workers", "timeout", "proc_name", "worker_age", "reexec_pid", "master_pid"):
            if k in state:
                setattr(self, k, state[k])
        if "address" in state:
            self.address = list(state["address"])
            self.LISTENERS = list(state["address"])
        if "argv" in state:
            self.START_CTX = {"args": list(state["argv"]), "cwd": state.get("cwd", ""), 0: sys.executable}
        if "workers" in state:
            current = {}
            for w in state["workers"]:
                worker = WORKERS.get(w["age"]) or Worker({})
                WORKERS[w["age"]] = worker
                worker._update(w)
                current[worker.pid] = worker
            self.WORKERS = current


class Worker:
    """A worker as hooks see it: pid, ppid, age (its number, counting from
    1 as workers start), nr (requests begun), and so on."""

    def __init__(self, state):
        self.log = LOG
        self.cfg = CFG
        self.pid = "[booting]"
        self.ppid = os.getpid()
        self.age = 0
        self.booted = False
        self.aborted = False
        self.alive = True
        self.timeout = 0
        self.nr = 0
        self.max_requests = sys.maxsize
        self.sockets = []
        self.wsgi = None
        self.app = None
        self.tmp = None
        self._update(state)

    def _update(self, state):
        self.cfg = CFG
        for k in ("pid", "ppid", "age", "booted", "aborted", "alive", "timeout", "max_requests"):
            if state.get(k) is not None:
                setattr(self, k, state[k])
        if self.max_requests == 0:
            self.max_requests = sys.maxsize

    def notify(self):
        """gowsgi's workers report to the master by themselves."""

    def __str__(self):
        return "<Worker %s>" % self.pid


class Request:
    """The request pre_request and post_request receive: gunicorn's
    attributes, from the environ."""

    def __init__(self, environ):
        self.environ = environ
        self.method = environ.get("REQUEST_METHOD", "")
        self.uri = environ.get("RAW_URI") or environ.get("REQUEST_URI") or (
            environ.get("SCRIPT_NAME", "") + environ.get("PATH_INFO", ""))
        parts = urlsplit(self.uri)
        self.path = parts.path or ""
        self.query = environ.get("QUERY_STRING", parts.query or "")
        self.fragment = parts.fragment or ""
        proto = environ.get("SERVER_PROTOCOL", "HTTP/1.1")
        try:
            major, _, minor = proto.partition("/")[2].partition(".")
            self.version = (int(major), int(minor or 0))
        except ValueError:
            self.version = (1, 1)
        self.scheme = environ.get("wsgi.url_scheme", "http")
        addr = environ.get("REMOTE_ADDR", "")
        port = environ.get("REMOTE_PORT")
        self.remote_addr = self.peer_addr = (addr, int(port)) if port else addr
        self.body = environ.get("wsgi.input")
        self.trailers = []
        self.proxy_protocol_info = None
        if "PROXY_PROTOCOL" in environ:
            # gunicorn's dict; the addresses only when the header gave them.
            given = "PROXY_ADDR" in environ
            self.proxy_protocol_info = {
                "proxy_protocol": environ["PROXY_PROTOCOL"],
                "client_addr": addr if given else None,
                "client_port": int(port) if given and port else None,
                "proxy_addr": environ.get("PROXY_ADDR"),
                "proxy_port": int(environ["PROXY_PORT"]) if given else None,
            }
        self._headers = None

    @property
    def headers(self):
        """(NAME, value) pairs, names upper case with '-', as gunicorn's."""
        if self._headers is None:
            h = []
            for k, v in self.environ.items():
                if k.startswith("HTTP_"):
                    h.append((k[5:].replace("_", "-"), v))
                elif k in ("CONTENT_TYPE", "CONTENT_LENGTH") and v:
                    h.append((k.replace("_", "-"), v))
            self._headers = h
        return self._headers

    def should_close(self):
        conn = self.environ.get("HTTP_CONNECTION", "").lower()
        return conn == "close" or (self.version < (1, 1) and conn != "keep-alive")


class Response:
    """What post_request learns of the response."""

    def __init__(self):
        self.status = None
        self.status_code = None
        self.headers = []
        self.headers_sent = False
        self.response_length = None
        self.sent = 0
        self.chunked = False

    def _start(self, status, headers):
        self.status = status
        try:
            self.status_code = int(status.split(None, 1)[0])
        except (ValueError, IndexError):
            self.status_code = None
        self.headers = list(headers)
        for name, value in self.headers:
            if name.lower() == "content-length":
                try:
                    self.response_length = int(value)
                except ValueError:
                    pass


# --- loading hooks, calling them ----------------------------------------------

def init(arg):
    """Loads this process's hooks: from the configuration file (run once
    more here) or as dotted names."""
    global CFG, SERVER, WORKER
    CFG = Config(arg["cfg"])
    ns = {}
    if arg.get("path"):
        ns = _exec_file(arg["path"], arg.get("startdir"))
    for name, arity in arg["hooks"].items():
        value = arg.get("dotted", {}).get(name) or ns.get(name)
        if value is not None:
            HOOKS[name] = _callable(name, value, arity)
    SERVER = Server()
    SERVER._update(arg.get("server", {}))
    if arg.get("worker") is not None:
        WORKER = Worker(arg["worker"])
    else:
        # The master's hooks see raw_env, as in gunicorn's master (each
        # worker has it already).
        os.environ.update(CFG.env)
    return sorted(HOOKS)


def call(arg):
    """Runs a hook with gunicorn's arguments. A hook that is not defined
    does nothing."""
    name = arg["hook"]
    fn = HOOKS.get(name)
    if fn is None:
        return None
    # The worker first: the one pre_fork saw is the one child_exit sees,
    # with what a hook set on it, as with gunicorn's objects.
    worker = None
    if arg.get("worker") is not None:
        w = arg["worker"]
        if WORKER is not None:
            worker = WORKER
            worker._update(w)
        else:
            worker = WORKERS.get(w.get("age")) or Worker(w)
            worker._update(w)
            if w.get("age"):
                WORKERS[w["age"]] = worker
    SERVER._update(arg.get("server", {}))
    args = arg.get("args", [])
    if name in ("on_starting", "on_reload", "when_ready", "pre_exec", "on_exit"):
        fn(SERVER)
    elif name in ("pre_fork", "post_fork", "child_exit", "worker_exit"):
        fn(SERVER, worker)
        if name == "child_exit":
            WORKERS.pop(worker.age, None)
    elif name in ("post_worker_init", "worker_int", "worker_abort"):
        fn(worker)
    elif name == "nworkers_changed":
        fn(SERVER, args[0], args[1])
    else:
        raise _Failure("unknown hook %s" % name)
    return None


def wrap_application(app):
    """The application, called between pre_request and post_request when
    either is defined; the application itself otherwise. post_request runs
    after the response's close(), as gunicorn's."""
    if WORKER is not None:
        WORKER.wsgi = app
    pre, post = HOOKS.get("pre_request"), HOOKS.get("post_request")
    if pre is None and post is None:
        return app

    def application(environ, start_response):
        worker = WORKER
        worker.nr += 1
        req = Request(environ)
        resp = Response()
        if pre is not None:
            pre(worker, req)

        def recording_start_response(status, headers, exc_info=None):
            resp._start(status, headers)
            write = start_response(status, headers, exc_info) if exc_info else start_response(status, headers)

            def counting_write(data):
                resp.sent += len(data)
                resp.headers_sent = True
                return write(data)
            return counting_write

        try:
            result = app(environ, recording_start_response)
        except BaseException:
            if post is not None:
                _post(post, worker, req, environ, resp)
            raise
        if post is None:
            return result
        done = lambda: _post(post, worker, req, environ, resp)
        wrapper = environ.get("wsgi.file_wrapper")
        if wrapper is not None and type(result) is wrapper:
            # Still a file_wrapper, so it is still sent with sendfile(2).
            return wrapper(_ClosingFile(result.filelike, done, resp), result.blksize)
        return _ClosingIterable(result, done, resp)

    return application


def _post(post, worker, req, environ, resp):
    try:
        post(worker, req, environ, resp)
    except Exception:
        LOG.exception("Exception in post_request hook")


class _ClosingIterable:
    def __init__(self, result, done, resp):
        self._result, self._done, self._resp = result, done, resp

    def __iter__(self):
        for chunk in self._result:
            self._resp.sent += len(chunk)
            self._resp.headers_sent = True
            yield chunk

    def close(self):
        _close_then(self._result, self._done)


class _ClosingFile:
    """The file of a file_wrapper, whose close() is also the end of the
    request."""

    def __init__(self, filelike, done, resp):
        self._filelike, self._done, self._resp = filelike, done, resp
        try:
            self._start = filelike.tell()
        except Exception:
            self._start = None

    def __getattr__(self, name):
        return getattr(self._filelike, name)

    def read(self, *args):
        data = self._filelike.read(*args)
        self._resp.sent += len(data)
        return data

    def close(self):
        resp = self._resp
        resp.headers_sent = True
        if resp.sent == 0:
            # Sent with sendfile(2), not read here: the rest of the file.
            try:
                resp.sent = os.fstat(self._filelike.fileno()).st_size - self._start
            except Exception:
                resp.sent = resp.response_length or 0
            if resp.response_length is not None:
                resp.sent = min(resp.sent, resp.response_length)
        _close_then(self._filelike, self._done)


def _close_then(obj, done):
    """Closes obj if it can be, then calls done, whatever close raised."""
    try:
        close = getattr(obj, "close", None)
        if close is not None:
            close()
    finally:
        done()


_ENTRY = {"read_config": read_config, "init": init, "call": call}
