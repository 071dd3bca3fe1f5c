package master

import (
	"fmt"
	"os"
	"os/exec"
	"strconv"
)

// A binary upgrade, gunicorn's way. SIGUSR2 makes the master start a new
// master: its own binary, read anew from disk, with its command line and
// the listening sockets passed as inherited descriptors. Both serve, the
// new code and the old, until the old master is sent SIGWINCH (its workers
// stop gracefully; it stays, so the upgrade can be undone by sending it
// SIGHUP) and then SIGTERM. The new master takes over the pid file when
// its parent is gone.

// Environment of a master started by SIGUSR2.
const (
	envParentMaster = "_GOWSGI_PARENT_MASTER" // the PID of the master that started it
	envMasterFDs    = "_GOWSGI_MASTER_FDS"    // how many sockets it inherits, from descriptor 3
)

// Inherited tells a master started by SIGUSR2 the sockets it inherits (the
// descriptors from 3) and its parent master's PID; n is 0 otherwise.
func Inherited() (n, parent int) {
	v, ok := os.LookupEnv(envMasterFDs)
	if !ok {
		return 0, 0
	}
	os.Unsetenv(envMasterFDs)
	n, _ = strconv.Atoi(v)
	parent, _ = strconv.Atoi(os.Getenv(envParentMaster))
	os.Unsetenv(envParentMaster)
	return n, parent
}

// reexec starts the new master, unless one runs already or this master is
// itself the new one of a parent still there.
func (m *master) reexec() {
	if m.child != nil {
		m.log.Warn("SIGUSR2 ignored: the new master " + strconv.Itoa(m.child.Process.Pid) + " runs already")
		return
	}
	if m.cfg.Parent != 0 && os.Getppid() == m.cfg.Parent {
		m.log.Warn("SIGUSR2 ignored: the old master " + strconv.Itoa(m.cfg.Parent) + " still runs")
		return
	}
	if m.cfg.PreExec != nil {
		m.cfg.PreExec()
	}
	argv := m.cfg.MasterArgv
	cmd := exec.Command(m.exe, argv[1:]...)
	cmd.Args[0] = argv[0]
	cmd.Env = append(os.Environ(), fmt.Sprintf("%s=%d", envParentMaster, os.Getpid()),
		fmt.Sprintf("%s=%d", envMasterFDs, len(m.cfg.Sockets)))
	cmd.Env = append(cmd.Env, m.cfg.MasterEnv...)
	cmd.ExtraFiles = m.cfg.Sockets
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, os.Stdout, os.Stderr
	err := cmd.Start()
	restoreNonblocking(m.cfg.Sockets)
	if err != nil {
		m.log.Error("SIGUSR2: cannot start a new master", "error", err)
		return
	}
	m.child = cmd
	if m.cfg.Upgrading != nil {
		m.cfg.Upgrading.Store(true)
	}
	m.log.Info("SIGUSR2: started a new master with pid " + strconv.Itoa(cmd.Process.Pid) +
		"; send this one SIGWINCH to stop its workers, then SIGTERM")
	go func() {
		err := cmd.Wait()
		m.events <- event{kind: "master-exit", arg: fmt.Sprint(err)}
	}()
}

// masterExited: the new master ended (the upgrade failed, or it was
// stopped): this one serves on, and SIGUSR2 may start another.
func (m *master) masterExited(why string) {
	m.log.Warn("The new master " + strconv.Itoa(m.child.Process.Pid) + " exited (" + why + "); this master serves on")
	m.child = nil
	if m.cfg.Upgrading != nil {
		m.cfg.Upgrading.Store(false)
	}
	if m.target == 0 {
		m.setTarget(m.cfg.Workers)
	}
}

// winch stops the workers gracefully while a new master serves; any other
// time SIGWINCH is a terminal's resize, and ignored as gunicorn ignores it
// when it does not run as a daemon.
func (m *master) winch() {
	if m.child == nil {
		m.log.Debug("SIGWINCH ignored: no new master runs")
		return
	}
	m.log.Info("Stopping the workers gracefully (SIGWINCH); the new master " + strconv.Itoa(m.child.Process.Pid) + " serves")
	m.setTarget(0)
	for w := range m.workers {
		m.retire(w)
	}
}
