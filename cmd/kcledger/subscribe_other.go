//go:build !linux

package main

import "os/exec"

// isolate: only Linux can tie a command's life to the subscriber's.
func isolate(*exec.Cmd) {}
