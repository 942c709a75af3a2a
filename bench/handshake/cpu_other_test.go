//go:build !unix

package handshake

import "time"

func cpuTime() (time.Duration, bool) { return 0, false }
