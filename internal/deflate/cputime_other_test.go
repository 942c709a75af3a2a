//go:build !unix

package deflate

import "time"

// cpuTime is not known here: the benchmarks omit their CPU metrics.
func cpuTime() time.Duration { return 0 }
