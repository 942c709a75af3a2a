package loadgen

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// The scale sweep runs the idle and broadcast workloads at sizes given in
// the workload name: "broadcast:10000" is the broadcast workload with
// 10,000 members, "idle:19000" the idle workload with 19,000
// connections. A name without a size uses the Config's (BcastMembers,
// IdleConns).

// ScaleWorkloads is the scale sweep: broadcast to 1,000, 3,000 and 10,000
// members (all in one room, BcastSize bytes each), and 19,000 idle
// connections (handshake CPU and RSS per connection). 19,000 fits the
// 20,000 descriptors a process gets here, on both sides.
var ScaleWorkloads = []string{Broadcast + ":1000", Broadcast + ":3000", Broadcast + ":10000", Idle + ":19000"}

// ScaleConfig is the scale sweep beside gws and gorilla: 3 runs, 3 s
// windows; about 5 minutes on 2 cores.
func ScaleConfig() Config {
	c := DefaultConfig()
	c.Libs = []string{"ours", "gws", "gorilla"}
	c.Workloads = append([]string(nil), ScaleWorkloads...)
	c.Duration = 3 * time.Second
	return c
}

// sizedWorkloads are the workloads that take a size suffix.
var sizedWorkloads = map[string]bool{Idle: true, Broadcast: true}

// parseWorkload splits a workload name into the workload and its size (0:
// the Config's).
func parseWorkload(name string) (base string, size int, err error) {
	base, s, sized := strings.Cut(name, ":")
	if workloadFuncs[base] == nil {
		return "", 0, fmt.Errorf("loadgen: unknown workload %q (want some of %v)", name, Workloads)
	}
	if !sized {
		return base, 0, nil
	}
	if !sizedWorkloads[base] {
		return "", 0, fmt.Errorf("loadgen: workload %q takes no size", base)
	}
	size, err = strconv.Atoi(s)
	if err != nil || size < 1 {
		return "", 0, fmt.Errorf("loadgen: workload %q: size %q is not a positive count", name, s)
	}
	return base, size, nil
}

// workloadBase is parseWorkload's base name, or name when it does not
// parse.
func workloadBase(name string) string {
	if b, _, err := parseWorkload(name); err == nil {
		return b
	}
	return name
}

// workloadLabel is how the table names a workload.
func workloadLabel(name string) string {
	base, size, err := parseWorkload(name)
	if err != nil || size == 0 {
		return name
	}
	switch base {
	case Broadcast:
		return fmt.Sprintf("broadcast, %s members", thousands(int64(size)))
	case Idle:
		return fmt.Sprintf("idle, %s conns", thousands(int64(size)))
	}
	return name
}

// count is the workload's size: its own when the name gave one, else def.
func (e *env) count(def int) int {
	if e.size > 0 {
		return e.size
	}
	return def
}
