package main

import (
	"os"
	"syscall"
)

// Process titles, as gunicorn sets them with --name: "gowsgi: master
// [NAME]" and "gowsgi: worker [NAME]" in ps, top and /proc/PID/cmdline. A
// worker is started with its title as its command line (its settings come
// through the environment). The master, whose command line the kernel
// keeps where the program cannot grow it, executes itself again once with
// the title in front of its arguments: the same process, the same PID.
const envTitled = "_GOWSGI_TITLED"

func masterTitle(name string) string { return "gowsgi: master [" + name + "]" }

// titled tells whether the process has the master's title already.
func titled(name string) bool { return os.Getenv(envTitled) == masterTitle(name) }

// retitleMaster replaces the process by itself with the master's title.
// It returns only if it could not.
func retitleMaster(name string) error {
	title := masterTitle(name)
	exe, err := os.Executable()
	if err != nil {
		return err
	}
	args := append([]string{title}, os.Args[1:]...)
	return syscall.Exec(exe, args, append(os.Environ(), envTitled+"="+title))
}

// workerTitle is the command line of the workers.
func workerTitle(name string) []string {
	if name == "" {
		return os.Args
	}
	return []string{"gowsgi: worker [" + name + "]"}
}
