// What the soak reads from /proc: a master's workers, a process's resident
// memory and descriptors, and which client connections a worker holds.
package main

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// workers returns the children of master that are workers: not its
// configuration helper, not a new master started by USR2.
func workers(master int) []int {
	entries, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || parent(pid) != master {
			continue
		}
		cmdline, _ := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if strings.HasPrefix(string(cmdline), "gowsgi: config helper") {
			continue
		}
		environ, _ := os.ReadFile(fmt.Sprintf("/proc/%d/environ", pid))
		if strings.Contains(string(environ), "_GOWSGI_PARENT_MASTER=") {
			continue
		}
		pids = append(pids, pid)
	}
	return pids
}

// parent returns pid's parent process (0 if pid is gone).
func parent(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// pid (comm) state ppid ...: comm may hold spaces and parentheses.
	f := strings.Fields(string(b[strings.LastIndexByte(string(b), ')')+1:]))
	if len(f) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(f[1])
	return ppid
}

// rssMB returns pid's resident memory in MB (VmRSS), ok false if it is gone.
func rssMB(pid int) (float64, bool) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, false
	}
	defer f.Close()
	s := bufio.NewScanner(f)
	for s.Scan() {
		if rest, ok := strings.CutPrefix(s.Text(), "VmRSS:"); ok {
			kb, err := strconv.Atoi(strings.Fields(rest)[0])
			return float64(kb) / 1024, err == nil
		}
	}
	return 0, false
}

// fds counts pid's descriptors: sockets and the others (files, pipes,
// epoll...), ok false if it is gone. sockets holds the sockets' inodes.
func fds(pid int) (sockets map[string]bool, others int, ok bool) {
	dir := fmt.Sprintf("/proc/%d/fd", pid)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, 0, false
	}
	sockets = map[string]bool{}
	for _, e := range entries {
		target, err := os.Readlink(dir + "/" + e.Name())
		if err != nil {
			continue // closed meanwhile
		}
		if inode, ok := strings.CutPrefix(target, "socket:["); ok {
			sockets[strings.TrimSuffix(inode, "]")] = true
		} else {
			others++
		}
	}
	return sockets, others, true
}

// clientPorts returns the remote ports of the TCP connections to
// serverPort among the sockets (inodes) a process holds: the local ports
// of the clients it serves. Listening sockets are left out.
func clientPorts(sockets map[string]bool, serverPort int) map[int]bool {
	ports := map[int]bool{}
	for _, table := range []string{"/proc/net/tcp", "/proc/net/tcp6"} {
		f, err := os.Open(table)
		if err != nil {
			continue
		}
		s := bufio.NewScanner(f)
		s.Scan() // the column titles
		for s.Scan() {
			// sl local_address rem_address st tx:rx tr:when retrnsmt uid timeout inode
			col := strings.Fields(s.Text())
			if len(col) < 10 || !sockets[col[9]] || col[3] == "0A" {
				continue
			}
			if hexPort(col[1]) == serverPort {
				ports[hexPort(col[2])] = true
			}
		}
		f.Close()
	}
	return ports
}

// hexPort reads the port of /proc/net/tcp's ADDRESS:PORT, both in hex.
func hexPort(addr string) int {
	_, port, _ := strings.Cut(addr, ":")
	n, _ := strconv.ParseInt(port, 16, 32)
	return int(n)
}
