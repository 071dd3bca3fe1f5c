/*
 * app.c: loading a WSGI application, and the cycle of one request:
 * environ, the call, the response iterable, close().
 *
 * This follows wsgiref.handlers.BaseHandler.run: an exception before the
 * head is sent becomes a 500, one after it aborts the response, and close()
 * is always called.
 */
#include "gw_python.h"

#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

PyObject *gw_str_close;
static PyObject *loader_fn;
static PyObject *request_timeout; /* gowsgi.RequestTimeout */

int gw_init_types(void)
{
    if (PyType_Ready(&gw_input_type) < 0 || PyType_Ready(&gw_responder_type) < 0 ||
        PyType_Ready(&gw_filewrapper_type) < 0 || PyType_Ready(&gw_errors_type) < 0)
        return -1;
    gw_str_close = PyUnicode_InternFromString("close");
    /* A BaseException, like KeyboardInterrupt: "except Exception" in the
     * application does not swallow it. */
    request_timeout = PyErr_NewExceptionWithDoc(
        "gowsgi.RequestTimeout",
        "Raised in a request's Python thread when the request runs past the server's --timeout.",
        PyExc_BaseException, NULL);
    return gw_str_close && request_timeout ? 0 : -1;
}

/* gw_exec_source runs embedded Python source as a module of its own and
 * returns its globals (a new reference), or NULL with an exception set. */
PyObject *gw_exec_source(const char *source, const char *filename)
{
    PyObject *code = Py_CompileString(source, filename, Py_file_input);
    if (code == NULL)
        return NULL;
    PyObject *globals = PyDict_New();
    if (globals == NULL || PyDict_SetItemString(globals, "__builtins__", PyEval_GetBuiltins()) < 0) {
        Py_XDECREF(globals);
        Py_DECREF(code);
        return NULL;
    }
    PyObject *r = PyEval_EvalCode(code, globals, globals);
    Py_DECREF(code);
    if (r == NULL) {
        Py_DECREF(globals);
        return NULL;
    }
    Py_DECREF(r);
    return globals;
}

/* compile_function runs a helper module's source and returns a new
 * reference to its function name. */
static PyObject *compile_function(const char *source, const char *filename, const char *name)
{
    PyObject *globals = gw_exec_source(source, filename);
    if (globals == NULL)
        return NULL;
    PyObject *fn = Py_XNewRef(PyDict_GetItemString(globals, name));
    if (fn == NULL)
        PyErr_Format(PyExc_RuntimeError, "%s defines no %s", filename, name);
    Py_DECREF(globals);
    return fn;
}

static PyObject *get_loader(const char *source)
{
    if (loader_fn == NULL)
        loader_fn = compile_function(source, "<gowsgi loader>", "load");
    return loader_fn;
}

static int set_const(PyObject *d, const char *key, PyObject *value)
{
    if (value == NULL)
        return -1;
    int rc = PyDict_SetItemString(d, key, value);
    Py_DECREF(value);
    return rc;
}

/* gw_app_load imports the application and prepares the constant part of its
 * environ. On failure *err is the traceback (malloc'ed). */
gw_app *gw_app_load(const char *spec, const char *loader_source, const gw_app_config *cfg,
                    char **err)
{
    gw_enter();
    gw_app *app = calloc(1, sizeof(gw_app));
    PyObject *load = get_loader(loader_source);
    PyObject *callable = load ? PyObject_CallFunction(load, "s", spec) : NULL;
    if (callable != NULL && cfg->validate_source != NULL)
        Py_SETREF(callable, gw_validate_wrap(callable, cfg->validate_source));
    /* Presized for a whole environ: PyDict_Copy keeps the table's size, so
     * filling the copy per request never resizes it. */
    PyObject *t = callable ? _PyDict_NewPresized(GW_ENVIRON_SIZE) : NULL;
    if (app == NULL || t == NULL)
        goto fail;
    if (cfg->debug_source != NULL &&
        (app->debug_page = compile_function(cfg->debug_source, "<gowsgi debug page>", "page")) == NULL)
        goto fail;
    if (set_const(t, "wsgi.version", Py_BuildValue("(ii)", 1, 0)) < 0 ||
        set_const(t, "wsgi.multithread", PyBool_FromLong(cfg->multithread)) < 0 ||
        set_const(t, "wsgi.multiprocess", PyBool_FromLong(cfg->multiprocess)) < 0 ||
        set_const(t, "wsgi.run_once", PyBool_FromLong(cfg->run_once)) < 0 ||
        set_const(t, "wsgi.input_terminated", PyBool_FromLong(1)) < 0 ||
        set_const(t, "wsgi.errors", gw_errors_new(cfg->handle)) < 0 ||
        set_const(t, "wsgi.file_wrapper", Py_NewRef((PyObject *)&gw_filewrapper_type)) < 0 ||
        set_const(t, "SERVER_SOFTWARE", PyUnicode_FromString(cfg->server_software)) < 0)
        goto fail;
    app->app = callable;
    app->template = t;
    app->handle = cfg->handle;
    gw_leave();
    return app;

fail:
    *err = PyErr_Occurred() ? gw_format_exception() : strdup("out of memory");
    Py_XDECREF(callable);
    Py_XDECREF(t);
    if (app != NULL)
        Py_XDECREF(app->debug_page);
    free(app);
    gw_leave();
    return NULL;
}

void gw_app_free(gw_app *app)
{
    gw_enter();
    Py_CLEAR(app->app);
    Py_CLEAR(app->template);
    Py_CLEAR(app->debug_page);
    gw_leave();
    free(app);
}

/* debug_page renders the pending exception as the --debug page, into the
 * body buffer, and leaves the exception pending for the log. If the page
 * cannot be made, the client gets the plain 500. */
static void debug_page(gw_app *app, gw_req *r)
{
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    if (tb != NULL && value != NULL)
        PyException_SetTraceback(value, tb);
    PyObject *html = value ? PyObject_CallOneArg(app->debug_page, value) : NULL;
    PyObject *b = html ? PyUnicode_AsEncodedString(html, "utf-8", "backslashreplace") : NULL;
    if (b != NULL &&
        gw_reserve((void **)&r->body, &r->body_buf_cap, 0, (uint64_t)PyBytes_GET_SIZE(b), 1) == 0) {
        memcpy(r->body, PyBytes_AS_STRING(b), PyBytes_GET_SIZE(b));
        r->body_buf_len = (uint32_t)PyBytes_GET_SIZE(b);
        r->out_flags |= GW_OUT_DEBUG_PAGE;
    }
    PyErr_Clear(); /* an error of the page's own: the application's matters */
    Py_XDECREF(b);
    Py_XDECREF(html);
    PyErr_Restore(type, value, tb);
}

/* failed_before_head marks a response as failed before its head went
 * out: a 500, with --debug the traceback page. */
static void failed_before_head(gw_app *app, gw_req *r)
{
    r->out_flags |= GW_OUT_FAILED;
    r->body_buf_len = 0;
    if (app != NULL && app->debug_page != NULL)
        debug_page(app, r);
}

/* fail records an application error (the exception is pending): a 500 if
 * nothing was sent yet, else an aborted response. */
static void fail(gw_call *c, const char *what)
{
    gw_req *r = c->req;
    if (!c->head_sent) {
        failed_before_head(c->app, r);
    } else {
        r->out_flags |= GW_OUT_ABORT;
    }
    gw_log_exception(r, GW_LOG_ERROR, what);
}

/* emit takes one chunk of a generator (or any iterable C cannot see
 * through): it goes out at once, as PEP 3333 requires. Returns 0, -1 with
 * an exception set, or -2 when the client is gone. */
static int emit(gw_call *c, PyObject *chunk)
{
    if (!PyBytes_Check(chunk)) {
        PyErr_Format(PyExc_TypeError,
                     "PEP 3333: the response iterable must yield bytes, not %.100s",
                     Py_TYPE(chunk)->tp_name);
        return -1;
    }
    Py_ssize_t n = PyBytes_GET_SIZE(chunk);
    if (n == 0)
        return 0;
    if (c->status == NULL) {
        PyErr_SetString(PyExc_RuntimeError,
                        "PEP 3333: the application yielded body data before calling "
                        "start_response()");
        return -1;
    }
    return gw_flush(c, PyBytes_AS_STRING(chunk), n);
}

/* send_complete takes a body that was complete when the application
 * returned: items, a tuple of all its chunks. A small one is copied for Go
 * to send with the head; a large one is handed over without a copy. Returns
 * 0, or -1 with an exception set. */
static int send_complete(gw_call *c, PyObject *items)
{
    gw_req *r = c->req;
    Py_ssize_t n = PyTuple_GET_SIZE(items);
    int64_t total = 0;
    Py_ssize_t parts = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PyTuple_GET_ITEM(items, i);
        if (!PyBytes_Check(item)) {
            PyErr_Format(PyExc_TypeError,
                         "PEP 3333: the response iterable must yield bytes, not %.100s",
                         Py_TYPE(item)->tp_name);
            return -1;
        }
        if (PyBytes_GET_SIZE(item) > 0) {
            total += PyBytes_GET_SIZE(item);
            parts++;
        }
    }
    if (total == 0)
        return 0;
    if (c->status == NULL) {
        PyErr_SetString(PyExc_RuntimeError,
                        "PEP 3333: the application returned body data before calling "
                        "start_response()");
        return -1;
    }
    r->known_length = total;
    if (total <= GW_BODY_MAX) {
        if (gw_reserve((void **)&r->body, &r->body_buf_cap, r->body_buf_len, (uint64_t)total, 1) < 0)
            return -1;
        for (Py_ssize_t i = 0; i < n; i++) {
            PyObject *item = PyTuple_GET_ITEM(items, i);
            memcpy(r->body + r->body_buf_len, PyBytes_AS_STRING(item), PyBytes_GET_SIZE(item));
            r->body_buf_len += (uint32_t)PyBytes_GET_SIZE(item);
        }
        return 0;
    }
    if (!c->committed && gw_commit_head(c) < 0)
        return -1;
    if (gw_reserve((void **)&r->chunks, &r->chunks_cap, 0, (uint64_t)parts, sizeof(gw_chunk)) < 0)
        return -1;
    r->nchunks = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        PyObject *item = PyTuple_GET_ITEM(items, i);
        if (PyBytes_GET_SIZE(item) > 0) {
            r->chunks[r->nchunks].p = PyBytes_AS_STRING(item);
            r->chunks[r->nchunks].n = (uint64_t)PyBytes_GET_SIZE(item);
            r->nchunks++;
        }
    }
    r->pending_refs = Py_NewRef(items);
    r->out_flags |= GW_OUT_HANDED_OVER;
    c->handed_over = 1;
    return 0;
}

/* send_result consumes the application's return value. */
static void send_result(gw_call *c, PyObject *result)
{
    if (Py_IS_TYPE(result, &gw_filewrapper_type)) {
        int rc = gw_hand_over_file(c, result);
        if (rc < 0)
            fail(c, "Error sending the file");
        if (rc != 0)
            return;
    }
    PyObject *items = NULL;
    if (PyTuple_CheckExact(result)) {
        items = Py_NewRef(result);
    } else if (PyList_CheckExact(result)) {
        /* A copy: another thread could change the list while Go sends it. */
        items = PyList_AsTuple(result);
    } else {
        PyObject *it = PyObject_GetIter(result);
        if (it == NULL) {
            fail(c, "The application's return value is not iterable");
            return;
        }
        if (Py_IS_TYPE(it, &PyListIter_Type) || Py_IS_TYPE(it, &PyTupleIter_Type)) {
            /* Iterating a list runs no application code: the body is
             * complete already (Django's HttpResponse is such a list). */
            items = PySequence_Tuple(it);
        } else {
            PyObject *item;
            int rc = 0;
            while ((item = PyIter_Next(it)) != NULL) {
                rc = emit(c, item);
                Py_DECREF(item);
                if (rc != 0)
                    break;
            }
            if (rc == -1 || (rc == 0 && PyErr_Occurred()))
                fail(c, "Error while iterating the response");
            Py_DECREF(it);
            return;
        }
        Py_DECREF(it);
    }
    if (items == NULL || send_complete(c, items) < 0)
        fail(c, "Error in the response body");
    Py_XDECREF(items);
}

static void close_response(gw_app *app, gw_req *r, PyObject *result, int sent)
{
    if (PyList_CheckExact(result) || PyTuple_CheckExact(result))
        return;
    PyObject *close = NULL;
    PyObject *ok = NULL;
    if (gw_lookup_attr(result, gw_str_close, &close) >= 0) {
        if (close == NULL)
            return;
        ok = PyObject_CallNoArgs(close);
        Py_DECREF(close);
    }
    if (ok != NULL) {
        Py_DECREF(ok);
        return;
    }
    if (!sent && !(r->out_flags & GW_OUT_FAILED))
        failed_before_head(app, r);
    gw_log_exception(r, GW_LOG_ERROR, "Error closing the response");
}

/* release drops what a handed-over body held. */
static void release(gw_req *r)
{
    Py_CLEAR(*(PyObject **)&r->pending);
    Py_CLEAR(*(PyObject **)&r->pending_refs);
    r->out_flags &= ~GW_OUT_HANDED_OVER;
    r->nchunks = 0;
    r->file_fd = -1;
}

static void reset(gw_req *r)
{
    r->out_flags = 0;
    r->nchunks = 0;
    r->file_fd = -1;
    r->status = 0;
    r->head_len = 0;
    r->nhdr = 0;
    r->content_length = -1;
    r->known_length = -1;
    r->body_buf_len = 0;
    r->errmsg[0] = 0;
}

unsigned long gw_python_timer_slack;

void gw_restore_timer_slack(void)
{
    if (gw_python_timer_slack != 0)
        prctl(PR_SET_TIMERSLACK, gw_python_timer_slack, 0, 0, 0);
}

/* gw_enter takes the GIL with the calling OS thread's Python thread
 * state, made on the thread's first call and kept until gw_thread_detach,
 * so the thread is one stable Python thread. Only the App's Python threads
 * (and the one that posts timeouts, see gw_interrupt) ever call it. */
void gw_enter(void)
{
    PyThreadState *tstate = PyGILState_GetThisThreadState();
    if (tstate == NULL) {
        gw_restore_timer_slack();
        /* PyGILState's own state: a C extension calling PyGILState_Ensure
         * on this thread finds it instead of making another. Never
         * released: the state stays. */
        PyGILState_Ensure();
    } else {
        PyEval_RestoreThread(tstate);
    }
}

void gw_leave(void)
{
    PyEval_SaveThread();
}

/* gw_thread_attach makes the calling OS thread a Python thread: its
 * thread state exists from here on. */
void gw_thread_attach(void)
{
    gw_enter();
    gw_leave();
}

/* gw_thread_detach deletes the calling thread's Python thread state, as
 * the thread is about to end. */
void gw_thread_detach(void)
{
    PyThreadState *tstate = PyGILState_GetThisThreadState();
    if (tstate == NULL)
        return;
    PyEval_RestoreThread(tstate);
    PyThreadState_Clear(tstate);
    PyThreadState_DeleteCurrent();
}

/* gw_handle runs one request on the calling OS thread. */
void gw_handle(gw_app *app, gw_req *req)
{
    gw_enter();
    reset(req);
    req->thread_id = PyThread_get_thread_ident();
    req->active = 1;
    gw_call call = {.app = app, .req = req};
    PyObject *result = NULL;
    PyObject *input = gw_input_new(req);
    PyObject *environ = input ? gw_environ_new(app, req, input) : NULL;
    PyObject *responder = environ ? gw_responder_new(&call) : NULL;
    if (responder == NULL) {
        fail(&call, "Error building the environ");
        goto done;
    }

    PyObject *args[2] = {environ, responder};
    result = PyObject_Vectorcall(app->app, args, 2, NULL);
    if (result == NULL) {
        fail(&call, "Error calling the application");
        goto done;
    }
    send_result(&call, result);

    /* The head goes out with the last bytes, or alone for an empty body. */
    if (!(req->out_flags & (GW_OUT_FAILED | GW_OUT_ABORT)) && !call.client_gone &&
        !call.committed && gw_commit_head(&call) < 0)
        fail(&call, "Error in the response");

    if (call.handed_over && !(req->out_flags & (GW_OUT_FAILED | GW_OUT_ABORT)))
        req->pending = Py_NewRef(result); /* closed by gw_finish, once sent */
    else
        close_response(app, req, result, call.head_sent);

done:
    if (!(req->out_flags & GW_OUT_HANDED_OVER) || (req->out_flags & (GW_OUT_FAILED | GW_OUT_ABORT)))
        release(req);
    Py_XDECREF(result);
    /* The environ refers to the input object: drop it first, so an
     * unkept input is found with a single reference. */
    Py_XDECREF(environ);
    gw_responder_release(responder);
    gw_input_release(input);
    Py_CLEAR(call.status);
    Py_CLEAR(call.headers);
    /* An interruption aimed at this request must not reach the next one.
     * Withdrawn only when one was posted: the call walks every thread
     * state, and leaves the interpreter's "pending" flag set. */
    req->active = 0;
    if (req->interrupted) {
        PyThreadState_SetAsyncExc(req->thread_id, NULL);
        req->interrupted = 0;
    }
    gw_leave();
}

/* gw_finish closes a response whose body was handed over, once Go sent
 * it (or gave up), and lets its objects go. */
void gw_finish(gw_req *req)
{
    gw_enter();
    if (req->pending != NULL)
        close_response(NULL, req, (PyObject *)req->pending, 1);
    release(req);
    gw_leave();
}

/* gw_interrupt raises gowsgi.RequestTimeout in the thread running the
 * request, if it still runs the request of that generation. Posting it
 * needs the GIL, so it runs on the process's one interrupting thread (see
 * interrupt.go), never a request's; the exception itself is raised in the
 * request's own thread, at its next Python instruction: a loop in Python
 * stops, a call blocked in C (time.sleep, a socket) does not. */
void gw_interrupt(gw_req *req, uint64_t generation)
{
    gw_enter();
    if (req->active && req->generation == generation) {
        PyThreadState_SetAsyncExc(req->thread_id, request_timeout);
        req->interrupted = 1;
    }
    gw_leave();
}
