/*
 * input.c: wsgi.input, a file-like object over the request body.
 *
 * Bytes come first from the part of the body Go preloaded into the arena,
 * then from goGWRead, which Go serves from the connection (with the GIL
 * released). Go never returns bytes past the end of the body, so neither can
 * this object.
 */
#include "gw_python.h"

#include <string.h>

#define INPUT_BUFSIZE (64 * 1024)
/* READ_AHEAD is how far read(n) allocates beyond the bytes it has before
 * they arrive (the result then doubles as they come). */
#define READ_AHEAD (1024 * 1024)

typedef struct {
    PyObject_HEAD
    gw_req *req;          /* NULL once the request is finished */
    const char *cur;      /* unread window: preloaded bytes or buf */
    const char *end;
    char *buf;            /* our own buffer, allocated on first need */
    int64_t remaining;    /* bytes of the body not yet taken by the application, -1 if unknown */
    int more;             /* goGWRead may still return bytes */
} gw_input;

/* An input object nobody kept after its request serves the thread's next
 * request, with its buffer. */
static __thread gw_input *spare;

PyObject *gw_input_new(gw_req *req)
{
    gw_input *self = spare;
    if (self != NULL) {
        spare = NULL;
    } else {
        self = PyObject_New(gw_input, &gw_input_type);
        if (self == NULL)
            return NULL;
        self->buf = NULL;
    }
    self->req = req;
    self->cur = req->arena + req->body_off;
    self->end = self->cur + req->body_len;
    self->remaining = req->body_total;
    self->more = (req->in_flags & GW_IN_MORE_BODY) != 0;
    return (PyObject *)self;
}

/* gw_input_release ends the object's request and drops the caller's
 * reference; if the application kept none, the object is kept for reuse. */
void gw_input_release(PyObject *input)
{
    gw_input *self = (gw_input *)input;
    if (self == NULL)
        return;
    self->req = NULL;
    self->cur = self->end = NULL;
    self->more = 0;
    if (Py_REFCNT(input) == 1 && spare == NULL) {
        spare = self;
        return;
    }
    Py_DECREF(input);
}

static void input_dealloc(gw_input *self)
{
    PyMem_RawFree(self->buf);
    PyObject_Free(self);
}

static int check_alive(gw_input *self)
{
    if (self->req == NULL) {
        PyErr_SetString(PyExc_ValueError, "wsgi.input used after its request finished");
        return -1;
    }
    return 0;
}

/* raw_read reads body bytes straight from Go into dst. Returns the count,
 * 0 at the end of the body, -1 with an exception set. */
static Py_ssize_t raw_read(gw_input *self, char *dst, Py_ssize_t n)
{
    if (!self->more)
        return 0;
    int64_t got;
    gw_req *req = self->req;
    Py_BEGIN_ALLOW_THREADS
    got = goGWRead(req->handle, dst, (size_t)n);
    Py_END_ALLOW_THREADS
    if (got < 0) {
        self->more = 0;
        PyErr_Format(PyExc_OSError, "reading the request body failed: %s", req->errmsg);
        return -1;
    }
    if (got == 0)
        self->more = 0;
    return (Py_ssize_t)got;
}

/* fill refills the window from Go. Returns bytes now available (0 at the
 * end of the body), -1 with an exception set. */
static Py_ssize_t fill(gw_input *self)
{
    if (self->cur < self->end)
        return self->end - self->cur;
    if (!self->more)
        return 0;
    if (self->buf == NULL) {
        self->buf = PyMem_RawMalloc(INPUT_BUFSIZE);
        if (self->buf == NULL) {
            PyErr_NoMemory();
            return -1;
        }
    }
    Py_ssize_t n = raw_read(self, self->buf, INPUT_BUFSIZE);
    if (n < 0)
        return -1;
    self->cur = self->buf;
    self->end = self->buf + n;
    return n;
}

static void taken(gw_input *self, Py_ssize_t n)
{
    if (self->remaining > 0)
        self->remaining -= n;
}

/* parse_size reads the optional size argument of read/readline/readlines:
 * absent, None or negative all mean "no limit" (-1). */
static int parse_size(const char *fname, PyObject *const *args, Py_ssize_t nargs, Py_ssize_t *size)
{
    *size = -1;
    if (nargs > 1) {
        PyErr_Format(PyExc_TypeError, "%s() takes at most 1 argument (%zd given)", fname, nargs);
        return -1;
    }
    if (nargs == 1 && args[0] != Py_None) {
        Py_ssize_t n = PyNumber_AsSsize_t(args[0], PyExc_OverflowError);
        if (n == -1 && PyErr_Occurred())
            return -1;
        *size = n < 0 ? -1 : n;
    }
    return 0;
}

/* read_exact returns up to size bytes, fewer only at the end of the body. */
static PyObject *read_exact(gw_input *self, Py_ssize_t size)
{
    Py_ssize_t avail = self->end - self->cur;
    if (avail >= size) {
        PyObject *res = PyBytes_FromStringAndSize(self->cur, size);
        if (res != NULL) {
            self->cur += size;
            taken(self, size);
        }
        return res;
    }
    /* Never allocate more than the body can still hold: read(10**12) on a
     * small body must not exhaust memory. */
    if (self->remaining >= 0 && size > self->remaining)
        size = (Py_ssize_t)self->remaining;
    if (size < avail)
        size = avail;
    /* Nor more than has arrived, by much: a Content-Length is only the
     * client's claim, and read() of "Content-Length: 16000000000" must not
     * reserve 16 GB. The result grows as the bytes come. */
    Py_ssize_t cap = size;
    if (cap - avail > READ_AHEAD)
        cap = avail + READ_AHEAD;
    PyObject *res = PyBytes_FromStringAndSize(NULL, cap);
    if (res == NULL)
        return NULL;
    memcpy(PyBytes_AS_STRING(res), self->cur, avail);
    self->cur = self->end;
    Py_ssize_t got = avail;
    while (got < size && self->more) {
        if (got == cap) {
            cap = cap > size - cap ? size : 2 * cap;
            if (_PyBytes_Resize(&res, cap) < 0)
                return NULL;
        }
        Py_ssize_t n = raw_read(self, PyBytes_AS_STRING(res) + got, cap - got);
        if (n < 0) {
            Py_DECREF(res);
            return NULL;
        }
        got += n;
    }
    taken(self, got);
    if (got < cap && _PyBytes_Resize(&res, got) < 0)
        return NULL;
    return res;
}

static PyObject *read_all(gw_input *self)
{
    if (self->remaining >= 0)
        return read_exact(self, (Py_ssize_t)self->remaining);
    /* Length unknown: grow until Go reports the end of the body. */
    Py_ssize_t avail = self->end - self->cur;
    Py_ssize_t cap = avail + INPUT_BUFSIZE;
    PyObject *res = PyBytes_FromStringAndSize(NULL, cap);
    if (res == NULL)
        return NULL;
    memcpy(PyBytes_AS_STRING(res), self->cur, avail);
    self->cur = self->end;
    Py_ssize_t got = avail;
    while (self->more) {
        if (got == cap) {
            cap *= 2;
            if (_PyBytes_Resize(&res, cap) < 0)
                return NULL;
        }
        Py_ssize_t n = raw_read(self, PyBytes_AS_STRING(res) + got, cap - got);
        if (n < 0) {
            Py_DECREF(res);
            return NULL;
        }
        got += n;
    }
    if (_PyBytes_Resize(&res, got) < 0)
        return NULL;
    return res;
}

static PyObject *input_read(gw_input *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t size;
    if (parse_size("read", args, nargs, &size) < 0 || check_alive(self) < 0)
        return NULL;
    if (size < 0)
        return read_all(self);
    return read_exact(self, size);
}

/* read_line returns the next line (with its newline), at most size bytes
 * when size >= 0, and b"" at the end of the body. */
static PyObject *read_line(gw_input *self, Py_ssize_t size)
{
    PyObject *res = NULL;
    Py_ssize_t got = 0;
    for (;;) {
        Py_ssize_t avail = fill(self);
        if (avail < 0) {
            Py_XDECREF(res);
            return NULL;
        }
        if (avail == 0)
            break;
        Py_ssize_t limit = avail;
        if (size >= 0 && limit > size - got)
            limit = size - got;
        const char *nl = memchr(self->cur, '\n', limit);
        Py_ssize_t take = nl ? nl - self->cur + 1 : limit;
        int done = nl != NULL || (size >= 0 && got + take == size);
        if (res == NULL && done) {
            /* The whole line is in the window: one allocation. */
            res = PyBytes_FromStringAndSize(self->cur, take);
            if (res == NULL)
                return NULL;
        } else {
            if (res == NULL)
                res = PyBytes_FromStringAndSize(NULL, take);
            else if (_PyBytes_Resize(&res, got + take) < 0)
                return NULL;
            if (res == NULL)
                return NULL;
            memcpy(PyBytes_AS_STRING(res) + got, self->cur, take);
        }
        self->cur += take;
        got += take;
        taken(self, take);
        if (done)
            return res;
    }
    if (res == NULL)
        return PyBytes_FromStringAndSize(NULL, 0);
    return res;
}

static PyObject *input_readline(gw_input *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t size;
    if (parse_size("readline", args, nargs, &size) < 0 || check_alive(self) < 0)
        return NULL;
    if (size == 0)
        return PyBytes_FromStringAndSize(NULL, 0);
    return read_line(self, size);
}

static PyObject *input_readlines(gw_input *self, PyObject *const *args, Py_ssize_t nargs)
{
    Py_ssize_t hint;
    if (parse_size("readlines", args, nargs, &hint) < 0 || check_alive(self) < 0)
        return NULL;
    PyObject *lines = PyList_New(0);
    if (lines == NULL)
        return NULL;
    Py_ssize_t total = 0;
    for (;;) {
        PyObject *line = read_line(self, -1);
        if (line == NULL) {
            Py_DECREF(lines);
            return NULL;
        }
        Py_ssize_t n = PyBytes_GET_SIZE(line);
        if (n == 0) {
            Py_DECREF(line);
            break;
        }
        int rc = PyList_Append(lines, line);
        Py_DECREF(line);
        if (rc < 0) {
            Py_DECREF(lines);
            return NULL;
        }
        total += n;
        /* io.IOBase semantics: stop once the lines so far reach the hint. */
        if (hint > 0 && total >= hint)
            break;
    }
    return lines;
}

static PyObject *input_iternext(gw_input *self)
{
    if (check_alive(self) < 0)
        return NULL;
    PyObject *line = read_line(self, -1);
    if (line != NULL && PyBytes_GET_SIZE(line) == 0) {
        Py_DECREF(line);
        return NULL;
    }
    return line;
}

static PyMethodDef input_methods[] = {
    {"read", (PyCFunction)(void (*)(void))input_read, METH_FASTCALL,
     "read(size=-1) -> bytes: up to size bytes of the request body, all of it by default."},
    {"readline", (PyCFunction)(void (*)(void))input_readline, METH_FASTCALL,
     "readline(size=-1) -> bytes: the next line, at most size bytes."},
    {"readlines", (PyCFunction)(void (*)(void))input_readlines, METH_FASTCALL,
     "readlines(hint=-1) -> list: the remaining lines, stopping once hint bytes are read."},
    {NULL, NULL, 0, NULL},
};

PyTypeObject gw_input_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "gowsgi.Input",
    .tp_doc = "wsgi.input: the request body as a binary file-like object.",
    .tp_basicsize = sizeof(gw_input),
    .tp_flags = Py_TPFLAGS_DEFAULT,
    .tp_dealloc = (destructor)input_dealloc,
    .tp_iter = PyObject_SelfIter,
    .tp_iternext = (iternextfunc)input_iternext,
    .tp_methods = input_methods,
};
