//go:build !unix

package interop

import "os/exec"

// startGroup does nothing where process groups do not exist.
func startGroup(cmd *exec.Cmd) {}

// killGroup kills cmd's process only.
func killGroup(cmd *exec.Cmd) {
	if cmd.Process != nil {
		_ = cmd.Process.Kill()
	}
}
