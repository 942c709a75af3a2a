//go:build unix

package deflate

import (
	"syscall"
	"time"
)

// cpuTime returns the CPU time (user and system) the process has used, or
// 0 where that is not known. Benchmarks on a shared machine report
// throughput per CPU second beside the wall-clock figure, which other
// processes' load distorts.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
