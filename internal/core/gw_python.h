/*
 * gw_python.h: declarations shared by the C files of the shim. Not seen by Go.
 */
#ifndef GW_PYTHON_H
#define GW_PYTHON_H

#define PY_SSIZE_T_CLEAN
#if defined(__has_include)
#if !__has_include(<Python.h>)
#error "Python.h not found: install the Python development files (Debian/Ubuntu: apt-get install python3-dev pkg-config)"
#endif
#endif
#include <Python.h>

#include "gowsgi.h"

struct gw_app {
    PyObject *app;        /* the WSGI callable */
    PyObject *template;   /* constant environ entries, copied per request */
    uintptr_t handle;     /* Go App handle, for wsgi.errors */
    PyObject *debug_page; /* --debug: renders an exception as HTML; else NULL */
};

/* The state of one call of the application. Lives on gw_handle's stack; the
 * Python objects handed to the application point at it only while the call
 * lasts. */
typedef struct gw_call {
    gw_app *app;
    gw_req *req;
    PyObject *status;     /* str given to start_response, NULL before */
    PyObject *headers;    /* a copy of the header list given to start_response */
    int committed;        /* status and headers copied into req->head */
    int head_sent;        /* Go has sent the head to the client */
    int client_gone;      /* a write to the client failed */
    int handed_over;      /* the body went to Go; gw_finish closes the response */
} gw_call;

/* environ.c */
#define GW_ENVIRON_SIZE 48 /* entries an environ holds without growing */
int gw_environ_init(void);
PyObject *gw_environ_new(gw_app *app, gw_req *req, PyObject *input);
extern PyObject *gw_keys[GW_NKEYS];

/* input.c: wsgi.input */
extern PyTypeObject gw_input_type;
PyObject *gw_input_new(gw_req *req);
void gw_input_release(PyObject *input);

/* start_response.c: start_response, write() and the response head */
extern PyTypeObject gw_responder_type;
PyObject *gw_responder_new(gw_call *call);
void gw_responder_release(PyObject *responder);
int gw_commit_head(gw_call *call);
int gw_reserve(void **buf, uint32_t *cap, uint32_t len, uint64_t need, size_t size);
int gw_flush(gw_call *call, const char *data, Py_ssize_t len);

/* filewrapper.c: wsgi.file_wrapper */
extern PyTypeObject gw_filewrapper_type;
int gw_hand_over_file(gw_call *call, PyObject *wrapper);

/* errors.c: wsgi.errors and tracebacks */
extern PyTypeObject gw_errors_type;
PyObject *gw_errors_new(uintptr_t app_handle);
void gw_log_exception(gw_req *req, int level, const char *what);
char *gw_format_exception(void);

/* validate.c: --validate */
PyObject *gw_validate_wrap(PyObject *app, const char *source);
char *gw_violation_message(void);

/* Shared helpers. */
PyObject *gw_exec_source(const char *source, const char *filename);
int gw_init_types(void);
void gw_enter(void);
void gw_leave(void);
extern PyObject *gw_str_close;

/* gw_lookup_attr: *result is the attribute or NULL when it is missing, with
 * no AttributeError raised (cheap for the common "no close()" case). */
#if PY_VERSION_HEX >= 0x030d0000
#define gw_lookup_attr PyObject_GetOptionalAttr
#else
#define gw_lookup_attr _PyObject_LookupAttr
#endif

#endif
