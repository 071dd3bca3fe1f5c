/*
 * gowsgi.h: the boundary between Go and the C shim over the Python C API.
 *
 * Only plain C types appear here, so cgo can see every structure. Go fills a
 * gw_req (environ arena, entries) before calling gw_handle; C fills its
 * response part (status, headers, buffered body) and calls back into Go
 * (goGW* functions) whenever it must read the body or write to the client.
 * Every callback runs with the GIL released.
 */
#ifndef GOWSGI_H
#define GOWSGI_H

#include <stddef.h>
#include <stdint.h>

/* Environ keys known in advance. C keeps one interned str per key, Go maps
 * request fields and common header names to these indexes. The names live in
 * gw_key_names (environ.c): keep both lists in the same order. */
enum {
    GW_K_REQUEST_METHOD,
    GW_K_SCRIPT_NAME,
    GW_K_PATH_INFO,
    GW_K_QUERY_STRING,
    GW_K_CONTENT_TYPE,
    GW_K_CONTENT_LENGTH,
    GW_K_SERVER_NAME,
    GW_K_SERVER_PORT,
    GW_K_SERVER_PROTOCOL,
    GW_K_REMOTE_ADDR,
    GW_K_REMOTE_PORT,
    GW_K_REQUEST_URI,
    GW_K_RAW_URI,
    GW_K_HTTPS,
    GW_K_HTTP_HOST,
    GW_K_HTTP_USER_AGENT,
    GW_K_HTTP_ACCEPT,
    GW_K_HTTP_ACCEPT_ENCODING,
    GW_K_HTTP_ACCEPT_LANGUAGE,
    GW_K_HTTP_ACCEPT_CHARSET,
    GW_K_HTTP_AUTHORIZATION,
    GW_K_HTTP_CACHE_CONTROL,
    GW_K_HTTP_CONNECTION,
    GW_K_HTTP_COOKIE,
    GW_K_HTTP_DNT,
    GW_K_HTTP_EXPECT,
    GW_K_HTTP_FORWARDED,
    GW_K_HTTP_IF_MATCH,
    GW_K_HTTP_IF_MODIFIED_SINCE,
    GW_K_HTTP_IF_NONE_MATCH,
    GW_K_HTTP_IF_RANGE,
    GW_K_HTTP_IF_UNMODIFIED_SINCE,
    GW_K_HTTP_ORIGIN,
    GW_K_HTTP_PRAGMA,
    GW_K_HTTP_RANGE,
    GW_K_HTTP_REFERER,
    GW_K_HTTP_TE,
    GW_K_HTTP_TRANSFER_ENCODING,
    GW_K_HTTP_UPGRADE,
    GW_K_HTTP_UPGRADE_INSECURE_REQUESTS,
    GW_K_HTTP_VIA,
    GW_K_HTTP_X_FORWARDED_FOR,
    GW_K_HTTP_X_FORWARDED_HOST,
    GW_K_HTTP_X_FORWARDED_PORT,
    GW_K_HTTP_X_FORWARDED_PROTO,
    GW_K_HTTP_X_REAL_IP,
    GW_K_HTTP_X_REQUESTED_WITH,
    GW_K_HTTP_X_CSRFTOKEN,
    GW_K_HTTP_SEC_FETCH_DEST,
    GW_K_HTTP_SEC_FETCH_MODE,
    GW_K_HTTP_SEC_FETCH_SITE,
    GW_K_HTTP_SEC_FETCH_USER,
    GW_NKEYS
};

/* One environ item. Names and values are byte ranges of the request arena;
 * values become str by latin-1 decoding, as PEP 3333 requires. */
typedef struct {
    int32_t key;       /* GW_K_*, or -1: the name is name_off/name_len */
    uint32_t name_off, name_len;
    uint32_t val_off, val_len;
} gw_entry;

/* gw_req.in_flags */
enum {
    GW_IN_HTTPS = 1,      /* wsgi.url_scheme is "https" */
    GW_IN_MORE_BODY = 2   /* the body continues past the preloaded bytes */
};

/* gw_req.out_flags */
enum {
    GW_OUT_FAILED = 1,      /* the application failed before the head was sent: answer 500 */
    GW_OUT_ABORT = 2,       /* it failed after: abort the connection */
    GW_OUT_HAS_DATE = 4,    /* the application set its own Date header */
    GW_OUT_HEAD_READY = 8,  /* status and headers are in head/hdr */
    GW_OUT_HANDED_OVER = 16, /* the body is in chunks or file_*: send it, then call gw_finish */
    GW_OUT_DEBUG_PAGE = 32   /* with FAILED: body holds the --debug traceback page (HTML) */
};

/* One piece of a body handed over to Go: bytes kept alive by the request. */
typedef struct {
    const char *p;
    uint64_t n;
} gw_chunk;

/* The largest body C keeps for Go to send after the call returns; larger
 * responses are handed to Go chunk by chunk while Python runs on. */
#define GW_BODY_MAX (64 * 1024)

/* One request and its response. Allocated in C memory and reused, so Go may
 * keep reading the response after the Python thread has moved on. */
typedef struct gw_req {
    /* Filled by Go. */
    uintptr_t handle;         /* cgo.Handle of the Go request, for callbacks */
    char *arena;              /* environ names and values, then the preloaded body */
    uint32_t arena_len, arena_cap;
    gw_entry *entries;
    uint32_t nentries, entries_cap;
    uint32_t in_flags;
    uint64_t generation;          /* counts the requests made with this gw_req */
    uint32_t body_off, body_len;  /* preloaded body bytes, in the arena */
    int64_t body_total;           /* the whole body's length (CONTENT_LENGTH), -1 if unknown */

    /* Filled by C. */
    int32_t active;               /* the application runs (changed with the GIL) */
    int32_t interrupted;          /* gw_interrupt posted its exception (with the GIL) */
    unsigned long thread_id;      /* the Python thread it runs on */
    uint32_t out_flags;
    int32_t status;               /* numeric status code */
    char *head;                   /* status text, then header names and values */
    uint32_t head_len, head_cap;
    uint32_t *hdr;                /* (offset, length) into head: status, then name, value, ... */
    uint32_t nhdr, hdr_cap;       /* nhdr counts uint32 values used */
    int64_t content_length;       /* the application's Content-Length, -1 if none */
    int64_t known_length;         /* the body length when C knows it in advance, else -1 */
    char *body;                   /* body bytes not yet handed to Go */
    uint32_t body_buf_len, body_buf_cap;
    /* A large body that is complete when the application returns (a list,
     * an iterator over one, a file) is not copied: C hands Go its chunks,
     * or the part of the file, and Go sends them after the call, where
     * waiting for the client costs no thread switch. gw_finish then closes
     * the response and lets the objects go. */
    gw_chunk *chunks;
    uint32_t nchunks, chunks_cap;
    int32_t file_fd;
    int64_t file_off, file_len;
    void *pending;                /* PyObject *: the response, to close in gw_finish */
    void *pending_refs;           /* PyObject *: keeps the chunks alive */
    char errmsg[160];             /* why the last body read failed */
} gw_req;

/* Interpreter start-up settings. */
typedef struct {
    const char *executable;   /* sys.executable: the real python or a virtualenv's */
    const char *const *argv;  /* sys.argv */
    int argc;
    const char *const *path;  /* prepended to sys.path, in order */
    int npath;
} gw_config;

/* An application loaded into the interpreter. Opaque to Go. */
typedef struct gw_app gw_app;

/* Application-wide environ settings, fixed when the application loads. */
typedef struct {
    uintptr_t handle;         /* cgo.Handle of the Go App, for logging */
    int multithread, multiprocess, run_once;
    const char *server_software;
    const char *validate_source; /* validate.py, or NULL without --validate */
    const char *debug_source; /* --debug: the traceback page's Python code; NULL: plain 500s */
} gw_app_config;

/* interp.c */
int gw_init(const gw_config *cfg, char **err);
void gw_finalize(void);
const char *gw_python_version(void);
const char *gw_library_path(void);

/* app.c */
gw_app *gw_app_load(const char *spec, const char *loader_source, const gw_app_config *cfg,
                    char **err);
void gw_app_free(gw_app *app);
void gw_handle(gw_app *app, gw_req *req);
void gw_finish(gw_req *req);
void gw_interrupt(gw_req *req, uint64_t generation);
void gw_thread_attach(void);
void gw_thread_detach(void);
const char *gw_key_name(int key);
/* The timer slack of threads that run Python, in ns; 0 leaves it alone
 * (PythonConfig.TimerSlack). */
extern unsigned long gw_python_timer_slack;
void gw_restore_timer_slack(void);

/* Callbacks exported by Go (see _cgo_export.h). Each is called with the
 * GIL released. */
extern int goGWWrite(uintptr_t req, char *a, size_t alen, char *b, size_t blen);
extern int64_t goGWRead(uintptr_t req, char *buf, size_t cap);
extern void goGWLog(uintptr_t req, int level, char *msg, size_t len);
extern void goGWErrors(uintptr_t app, char *msg, size_t len);

/* Log levels for goGWLog. */
enum { GW_LOG_DEBUG = 0, GW_LOG_INFO = 1, GW_LOG_WARNING = 2, GW_LOG_ERROR = 3 };

#endif
