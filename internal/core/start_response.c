/*
 * start_response.c: the start_response callable, the write() callable it
 * returns, and the response head they produce.
 *
 * Status and headers are checked when start_response is called, so the
 * application sees the error where it made it. Each error names the rule.
 */
#include "gw_python.h"

#include <stddef.h>
#include <string.h>
#include <strings.h>

typedef struct {
    PyObject_HEAD
    vectorcallfunc vectorcall;
    gw_call *call;    /* NULL once the request is finished */
    PyObject *write;  /* the write callable, bound to this object */
} gw_responder;

static PyObject *responder_call(PyObject *self, PyObject *const *args,
                                size_t nargsf, PyObject *kwnames);

/* A responder nobody kept after its request serves the thread's next one. */
static __thread gw_responder *spare;

PyObject *gw_responder_new(gw_call *call)
{
    gw_responder *self = spare;
    if (self != NULL) {
        spare = NULL;
    } else {
        self = PyObject_GC_New(gw_responder, &gw_responder_type);
        if (self == NULL)
            return NULL;
        self->vectorcall = responder_call;
        self->write = NULL;
        PyObject_GC_Track(self);
    }
    self->call = call;
    return (PyObject *)self;
}

/* gw_responder_release ends the object's request and drops the caller's
 * reference; if the application kept neither it nor its write callable
 * (which refers to it), it is kept for reuse. */
void gw_responder_release(PyObject *responder)
{
    gw_responder *self = (gw_responder *)responder;
    if (self == NULL)
        return;
    self->call = NULL;
    Py_ssize_t refs = self->write ? 2 : 1;
    if (Py_REFCNT(responder) == refs && (self->write == NULL || Py_REFCNT(self->write) == 1) && spare == NULL) {
        spare = self;
        return;
    }
    Py_DECREF(responder);
}

static int responder_traverse(gw_responder *self, visitproc visit, void *arg)
{
    Py_VISIT(self->write);
    return 0;
}

static int responder_clear(gw_responder *self)
{
    Py_CLEAR(self->write);
    return 0;
}

static void responder_dealloc(gw_responder *self)
{
    PyObject_GC_UnTrack(self);
    responder_clear(self);
    PyObject_GC_Del(self);
}

/* Token characters of RFC 9110, for header names. */
static int is_tchar(unsigned char c)
{
    if (c >= 'a' && c <= 'z')
        return 1;
    if (c >= 'A' && c <= 'Z')
        return 1;
    if (c >= '0' && c <= '9')
        return 1;
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

/* Field-value bytes: visible characters, space, tab and obs-text. */
static int is_value_char(unsigned char c)
{
    return c == '\t' || (c >= 0x20 && c != 0x7f);
}

static const char *const hop_by_hop[] = {
    "connection", "keep-alive", "proxy-authenticate", "proxy-authorization",
    "te", "trailers", "transfer-encoding", "upgrade", NULL,
};

static int name_is(const unsigned char *s, Py_ssize_t n, const char *lower)
{
    return (size_t)n == strlen(lower) && strncasecmp((const char *)s, lower, n) == 0;
}

/* check_status validates "NNN reason" and returns the code, or -1. */
static int check_status(PyObject *status)
{
    if (!PyUnicode_Check(status)) {
        PyErr_Format(PyExc_TypeError,
                     "PEP 3333: status must be a str such as '200 OK', not %.100s",
                     Py_TYPE(status)->tp_name);
        return -1;
    }
    if (PyUnicode_KIND(status) != PyUnicode_1BYTE_KIND) {
        PyErr_Format(PyExc_ValueError,
                     "PEP 3333: status must hold only latin-1 characters, got %R", status);
        return -1;
    }
    const unsigned char *s = PyUnicode_1BYTE_DATA(status);
    Py_ssize_t n = PyUnicode_GET_LENGTH(status);
    if (n < 4 || s[0] < '1' || s[0] > '5' || s[1] < '0' || s[1] > '9' ||
        s[2] < '0' || s[2] > '9' || s[3] != ' ') {
        PyErr_Format(PyExc_ValueError,
                     "PEP 3333: status must be a three-digit code from 100 to 599, "
                     "a space and a reason phrase, such as '200 OK'; got %R", status);
        return -1;
    }
    for (Py_ssize_t i = 4; i < n; i++) {
        if (!is_value_char(s[i])) {
            PyErr_Format(PyExc_ValueError,
                         "PEP 3333: status must not contain CR, LF or other control "
                         "characters; got %R", status);
            return -1;
        }
    }
    int code = (s[0] - '0') * 100 + (s[1] - '0') * 10 + (s[2] - '0');
    if (code < 200) {
        /* An interim response is the server's to send ("100 Continue" goes
           out when the application first reads wsgi.input); as the final
           answer it would leave the client waiting for one. */
        PyErr_Format(PyExc_ValueError,
                     "the status must be a final one (200 to 599): a 1xx is an interim "
                     "response, which the server sends itself; got %R", status);
        return -1;
    }
    return code;
}

/* parse_length reads a Content-Length value: digits only. */
static int64_t parse_length(const unsigned char *s, Py_ssize_t n)
{
    if (n == 0 || n > 18)
        return -1;
    int64_t v = 0;
    for (Py_ssize_t i = 0; i < n; i++) {
        if (s[i] < '0' || s[i] > '9')
            return -1;
        v = v * 10 + (s[i] - '0');
    }
    return v;
}

/* check_headers validates the header list and returns a copy of it, so a
 * later change to the application's list cannot bypass the checks. Sets
 * *length to the Content-Length, or -1. */
static PyObject *check_headers(PyObject *headers, int64_t *length)
{
    *length = -1;
    if (!PyList_Check(headers)) {
        PyErr_Format(PyExc_TypeError,
                     "PEP 3333: response_headers must be a list of (name, value) tuples, "
                     "not %.100s", Py_TYPE(headers)->tp_name);
        return NULL;
    }
    PyObject *copy = PyList_GetSlice(headers, 0, PyList_GET_SIZE(headers));
    if (copy == NULL)
        return NULL;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(copy); i++) {
        PyObject *item = PyList_GET_ITEM(copy, i);
        if (!PyTuple_Check(item) || PyTuple_GET_SIZE(item) != 2) {
            PyErr_Format(PyExc_TypeError,
                         "PEP 3333: each response header must be a (name, value) tuple, got %R",
                         item);
            goto fail;
        }
        PyObject *name = PyTuple_GET_ITEM(item, 0);
        PyObject *value = PyTuple_GET_ITEM(item, 1);
        if (!PyUnicode_Check(name) || !PyUnicode_Check(value)) {
            PyErr_Format(PyExc_TypeError,
                         "PEP 3333: header names and values must be str, got %R", item);
            goto fail;
        }
        const unsigned char *ns = PyUnicode_1BYTE_DATA(name);
        Py_ssize_t nn = PyUnicode_GET_LENGTH(name);
        int ok = PyUnicode_KIND(name) == PyUnicode_1BYTE_KIND && nn > 0;
        for (Py_ssize_t j = 0; ok && j < nn; j++)
            ok = is_tchar(ns[j]);
        if (!ok) {
            PyErr_Format(PyExc_ValueError,
                         "RFC 9110: header name %R is not a token (letters, digits and "
                         "!#$%%&'*+-.^_`|~ only)", name);
            goto fail;
        }
        if (PyUnicode_KIND(value) != PyUnicode_1BYTE_KIND) {
            PyErr_Format(PyExc_ValueError,
                         "PEP 3333: the value of header %R must hold only latin-1 characters",
                         name);
            goto fail;
        }
        const unsigned char *vs = PyUnicode_1BYTE_DATA(value);
        Py_ssize_t vn = PyUnicode_GET_LENGTH(value);
        for (Py_ssize_t j = 0; j < vn; j++) {
            if (!is_value_char(vs[j])) {
                PyErr_Format(PyExc_ValueError,
                             "PEP 3333: the value of header %R must not contain CR, LF or "
                             "other control characters; got %R", name, value);
                goto fail;
            }
        }
        for (int h = 0; hop_by_hop[h] != NULL; h++) {
            if (name_is(ns, nn, hop_by_hop[h])) {
                PyErr_Format(PyExc_ValueError,
                             "PEP 3333: hop-by-hop header %R is not allowed from a WSGI "
                             "application; the server manages the connection", name);
                goto fail;
            }
        }
        if (name_is(ns, nn, "content-length")) {
            int64_t v = parse_length(vs, vn);
            if (v < 0 || (*length >= 0 && *length != v)) {
                PyErr_Format(PyExc_ValueError,
                             v < 0 ? "RFC 9110: Content-Length must be a non-negative integer, got %R"
                                   : "RFC 9110: conflicting Content-Length headers (%R)",
                             value);
                goto fail;
            }
            *length = v;
        }
    }
    return copy;

fail:
    Py_DECREF(copy);
    return NULL;
}

static PyMethodDef write_def;

static PyObject *responder_call(PyObject *self, PyObject *const *args,
                                size_t nargsf, PyObject *kwnames)
{
    gw_call *c = ((gw_responder *)self)->call;
    Py_ssize_t nargs = PyVectorcall_NARGS(nargsf);
    PyObject *status = nargs > 0 ? args[0] : NULL;
    PyObject *headers = nargs > 1 ? args[1] : NULL;
    PyObject *exc_info = nargs > 2 ? args[2] : NULL;

    if (nargs > 3) {
        PyErr_Format(PyExc_TypeError,
                     "start_response() takes from 2 to 3 positional arguments but %zd were given",
                     nargs);
        return NULL;
    }
    Py_ssize_t nkw = kwnames ? PyTuple_GET_SIZE(kwnames) : 0;
    for (Py_ssize_t i = 0; i < nkw; i++) {
        PyObject *kw = PyTuple_GET_ITEM(kwnames, i);
        PyObject *v = args[nargs + i];
        PyObject **slot = NULL;
        if (PyUnicode_CompareWithASCIIString(kw, "status") == 0)
            slot = &status;
        else if (PyUnicode_CompareWithASCIIString(kw, "response_headers") == 0 ||
                 PyUnicode_CompareWithASCIIString(kw, "headers") == 0)
            slot = &headers;
        else if (PyUnicode_CompareWithASCIIString(kw, "exc_info") == 0)
            slot = &exc_info;
        if (slot == NULL || *slot != NULL) {
            PyErr_Format(PyExc_TypeError,
                         "start_response() got an unexpected or repeated keyword argument %R", kw);
            return NULL;
        }
        *slot = v;
    }
    if (status == NULL || headers == NULL) {
        PyErr_SetString(PyExc_TypeError,
                        "start_response() missing required arguments: 'status' and 'response_headers'");
        return NULL;
    }
    if (c == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "start_response() called after its request finished");
        return NULL;
    }

    if (exc_info != NULL && exc_info != Py_None) {
        if (!PyTuple_Check(exc_info) || PyTuple_GET_SIZE(exc_info) != 3) {
            PyErr_SetString(PyExc_TypeError,
                            "PEP 3333: exc_info must be a (type, value, traceback) tuple as "
                            "returned by sys.exc_info()");
            return NULL;
        }
        if (c->head_sent) {
            /* PEP 3333: too late to change the response; re-raise the
             * application's own error so it aborts the response. */
            PyObject *type = PyTuple_GET_ITEM(exc_info, 0);
            PyObject *value = PyTuple_GET_ITEM(exc_info, 1);
            PyObject *tb = PyTuple_GET_ITEM(exc_info, 2);
            PyErr_Restore(Py_NewRef(type), Py_NewRef(value), tb == Py_None ? NULL : Py_NewRef(tb));
            return NULL;
        }
    } else if (c->status != NULL) {
        PyErr_SetString(PyExc_RuntimeError,
                        "PEP 3333: start_response() called a second time without exc_info");
        return NULL;
    }

    int code = check_status(status);
    if (code < 0)
        return NULL;
    int64_t length;
    PyObject *copy = check_headers(headers, &length);
    if (copy == NULL)
        return NULL;
    Py_XSETREF(c->status, Py_NewRef(status));
    Py_XSETREF(c->headers, copy);
    c->req->status = code;
    c->req->content_length = length;
    gw_responder *r = (gw_responder *)self;
    if (r->write == NULL) {
        r->write = PyCFunction_New(&write_def, self);
        if (r->write == NULL)
            return NULL;
    }
    return Py_NewRef(r->write);
}

static PyObject *responder_write(gw_responder *self, PyObject *data)
{
    gw_call *c = self->call;
    if (c == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "write() called after its request finished");
        return NULL;
    }
    if (c->status == NULL) {
        PyErr_SetString(PyExc_RuntimeError, "PEP 3333: write() called before start_response()");
        return NULL;
    }
    if (!PyBytes_Check(data)) {
        PyErr_Format(PyExc_TypeError, "PEP 3333: write() takes bytes, not %.100s",
                     Py_TYPE(data)->tp_name);
        return NULL;
    }
    if (PyBytes_GET_SIZE(data) == 0)
        Py_RETURN_NONE;
    Py_INCREF(data);
    int rc = gw_flush(c, PyBytes_AS_STRING(data), PyBytes_GET_SIZE(data));
    Py_DECREF(data);
    if (rc == -2) {
        PyErr_SetString(PyExc_ConnectionAbortedError, "write(): the client closed the connection");
        return NULL;
    }
    if (rc < 0)
        return NULL;
    Py_RETURN_NONE;
}

static PyMethodDef write_def = {
    "write", (PyCFunction)responder_write, METH_O,
    "write(data: bytes): send data to the client now (PEP 3333's legacy write callable).",
};

/* gw_reserve makes room for need items of size bytes in a C buffer that
 * holds len, doubling its capacity; C memory because Go reads the response
 * buffers after the call. Returns -1 with MemoryError set. */
int gw_reserve(void **buf, uint32_t *cap, uint32_t len, uint64_t need, size_t size)
{
    if ((uint64_t)len + need <= *cap)
        return 0;
    if ((uint64_t)len + need > UINT32_MAX / size) {
        PyErr_SetString(PyExc_MemoryError, "response part too large");
        return -1;
    }
    uint64_t n = *cap ? *cap : 1024;
    while (n < len + need)
        n *= 2;
    if (n > UINT32_MAX / size)
        n = UINT32_MAX / size;
    void *p = realloc(*buf, n * size);
    if (p == NULL) {
        PyErr_NoMemory();
        return -1;
    }
    *buf = p;
    *cap = (uint32_t)n;
    return 0;
}

static int head_append(gw_req *r, const void *data, Py_ssize_t n)
{
    if (gw_reserve((void **)&r->head, &r->head_cap, r->head_len, (uint64_t)n, 1) < 0 ||
        gw_reserve((void **)&r->hdr, &r->hdr_cap, r->nhdr, 2, sizeof(uint32_t)) < 0)
        return -1;
    memcpy(r->head + r->head_len, data, n);
    r->hdr[r->nhdr++] = r->head_len;
    r->hdr[r->nhdr++] = (uint32_t)n;
    r->head_len += (uint32_t)n;
    return 0;
}

static int append_str(gw_req *r, PyObject *s)
{
    return head_append(r, PyUnicode_1BYTE_DATA(s), PyUnicode_GET_LENGTH(s));
}

/* gw_commit_head copies status and headers (checked latin-1) into the
 * request's head buffer for Go to send. */
int gw_commit_head(gw_call *c)
{
    if (c->status == NULL) {
        PyErr_SetString(PyExc_RuntimeError,
                        "PEP 3333: the application returned a response without calling "
                        "start_response()");
        return -1;
    }
    gw_req *r = c->req;
    r->head_len = 0;
    r->nhdr = 0;
    if (append_str(r, c->status) < 0)
        return -1;
    for (Py_ssize_t i = 0; i < PyList_GET_SIZE(c->headers); i++) {
        PyObject *item = PyList_GET_ITEM(c->headers, i);
        PyObject *name = PyTuple_GET_ITEM(item, 0);
        if (append_str(r, name) < 0 || append_str(r, PyTuple_GET_ITEM(item, 1)) < 0)
            return -1;
        if (name_is(PyUnicode_1BYTE_DATA(name), PyUnicode_GET_LENGTH(name), "date"))
            r->out_flags |= GW_OUT_HAS_DATE;
    }
    r->out_flags |= GW_OUT_HEAD_READY;
    c->committed = 1;
    return 0;
}

/* gw_flush hands Go the buffered body plus data, and Go sends them (after
 * the head, the first time) with the GIL released. Returns 0, -1 with an
 * exception set, or -2 when the client is gone. */
int gw_flush(gw_call *c, const char *data, Py_ssize_t len)
{
    if (c->client_gone)
        return -2;
    if (!c->committed && gw_commit_head(c) < 0)
        return -1;
    gw_req *r = c->req;
    int rc;
    Py_BEGIN_ALLOW_THREADS
    rc = goGWWrite(r->handle, r->body, r->body_buf_len, (char *)data, (size_t)len);
    Py_END_ALLOW_THREADS
    r->body_buf_len = 0;
    c->head_sent = 1;
    if (rc < 0) {
        c->client_gone = 1;
        return -2;
    }
    return 0;
}

PyTypeObject gw_responder_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "gowsgi.StartResponse",
    .tp_doc = "start_response(status, response_headers, exc_info=None) -> write",
    .tp_basicsize = sizeof(gw_responder),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_VECTORCALL | Py_TPFLAGS_HAVE_GC,
    .tp_dealloc = (destructor)responder_dealloc,
    .tp_traverse = (traverseproc)responder_traverse,
    .tp_clear = (inquiry)responder_clear,
    .tp_call = PyVectorcall_Call,
    .tp_vectorcall_offset = offsetof(gw_responder, vectorcall),
};
