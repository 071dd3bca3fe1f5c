/*
 * filewrapper.c: wsgi.file_wrapper.
 *
 * FileWrapper(filelike, blksize=8192) is an iterable of blocks, as
 * wsgiref.util.FileWrapper. When the application returns one unwrapped and
 * the file-like has a descriptor of a regular file, the server sends the
 * file with sendfile(2) instead of iterating.
 */
#include "gw_python.h"

#include <structmember.h>
#include <sys/stat.h>
#include <unistd.h>

typedef struct {
    PyObject_HEAD
    PyObject *filelike;
    Py_ssize_t blksize;
} gw_filewrapper;

static PyObject *filewrapper_new(PyTypeObject *type, PyObject *args, PyObject *kwds)
{
    static char *kwlist[] = {"filelike", "blksize", NULL};
    PyObject *filelike;
    Py_ssize_t blksize = 8192;
    if (!PyArg_ParseTupleAndKeywords(args, kwds, "O|n:FileWrapper", kwlist, &filelike, &blksize))
        return NULL;
    if (blksize <= 0) {
        PyErr_SetString(PyExc_ValueError, "FileWrapper: blksize must be positive");
        return NULL;
    }
    gw_filewrapper *self = (gw_filewrapper *)type->tp_alloc(type, 0);
    if (self == NULL)
        return NULL;
    self->filelike = Py_NewRef(filelike);
    self->blksize = blksize;
    return (PyObject *)self;
}

static int filewrapper_traverse(gw_filewrapper *self, visitproc visit, void *arg)
{
    Py_VISIT(self->filelike);
    return 0;
}

static int filewrapper_clear(gw_filewrapper *self)
{
    Py_CLEAR(self->filelike);
    return 0;
}

static void filewrapper_dealloc(gw_filewrapper *self)
{
    PyObject_GC_UnTrack(self);
    filewrapper_clear(self);
    Py_TYPE(self)->tp_free((PyObject *)self);
}

static PyObject *filewrapper_next(gw_filewrapper *self)
{
    PyObject *data = PyObject_CallMethod(self->filelike, "read", "n", self->blksize);
    if (data == NULL)
        return NULL;
    Py_ssize_t n = PyObject_Length(data);
    if (n <= 0) {
        /* An error (n < 0: read() returned something without a length, the
         * exception is set), or the end of the file: StopIteration. */
        Py_DECREF(data);
        return NULL;
    }
    return data;
}

static PyObject *filewrapper_close(gw_filewrapper *self, PyObject *unused)
{
    PyObject *close = NULL;
    if (gw_lookup_attr(self->filelike, gw_str_close, &close) < 0)
        return NULL;
    if (close == NULL)
        Py_RETURN_NONE;
    PyObject *res = PyObject_CallNoArgs(close);
    Py_DECREF(close);
    return res;
}

static PyMethodDef filewrapper_methods[] = {
    {"close", (PyCFunction)filewrapper_close, METH_NOARGS, "close() closes the file-like."},
    {NULL, NULL, 0, NULL},
};

static PyMemberDef filewrapper_members[] = {
    {"filelike", T_OBJECT, offsetof(gw_filewrapper, filelike), READONLY, NULL},
    {"blksize", T_PYSSIZET, offsetof(gw_filewrapper, blksize), READONLY, NULL},
    {NULL, 0, 0, 0, NULL},
};

PyTypeObject gw_filewrapper_type = {
    PyVarObject_HEAD_INIT(NULL, 0)
    .tp_name = "gowsgi.FileWrapper",
    .tp_doc = "FileWrapper(filelike, blksize=8192): wsgi.file_wrapper; sent with "
              "sendfile(2) when filelike is a regular file.",
    .tp_basicsize = sizeof(gw_filewrapper),
    .tp_flags = Py_TPFLAGS_DEFAULT | Py_TPFLAGS_HAVE_GC | Py_TPFLAGS_BASETYPE,
    .tp_new = filewrapper_new,
    .tp_dealloc = (destructor)filewrapper_dealloc,
    .tp_traverse = (traverseproc)filewrapper_traverse,
    .tp_clear = (inquiry)filewrapper_clear,
    .tp_iter = PyObject_SelfIter,
    .tp_iternext = (iternextfunc)filewrapper_next,
    .tp_methods = filewrapper_methods,
    .tp_members = filewrapper_members,
};

/* file_position finds the descriptor and the position where the next read
 * of the file-like would start. Returns 0 when it has none (not a regular
 * file, no fileno, ...): the caller then iterates instead. */
static int file_position(PyObject *filelike, int *fd, int64_t *pos, int64_t *size)
{
    PyObject *r = PyObject_CallMethod(filelike, "fileno", NULL);
    if (r == NULL) {
        PyErr_Clear();
        return 0;
    }
    long n = PyLong_AsLong(r);
    Py_DECREF(r);
    if (n < 0 || n > INT32_MAX) {
        PyErr_Clear();
        return 0;
    }
    struct stat st;
    if (fstat((int)n, &st) < 0 || !S_ISREG(st.st_mode))
        return 0;
    /* tell() accounts for what a buffered reader has read ahead; the
     * descriptor's own offset would not. */
    int64_t at = -1;
    r = PyObject_CallMethod(filelike, "tell", NULL);
    if (r != NULL) {
        at = PyLong_AsLongLong(r);
        Py_DECREF(r);
    }
    if (at < 0) {
        PyErr_Clear();
        at = lseek((int)n, 0, SEEK_CUR);
        if (at < 0)
            return 0;
    }
    *fd = (int)n;
    *pos = at;
    *size = st.st_size > at ? st.st_size - at : 0;
    return 1;
}

/* gw_hand_over_file hands Go the rest of a FileWrapper's file, to send with
 * sendfile(2) after the call; gw_finish then closes the wrapper. Returns 1
 * when handed over, 0 when the file-like has no usable descriptor (the
 * caller iterates instead), -1 with an exception set. */
int gw_hand_over_file(gw_call *c, PyObject *wrapper)
{
    gw_filewrapper *fw = (gw_filewrapper *)wrapper;
    int fd;
    int64_t pos, count;
    if (!file_position(fw->filelike, &fd, &pos, &count))
        return 0;
    gw_req *r = c->req;
    if (c->status == NULL) {
        PyErr_SetString(PyExc_RuntimeError,
                        "PEP 3333: the application returned a file_wrapper without calling "
                        "start_response()");
        return -1;
    }
    r->known_length = count;
    if (!c->committed && gw_commit_head(c) < 0)
        return -1;
    r->file_fd = fd;
    r->file_off = pos;
    r->file_len = count;
    r->out_flags |= GW_OUT_HANDED_OVER;
    c->handed_over = 1;
    return 1;
}
