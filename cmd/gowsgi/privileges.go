package main

import (
	"fmt"
	"os/user"
	"strconv"
	"syscall"
)

// dropPrivileges switches a worker to group and user, given as names or
// numeric IDs: a server started as root listens on port 80 (the master
// bound the socket) and runs the application as nobody.
func dropPrivileges(userName, groupName string) error {
	if userName == "" && groupName == "" {
		return nil
	}
	uid, gid, err := lookupIDs(userName, groupName)
	if err != nil {
		return err
	}
	// Group first: once the user is not root, it could not change.
	if err := syscall.Setgroups([]int{gid}); err != nil {
		return fmt.Errorf("dropping privileges: %w", err)
	}
	if err := syscall.Setgid(gid); err != nil {
		return fmt.Errorf("--group: %w", err)
	}
	if uid >= 0 {
		if err := syscall.Setuid(uid); err != nil {
			return fmt.Errorf("--user: %w", err)
		}
	}
	return nil
}

// lookupIDs resolves --user and --group; -1 for what is not given (the
// group defaults to the user's).
func lookupIDs(userName, groupName string) (uid, gid int, err error) {
	uid, gid = -1, -1
	if userName != "" {
		u, err := user.Lookup(userName)
		if err != nil {
			if u, err = user.LookupId(userName); err != nil {
				return 0, 0, fmt.Errorf("--user %q: no such user", userName)
			}
		}
		uid, _ = strconv.Atoi(u.Uid)
		gid, _ = strconv.Atoi(u.Gid)
	}
	if groupName != "" {
		g, err := user.LookupGroup(groupName)
		if err != nil {
			if g, err = user.LookupGroupId(groupName); err != nil {
				return 0, 0, fmt.Errorf("--group %q: no such group", groupName)
			}
		}
		gid, _ = strconv.Atoi(g.Gid)
	}
	return uid, gid, nil
}
