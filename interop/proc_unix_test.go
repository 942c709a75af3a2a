//go:build unix

package interop

import (
	"os/exec"
	"syscall"
)

// startGroup makes cmd the leader of a new process group, so that
// killGroup ends it and every process it started (Chromium's renderers).
func startGroup(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
}

// killGroup kills cmd's process group.
func killGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		_ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL)
	}
}
