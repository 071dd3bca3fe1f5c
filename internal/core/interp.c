/*
 * interp.c: starting and stopping the embedded interpreter, and the Python
 * threads that serve requests.
 */
#include "gw_python.h"

#include <dlfcn.h>
#include <stdlib.h>
#include <string.h>

static PyThreadState *main_tstate;

static char *status_message(PyStatus st)
{
    const char *msg = st.err_msg ? st.err_msg : "Python failed to start";
    size_t n = strlen(msg) + (st.func ? strlen(st.func) : 0) + 4;
    char *out = malloc(n);
    if (out == NULL)
        return NULL;
    if (st.func)
        snprintf(out, n, "%s: %s", st.func, msg);
    else
        snprintf(out, n, "%s", msg);
    return out;
}

/* gw_init starts the interpreter on the calling thread, which becomes
 * Python's main thread. Go keeps every signal: Python installs no handler.
 * sys.executable is what Go found for the linked libpython (or the
 * virtualenv's python), never a guess from PATH. On return the GIL is
 * released. */
int gw_init(const gw_config *cfg, char **err)
{
    PyStatus st;
    PyConfig config;

    PyConfig_InitPythonConfig(&config);
    config.install_signal_handlers = 0;
    config.parse_argv = 0;
    config.configure_c_stdio = 0;

    st = PyConfig_SetBytesString(&config, &config.program_name, cfg->executable);
    if (PyStatus_Exception(st))
        goto fail;
    st = PyConfig_SetBytesString(&config, &config.executable, cfg->executable);
    if (PyStatus_Exception(st))
        goto fail;
    st = PyConfig_SetBytesArgv(&config, cfg->argc, (char *const *)cfg->argv);
    if (PyStatus_Exception(st))
        goto fail;
    st = Py_InitializeFromConfig(&config);
    if (PyStatus_Exception(st))
        goto fail;
    PyConfig_Clear(&config);

    /* Like gunicorn: --chdir and --pythonpath come first on sys.path. */
    PyObject *sys_path = PySys_GetObject("path");
    for (int i = cfg->npath - 1; sys_path != NULL && i >= 0; i--) {
        PyObject *dir = PyUnicode_DecodeFSDefault(cfg->path[i]);
        if (dir == NULL || PyList_Insert(sys_path, 0, dir) < 0) {
            Py_XDECREF(dir);
            *err = gw_format_exception();
            return -1;
        }
        Py_DECREF(dir);
    }
    /* threading takes the thread that first imports it for the main
     * thread: make that this one, not whichever serves the first request. */
    PyObject *threading = PyImport_ImportModule("threading");
    Py_XDECREF(threading);
    if (threading == NULL || gw_init_types() < 0 || gw_environ_init() < 0) {
        *err = gw_format_exception();
        return -1;
    }
    main_tstate = PyEval_SaveThread();
    return 0;

fail:
    PyConfig_Clear(&config);
    *err = status_message(st);
    return -1;
}

/* gw_finalize runs atexit handlers and stops the interpreter. Called on the
 * thread that ran gw_init once no request is running. */
void gw_finalize(void)
{
    if (main_tstate == NULL)
        return;
    PyEval_RestoreThread(main_tstate);
    main_tstate = NULL;
    Py_FinalizeEx();
}

const char *gw_python_version(void)
{
    return Py_GetVersion();
}

/* gw_library_path names the file libpython was loaded from, so Go can find
 * the interpreter and standard library that belong to it. */
const char *gw_library_path(void)
{
    Dl_info info;
    if (dladdr((void *)&Py_InitializeFromConfig, &info) == 0 || info.dli_fname == NULL)
        return "";
    return info.dli_fname;
}
