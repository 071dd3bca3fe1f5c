package core

// #include <Python.h>
// static const char *gw_built_python_version(void) { return PY_VERSION; }
import "C"

import (
	"fmt"
	"path/filepath"
	"strings"
)

// pythonLibDir is the directory of the libpython gowsgi was built against,
// when the build says so: make build passes it with
// -ldflags "-X github.com/gowsgi/gowsgi/internal/core.pythonLibDir=DIR", and, for a
// Python outside the system's directories (pyenv, conda, /opt), -r DIR,
// which makes the dynamic loader look there first: without it, a
// libpython of the same name in the system's directories would be loaded
// instead (another patch release, or, for another minor version, none).
var pythonLibDir string

// PythonBuiltVersion is the version of the Python headers gowsgi was
// compiled with, e.g. "3.11.7".
func PythonBuiltVersion() string { return C.GoString(C.gw_built_python_version()) }

// CheckPythonLibrary fails when the libpython loaded is not the one
// gowsgi was built against (LD_LIBRARY_PATH pointing elsewhere, or a
// build without the run path).
func CheckPythonLibrary() error {
	if pythonLibDir == "" {
		return nil
	}
	loaded := PythonLibrary()
	if sameDir(filepath.Dir(loaded), pythonLibDir) {
		return nil
	}
	return fmt.Errorf("gowsgi was built against the Python in %s (%s) but loaded %s (Python %s): "+
		"the dynamic loader found another libpython of the same name first (is LD_LIBRARY_PATH set?); "+
		"unset LD_LIBRARY_PATH, or build gowsgi against this Python", pythonLibDir, PythonBuiltVersion(),
		loaded, strings.Fields(PythonVersion())[0])
}

func sameDir(a, b string) bool {
	if ra, err := filepath.EvalSymlinks(a); err == nil {
		a = ra
	}
	if rb, err := filepath.EvalSymlinks(b); err == nil {
		b = rb
	}
	return filepath.Clean(a) == filepath.Clean(b)
}

// PythonLibraryWarning describes, for the log and gowsgi --version, a
// libpython whose version differs from the headers gowsgi was compiled
// with, when the build named no library directory to check (a plain go
// build): "" when they agree. A patch release installed since the build
// is harmless (the ABI of a minor version is stable); another
// installation of Python is not what the build meant.
func PythonLibraryWarning() string {
	if err := CheckPythonLibrary(); err != nil {
		return err.Error()
	}
	running := strings.Fields(PythonVersion())[0]
	if built := PythonBuiltVersion(); built != running {
		return fmt.Sprintf("gowsgi was compiled with the headers of Python %s and runs libpython %s (%s): "+
			"if that is another installation, build with make build PYTHON_PC=... or PKG_CONFIG_PATH=..., "+
			"which makes the binary load the Python it was built against", built, running, PythonLibrary())
	}
	return ""
}
