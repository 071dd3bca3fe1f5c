/*
 * errors.c: wsgi.errors, and tracebacks for the error log.
 */
#include "gw_python.h"

#include <stdlib.h>
#include <string.h>

typedef struct {
    PyObject_HEAD
    uintptr_t app;    /* Go App handle: where the text goes */
} gw_errors;

PyObject *gw_errors_new(uintptr_t app)
{
    gw_errors *self = PyObject_New(gw_errors, &gw_errors_type);
    if (self != NULL)
        self->app = app;
    return (PyObject *)self;
}

static void errors_dealloc(gw_errors *self)
{
    PyObject_Free(self);
}

static PyObject *errors_write(gw_errors *self, PyObject *text)
{
    if (!PyUnicode_Check(text)) {
        PyErr_Format(PyExc_TypeError, "wsgi.errors.write() takes str, not %.100s",
                     Py_TYPE(text)->tp_name);
        return NULL;
    }
    PyObject *b = PyUnicode_AsEncodedString(text, "utf-8", "backslashreplace");
    if (b == NULL)
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    goGWErrors(self->app, PyBytes_AS_STRING(b), PyBytes_GET_SIZE(b));
    Py_END_ALLOW_THREADS
    Py_DECREF(b);
    return PyLong_FromSsize_t(PyUnicode_GET_LENGTH(text));
}

static PyObject *errors_writelines(gw_errors *self, PyObject *lines)
{
    PyObject *it = PyObject_GetIter(lines);
    if (it == NULL)
        return NULL;
    PyObject *line;
    while ((line = PyIter_Next(it)) != NULL) {
        PyObject *r = errors_write(self, line);
        Py_DECREF(line);
        if (r == NULL) {
            Py_DECREF(it);
            return NULL;
        }
        Py_DECREF(r);
    }
    Py_DECREF(it);
    if (PyErr_Occurred())
        return NULL;
    Py_RETURN_NONE;
}

static PyObject *errors_flush(gw_errors *self, PyObject *unused)
{
    /* Every write already reached the error log. */
    Py_RETURN_NONE;
}

static PyMethodDef errors_methods[] = {
    {"write", (PyCFunction)errors_write, METH_O, "write(text: str) -> int"},
    {"writelines", (PyCFunction)errors_writelines, METH_O, "writelines(lines)"},
    {"flush", (PyCFunction)errors_flush, METH_NOARGS, "flush()"},
    {NULL, NULL, 0, NULL},
};

PyTypeObject gw_errors_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "gowsgi.Errors",
    .tp_doc = "wsgi.errors: a text stream into the server's error log.",
    .tp_basicsize = sizeof(gw_errors),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_dealloc = (destructor)errors_dealloc,
    .tp_methods = errors_methods,
};

/* gw_format_exception takes the pending exception and returns its formatted
 * traceback as a malloc'ed UTF-8 string (never NULL unless out of memory). */
char *gw_format_exception(void)
{
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    if (type == NULL)
        return strdup("(no exception)");
    PyErr_NormalizeException(&type, &value, &tb);
    if (tb != NULL && value != NULL)
        PyException_SetTraceback(value, tb);

    char *out = NULL;
    PyObject *mod = PyImport_ImportModule("traceback");
    PyObject *lines = mod ? PyObject_CallMethod(mod, "format_exception", "OOO", type,
                                                value ? value : Py_None, tb ? tb : Py_None)
                          : NULL;
    PyObject *empty = lines ? PyUnicode_FromString("") : NULL;
    PyObject *text = empty ? PyUnicode_Join(empty, lines) : NULL;
    if (text != NULL) {
        PyObject *b = PyUnicode_AsEncodedString(text, "utf-8", "backslashreplace");
        if (b != NULL) {
            out = strdup(PyBytes_AS_STRING(b));
            Py_DECREF(b);
        }
    }
    if (out == NULL) {
        /* Formatting itself failed: say at least what was raised. */
        PyErr_Clear();
        PyObject *s = value ? PyObject_Repr(value) : NULL;
        const char *repr = s ? PyUnicode_AsUTF8(s) : NULL;
        const char *name = ((PyTypeObject *)type)->tp_name;
        size_t n = strlen(name) + (repr ? strlen(repr) : 0) + 64;
        out = malloc(n);
        if (out != NULL)
            snprintf(out, n, "%s: %s (the traceback could not be formatted)\n", name,
                     repr ? repr : "?");
        Py_XDECREF(s);
        PyErr_Clear();
    }
    Py_XDECREF(text);
    Py_XDECREF(empty);
    Py_XDECREF(lines);
    Py_XDECREF(mod);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
    return out;
}

/* gw_log_exception logs the pending exception with its traceback: the first
 * line of the message says what the server was doing. */
void gw_log_exception(gw_req *req, int level, const char *what)
{
    /* A violation found by --validate: one line says it all. */
    char *violation = gw_violation_message();
    if (violation != NULL) {
        Py_BEGIN_ALLOW_THREADS
        goGWLog(req->handle, GW_LOG_ERROR, violation, strlen(violation));
        Py_END_ALLOW_THREADS
        free(violation);
        return;
    }
    char *tb = gw_format_exception();
    size_t n = strlen(what) + (tb ? strlen(tb) : 0) + 2;
    char *msg = malloc(n);
    if (msg != NULL) {
        snprintf(msg, n, "%s\n%s", what, tb ? tb : "");
        Py_BEGIN_ALLOW_THREADS
        goGWLog(req->handle, level, msg, strlen(msg));
        Py_END_ALLOW_THREADS
    }
    free(msg);
    free(tb);
}
