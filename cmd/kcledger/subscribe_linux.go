package main

import (
	"os/exec"
	"syscall"
)

// isolate runs a subscriber's command in its own process group, so that a
// Ctrl-C meant for the subscriber lets the command finish, and kills it
// if the subscriber itself dies (kill -9): the event, not acknowledged, is
// then delivered again rather than handled by an orphan.
func isolate(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
}
