package main

import (
	"fmt"
	"os/user"
	"strconv"
	"syscall"
)

// dropPrivileges switches a worker to group and user, given as names or
// numeric IDs: a server started as root listens on port 80 (the master
// bound the socket) and runs the application as nobody. With initgroups
// the worker also gets every group the user belongs to (gunicorn's
// --initgroups); else only its group.
func dropPrivileges(userName, groupName string, initgroups bool) error {
	if userName == "" && groupName == "" {
		return nil
	}
	uid, gid, err := lookupIDs(userName, groupName)
	if err != nil {
		return err
	}
	groups := []int{gid}
	if initgroups && userName != "" {
		if groups, err = userGroups(userName, gid); err != nil {
			return fmt.Errorf("--initgroups: %w", err)
		}
	}
	// Group first: once the user is not root, it could not change.
	if err := syscall.Setgroups(groups); err != nil {
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

// userGroups are the groups of a user, gid first.
func userGroups(userName string, gid int) ([]int, error) {
	u, err := user.Lookup(userName)
	if err != nil {
		if u, err = user.LookupId(userName); err != nil {
			return nil, err
		}
	}
	ids, err := u.GroupIds()
	if err != nil {
		return nil, err
	}
	groups := []int{gid}
	for _, id := range ids {
		if n, err := strconv.Atoi(id); err == nil && n != gid {
			groups = append(groups, n)
		}
	}
	return groups, nil
}
