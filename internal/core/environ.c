/*
 * environ.c: the environ dict of one request, built in one call from the
 * arena and entries Go filled.
 */
#include "gw_python.h"

#include <string.h>

/* In the order of the GW_K_* enum in gowsgi.h. */
static const char *const gw_key_names[GW_NKEYS] = {
    "REQUEST_METHOD",
    "SCRIPT_NAME",
    "PATH_INFO",
    "QUERY_STRING",
    "CONTENT_TYPE",
    "CONTENT_LENGTH",
    "SERVER_NAME",
    "SERVER_PORT",
    "SERVER_PROTOCOL",
    "REMOTE_ADDR",
    "REMOTE_PORT",
    "REQUEST_URI",
    "RAW_URI",
    "HTTPS",
    "HTTP_HOST",
    "HTTP_USER_AGENT",
    "HTTP_ACCEPT",
    "HTTP_ACCEPT_ENCODING",
    "HTTP_ACCEPT_LANGUAGE",
    "HTTP_ACCEPT_CHARSET",
    "HTTP_AUTHORIZATION",
    "HTTP_CACHE_CONTROL",
    "HTTP_CONNECTION",
    "HTTP_COOKIE",
    "HTTP_DNT",
    "HTTP_EXPECT",
    "HTTP_FORWARDED",
    "HTTP_IF_MATCH",
    "HTTP_IF_MODIFIED_SINCE",
    "HTTP_IF_NONE_MATCH",
    "HTTP_IF_RANGE",
    "HTTP_IF_UNMODIFIED_SINCE",
    "HTTP_ORIGIN",
    "HTTP_PRAGMA",
    "HTTP_RANGE",
    "HTTP_REFERER",
    "HTTP_TE",
    "HTTP_TRANSFER_ENCODING",
    "HTTP_UPGRADE",
    "HTTP_UPGRADE_INSECURE_REQUESTS",
    "HTTP_VIA",
    "HTTP_X_FORWARDED_FOR",
    "HTTP_X_FORWARDED_HOST",
    "HTTP_X_FORWARDED_PORT",
    "HTTP_X_FORWARDED_PROTO",
    "HTTP_X_REAL_IP",
    "HTTP_X_REQUESTED_WITH",
    "HTTP_X_CSRFTOKEN",
    "HTTP_SEC_FETCH_DEST",
    "HTTP_SEC_FETCH_MODE",
    "HTTP_SEC_FETCH_SITE",
    "HTTP_SEC_FETCH_USER",
};

PyObject *gw_keys[GW_NKEYS];
static PyObject *key_input, *key_url_scheme, *scheme_http, *scheme_https;

const char *gw_key_name(int key)
{
    if (key < 0 || key >= GW_NKEYS)
        return NULL;
    return gw_key_names[key];
}

int gw_environ_init(void)
{
    for (int i = 0; i < GW_NKEYS; i++) {
        gw_keys[i] = PyUnicode_InternFromString(gw_key_names[i]);
        if (gw_keys[i] == NULL)
            return -1;
    }
    key_input = PyUnicode_InternFromString("wsgi.input");
    key_url_scheme = PyUnicode_InternFromString("wsgi.url_scheme");
    scheme_http = PyUnicode_InternFromString("http");
    scheme_https = PyUnicode_InternFromString("https");
    if (!key_input || !key_url_scheme || !scheme_http || !scheme_https)
        return -1;
    return 0;
}

static int set_item(PyObject *env, PyObject *key, const char *val, uint32_t len)
{
    /* PEP 3333: values are native strings holding the bytes as latin-1. */
    PyObject *v = PyUnicode_DecodeLatin1(val, len, NULL);
    if (v == NULL)
        return -1;
    int rc = PyDict_SetItem(env, key, v);
    Py_DECREF(v);
    return rc;
}

/* Values of known keys repeat from request to request (the method, the
 * protocol, the host, the client's headers): each OS thread keeps the last
 * str of each key and reuses it when the bytes are the same, sparing an
 * allocation. str is immutable, so sharing is safe. */
#define GW_CACHED_VALUE_MAX 64
static __thread PyObject *last_value[GW_NKEYS];

/* Credentials are not kept past their request. */
static int cacheable(int key)
{
    return key != GW_K_HTTP_AUTHORIZATION && key != GW_K_HTTP_COOKIE && key != GW_K_HTTP_X_CSRFTOKEN;
}

static int set_known(PyObject *env, int key, const char *val, uint32_t len)
{
    PyObject *v = last_value[key];
    if (v != NULL && PyUnicode_GET_LENGTH(v) == len && PyUnicode_KIND(v) == PyUnicode_1BYTE_KIND &&
        memcmp(PyUnicode_1BYTE_DATA(v), val, len) == 0)
        return PyDict_SetItem(env, gw_keys[key], v);
    v = PyUnicode_DecodeLatin1(val, len, NULL);
    if (v == NULL)
        return -1;
    int rc = PyDict_SetItem(env, gw_keys[key], v);
    if (len <= GW_CACHED_VALUE_MAX && cacheable(key))
        Py_XSETREF(last_value[key], Py_NewRef(v));
    Py_DECREF(v);
    return rc;
}

PyObject *gw_environ_new(gw_app *app, gw_req *req, PyObject *input)
{
    PyObject *env = PyDict_Copy(app->template);
    if (env == NULL)
        return NULL;
    const char *arena = req->arena;
    for (uint32_t i = 0; i < req->nentries; i++) {
        const gw_entry *e = &req->entries[i];
        int rc;
        if (e->key >= 0 && e->key < GW_NKEYS) {
            rc = set_known(env, e->key, arena + e->val_off, e->val_len);
        } else {
            /* Header names outside the known set are not interned: a
             * client could otherwise grow the interned table at will. */
            PyObject *k = PyUnicode_DecodeLatin1(arena + e->name_off, e->name_len, NULL);
            if (k == NULL)
                goto fail;
            rc = set_item(env, k, arena + e->val_off, e->val_len);
            Py_DECREF(k);
        }
        if (rc < 0)
            goto fail;
    }
    if (PyDict_SetItem(env, key_input, input) < 0)
        goto fail;
    if (PyDict_SetItem(env, key_url_scheme,
                       (req->in_flags & GW_IN_HTTPS) ? scheme_https : scheme_http) < 0)
        goto fail;
    return env;

fail:
    Py_DECREF(env);
    return NULL;
}
