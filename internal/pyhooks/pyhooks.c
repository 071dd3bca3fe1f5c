/*
 * pyhooks.c: the module _gowsgi_hooks (hooks.py) in the embedded
 * interpreter, one entry point for Go, and the log function hooks write
 * through.
 */
#define PY_SSIZE_T_CLEAN
#if defined(__has_include)
#if !__has_include(<Python.h>)
#error "Python.h not found: install the Python development files (Debian/Ubuntu: apt-get install python3-dev pkg-config)"
#endif
#endif
#include <Python.h>

#include <stdlib.h>
#include <string.h>

#include "pyhooks.h"
#include "_cgo_export.h"

static PyObject *dispatch_fn;

/* _emit(level, text): a line for the server's error log. Go writes it with
 * the GIL released. */
static PyObject *hooks_emit(PyObject *self, PyObject *args)
{
    int level;
    const char *text;
    Py_ssize_t n;
    if (!PyArg_ParseTuple(args, "is#:_emit", &level, &text, &n))
        return NULL;
    Py_BEGIN_ALLOW_THREADS
    goPyhooksLog(level, (char *)text, (size_t)n);
    Py_END_ALLOW_THREADS
    Py_RETURN_NONE;
}

static PyMethodDef hooks_methods[] = {
    {"_emit", hooks_emit, METH_VARARGS, "_emit(level, text): a line of the server's error log."},
    {NULL, NULL, 0, NULL},
};

/* error_text describes the pending exception, malloc'ed. */
static char *error_text(void)
{
    PyObject *type, *value, *tb;
    PyErr_Fetch(&type, &value, &tb);
    PyErr_NormalizeException(&type, &value, &tb);
    PyObject *s = value ? PyObject_Str(value) : NULL;
    const char *msg = s ? PyUnicode_AsUTF8(s) : NULL;
    char *out = strdup(msg ? msg : "unknown Python error");
    PyErr_Clear();
    Py_XDECREF(s);
    Py_XDECREF(type);
    Py_XDECREF(value);
    Py_XDECREF(tb);
    return out;
}

int gw_hooks_start(const char *source, char **err)
{
    PyGILState_STATE g = PyGILState_Ensure();
    int rc = -1;
    PyObject *code = NULL, *res = NULL;
    PyObject *mod = PyModule_New("_gowsgi_hooks");
    if (mod == NULL || PyModule_AddFunctions(mod, hooks_methods) < 0)
        goto out;
    PyObject *globals = PyModule_GetDict(mod);
    if (PyDict_SetItemString(globals, "__builtins__", PyEval_GetBuiltins()) < 0)
        goto out;
    code = Py_CompileString(source, "<gowsgi hooks>", Py_file_input);
    if (code == NULL)
        goto out;
    res = PyEval_EvalCode(code, globals, globals);
    if (res == NULL)
        goto out;
    /* loader.py looks for it there: only a process with hooks has it. */
    if (PyDict_SetItemString(PyImport_GetModuleDict(), "_gowsgi_hooks", mod) < 0)
        goto out;
    dispatch_fn = PyObject_GetAttrString(mod, "dispatch");
    if (dispatch_fn != NULL)
        rc = 0;
out:
    if (rc < 0)
        *err = error_text();
    Py_XDECREF(res);
    Py_XDECREF(code);
    Py_XDECREF(mod);
    PyGILState_Release(g);
    return rc;
}

char *gw_hooks_call(const char *name, const char *arg, size_t n, int *failed)
{
    PyGILState_STATE g = PyGILState_Ensure();
    char *out = NULL;
    *failed = 0;
    PyObject *res = PyObject_CallFunction(dispatch_fn, "ss#", name, arg, (Py_ssize_t)n);
    const char *s = res ? PyUnicode_AsUTF8(res) : NULL;
    if (s != NULL) {
        out = strdup(s);
    } else {
        *failed = 1;
        out = error_text();
    }
    Py_XDECREF(res);
    PyGILState_Release(g);
    return out;
}
