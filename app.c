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

PyObject *gw_str_close;
static PyObject *loader_fn;

int gw_init_types(void)
{
    if (PyType_Ready(&gw_input_type) < 0 || PyType_Ready(&gw_responder_type) < 0 ||
        PyType_Ready(&gw_filewrapper_type) < 0 || PyType_Ready(&gw_errors_type) < 0)
        return -1;
    gw_str_close = PyUnicode_InternFromString("close");
    return gw_str_close ? 0 : -1;
}

static PyObject *get_loader(const char *source)
{
    if (loader_fn != NULL)
        return loader_fn;
    PyObject *code = Py_CompileString(source, "<gowsgi loader>", Py_file_input);
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
    if (r != NULL) {
        Py_DECREF(r);
        loader_fn = Py_XNewRef(PyDict_GetItemString(globals, "load"));
    }
    Py_DECREF(globals);
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
    PyGILState_STATE g = PyGILState_Ensure();
    gw_app *app = calloc(1, sizeof(gw_app));
    PyObject *load = get_loader(loader_source);
    PyObject *callable = load ? PyObject_CallFunction(load, "s", spec) : NULL;
    PyObject *t = callable ? PyDict_New() : NULL;
    if (app == NULL || t == NULL)
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
    PyGILState_Release(g);
    return app;

fail:
    *err = PyErr_Occurred() ? gw_format_exception() : strdup("out of memory");
    Py_XDECREF(callable);
    Py_XDECREF(t);
    free(app);
    PyGILState_Release(g);
    return NULL;
}

void gw_app_free(gw_app *app)
{
    PyGILState_STATE g = PyGILState_Ensure();
    Py_CLEAR(app->app);
    Py_CLEAR(app->template);
    PyGILState_Release(g);
    free(app);
}

/* fail records an application error (the exception is pending): a 500 if
 * nothing was sent yet, else an aborted response. */
static void fail(gw_call *c, const char *what)
{
    gw_req *r = c->req;
    if (!c->head_sent) {
        r->out_flags |= GW_OUT_FAILED;
        r->body_buf_len = 0;
    } else {
        r->out_flags |= GW_OUT_ABORT;
    }
    gw_log_exception(r, GW_LOG_ERROR, what);
}

static int buffer_body(gw_req *r, const char *p, Py_ssize_t n)
{
    if (gw_reserve((void **)&r->body, &r->body_buf_cap, r->body_buf_len, (uint64_t)n, 1) < 0)
        return -1;
    memcpy(r->body + r->body_buf_len, p, n);
    r->body_buf_len += (uint32_t)n;
    return 0;
}

/* emit takes one chunk of the response iterable. Chunks of a response that
 * is already complete (a list) may be gathered for Go to send after the call;
 * chunks of a generator go out at once, as PEP 3333 requires. Returns 0, -1
 * with an exception set, or -2 when the client is gone. */
static int emit(gw_call *c, PyObject *chunk, int may_buffer)
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
    if (may_buffer && c->req->body_buf_len + n <= GW_BODY_MAX)
        return buffer_body(c->req, PyBytes_AS_STRING(chunk), n);
    return gw_flush(c, PyBytes_AS_STRING(chunk), n);
}

static void send_sequence(gw_call *c, PyObject *seq)
{
    /* The length is known before anything is sent: Go can announce it. */
    int64_t total = 0;
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq); i++) {
        PyObject *item = PySequence_Fast_GET_ITEM(seq, i);
        if (PyBytes_Check(item))
            total += PyBytes_GET_SIZE(item);
    }
    c->req->known_length = total;
    for (Py_ssize_t i = 0; i < PySequence_Fast_GET_SIZE(seq); i++) {
        PyObject *item = Py_NewRef(PySequence_Fast_GET_ITEM(seq, i));
        int rc = emit(c, item, 1);
        Py_DECREF(item);
        if (rc == -1) {
            fail(c, "Error in the response body");
            return;
        }
        if (rc == -2)
            return;
    }
}

static void send_iterator(gw_call *c, PyObject *result)
{
    PyObject *it = PyObject_GetIter(result);
    if (it == NULL) {
        fail(c, "The application's return value is not iterable");
        return;
    }
    /* Iterating a list runs no application code, so nothing waits on it. */
    int may_buffer = Py_IS_TYPE(it, &PyListIter_Type) || Py_IS_TYPE(it, &PyTupleIter_Type);
    PyObject *item;
    int rc = 0;
    while ((item = PyIter_Next(it)) != NULL) {
        rc = emit(c, item, may_buffer);
        Py_DECREF(item);
        if (rc != 0)
            break;
    }
    Py_DECREF(it);
    if (rc == -1 || (rc == 0 && PyErr_Occurred()))
        fail(c, "Error while iterating the response");
}

static void close_result(gw_call *c, PyObject *result)
{
    if (PyList_CheckExact(result) || PyTuple_CheckExact(result))
        return;
    PyObject *close = NULL;
    PyObject *r = NULL;
    if (gw_lookup_attr(result, gw_str_close, &close) >= 0) {
        if (close == NULL)
            return;
        r = PyObject_CallNoArgs(close);
        Py_DECREF(close);
    }
    if (r != NULL) {
        Py_DECREF(r);
        return;
    }
    if (!c->head_sent && !(c->req->out_flags & GW_OUT_FAILED)) {
        fail(c, "Error closing the response");
    } else {
        /* The response went out already; the error is only logged. */
        gw_log_exception(c->req, GW_LOG_ERROR, "Error closing the response");
    }
}

static void reset(gw_req *r)
{
    r->out_flags = 0;
    r->status = 0;
    r->head_len = 0;
    r->nhdr = 0;
    r->content_length = -1;
    r->known_length = -1;
    r->body_buf_len = 0;
    r->errmsg[0] = 0;
}

/* gw_handle runs one request on the calling Python thread. */
void gw_handle(void *tstate, gw_app *app, gw_req *req)
{
    PyEval_RestoreThread((PyThreadState *)tstate);
    reset(req);
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
    if (Py_IS_TYPE(result, &gw_filewrapper_type)) {
        if (call.status == NULL) {
            PyErr_SetString(PyExc_RuntimeError,
                            "PEP 3333: the application returned a file_wrapper without "
                            "calling start_response()");
            fail(&call, "Error in the response");
            goto close;
        }
        int rc = gw_send_file(&call, result);
        if (rc < 0)
            fail(&call, "Error sending the file");
        if (rc != 0)
            goto close;
    }
    if (PyList_CheckExact(result) || PyTuple_CheckExact(result))
        send_sequence(&call, result);
    else
        send_iterator(&call, result);

    /* The head goes out with the last bytes, or alone for an empty body. */
    if (!(req->out_flags & (GW_OUT_FAILED | GW_OUT_ABORT)) && !call.client_gone &&
        !call.committed && gw_commit_head(&call) < 0)
        fail(&call, "Error in the response");

close:
    close_result(&call, result);

done:
    gw_responder_detach(responder);
    gw_input_detach(input);
    Py_XDECREF(result);
    Py_XDECREF(responder);
    Py_XDECREF(environ);
    Py_XDECREF(input);
    Py_CLEAR(call.status);
    Py_CLEAR(call.headers);
    Py_CLEAR(call.write);
    PyEval_SaveThread();
}
