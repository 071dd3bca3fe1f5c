/*
 * validate.c: --validate. The checks themselves are Python (validate.py,
 * embedded like the loader): they wrap the application once, when it
 * loads. Without --validate nothing here runs per request; with it, a
 * violation reaching the server is logged as one line naming the rule and
 * the application's file and line, instead of a traceback.
 */
#include "gw_python.h"

#include <stdlib.h>
#include <string.h>

static PyObject *violation_type; /* validate.py's Violation, once loaded */
static PyObject *validator_fn;

/* gw_validate_wrap returns the application wrapped in validate.py's
 * checks (a new reference), or NULL with an exception set. */
PyObject *gw_validate_wrap(PyObject *app, const char *source)
{
    if (validator_fn == NULL) {
        PyObject *globals = gw_exec_source(source, "<gowsgi validate>");
        if (globals == NULL)
            return NULL;
        violation_type = Py_XNewRef(PyDict_GetItemString(globals, "Violation"));
        validator_fn = Py_XNewRef(PyDict_GetItemString(globals, "validator"));
        Py_DECREF(globals);
        if (violation_type == NULL || validator_fn == NULL) {
            PyErr_SetString(PyExc_RuntimeError, "the validator lacks Violation or validator()");
            return NULL;
        }
    }
    return PyObject_CallOneArg(validator_fn, app);
}

/* gw_violation_message takes the pending exception if it is a Violation and
 * returns "PEP 3333 violation at FILE:LINE: RULE" (malloc'ed); else NULL,
 * leaving the exception pending. */
char *gw_violation_message(void)
{
    if (violation_type == NULL || !PyErr_ExceptionMatches(violation_type))
        return NULL;
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    PyObject *rule = value ? PyObject_GetAttrString(value, "rule") : NULL;
    PyObject *where = value ? PyObject_GetAttrString(value, "where") : NULL;
    PyObject *text = rule && where ? PyUnicode_FromFormat("WSGI violation at %S: %S", where, rule)
                                   : NULL;
    const char *s = text ? PyUnicode_AsUTF8(text) : NULL;
    char *out = strdup(s ? s : "WSGI violation (its description could not be formatted)");
    PyErr_Clear();
    Py_XDECREF(text);
    Py_XDECREF(rule);
    Py_XDECREF(where);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
    return out;
}
