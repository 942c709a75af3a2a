package loadgen

import (
	"fmt"
	"os"
	"runtime"
	"strconv"
	"strings"
)

// metricDef says how the table shows one metric.
type metricDef struct {
	key    string
	label  string
	format func(float64) string
}

func fmtInt(v float64) string { return thousands(int64(v + 0.5)) }
func fmtDec(places int) func(float64) string {
	return func(v float64) string { return strconv.FormatFloat(v, 'f', places, 64) }
}

// thousands formats n with comma separators.
func thousands(n int64) string {
	s := strconv.FormatInt(n, 10)
	neg := strings.HasPrefix(s, "-")
	s = strings.TrimPrefix(s, "-")
	var b strings.Builder
	for i, r := range s {
		if i > 0 && (len(s)-i)%3 == 0 {
			b.WriteByte(',')
		}
		b.WriteRune(r)
	}
	if neg {
		return "-" + b.String()
	}
	return b.String()
}

// metricDefs lists, per workload, the rows of the table.
var metricDefs = map[string][]metricDef{
	EchoSmall: {
		{mRate, "round trips/s", fmtInt},
		{mP50, "p50 latency (µs)", fmtDec(1)},
		{mP99, "p99 latency (µs)", fmtDec(1)},
		{mCPUPerOp, "server CPU µs / round trip", fmtDec(2)},
		{mCPU, "server CPU s", fmtDec(2)},
	},
	EchoPipelined: {
		{mRate, "messages/s", fmtInt},
		{mCPUPerOp, "server CPU µs / message", fmtDec(2)},
		{mCPU, "server CPU s", fmtDec(2)},
	},
	EchoLarge: {
		{mMiBps, "MiB/s echoed", fmtDec(0)},
		{mCPUPerOp, "server CPU µs / MiB", fmtInt},
		{mCPU, "server CPU s", fmtDec(2)},
	},
	Idle: {
		{mRSSPerConn, "server RSS KiB / conn", fmtDec(1)},
		{mHandshakes, "handshakes/s", fmtInt},
		{mCPUPerOp, "server CPU µs / handshake", fmtDec(1)},
		{mCPUSettled, "server CPU µs / handshake, settled", fmtDec(1)},
		{mCPU, "server CPU s (handshakes)", fmtDec(2)},
	},
	Broadcast: {
		{mRate, "deliveries/s", fmtInt},
		{mCPUPerOp, "server CPU µs / delivery", fmtDec(3)},
		{mWritesPerOp, "server write syscalls / delivery", fmtDec(3)},
		{mCPU, "server CPU s", fmtDec(2)},
	},
}

// extraDefs are rows shown after a workload's metricDefs that variants
// of it (which copy its metricDefs) need not report.
var extraDefs = map[string][]metricDef{
	Idle: {
		{mHeapPerConn, "of which heap KiB / conn", fmtDec(2)},
		{mStackPerConn, "of which goroutine stacks KiB / conn", fmtDec(2)},
	},
}

// rowsFor returns the table rows of workload w (a name with or without a
// size).
func rowsFor(w string) []metricDef {
	base := workloadBase(w)
	defs := metricDefs[base]
	x := extraDefs[base]
	if len(x) == 0 || len(defs) == 0 {
		return defs
	}
	// The extra rows go right after the first (RSS, for idle).
	out := make([]metricDef, 0, len(defs)+len(x))
	out = append(out, defs[0])
	out = append(out, x...)
	return append(out, defs[1:]...)
}

// reference is the library every ratio is relative to.
const reference = "gorilla"

// cell is one library's figures for one metric across runs.
type cell struct {
	values []float64 // one per successful run
	ratios []float64 // value / reference's value in the same run
	failed int
}

// Table returns the comparison as a markdown table, one row per metric,
// one column per library: the median over runs and, in parentheses, the
// median over runs of the ratio to gorilla/websocket in the same run.
func (r *Report) Table() string {
	cfg := r.Config
	cells := map[[3]string]*cell{} // lib, workload, metric key
	ref := map[[3]string]float64{} // workload, metric key, run -> reference value
	for _, res := range r.Results {
		if res.Lib != reference || res.Err != nil {
			continue
		}
		for k, v := range res.Metrics {
			ref[[3]string{res.Workload, k, strconv.Itoa(res.Run)}] = v
		}
	}
	errs := map[[2]string]error{}
	for _, res := range r.Results {
		for _, d := range rowsFor(res.Workload) {
			key := [3]string{res.Lib, res.Workload, d.key}
			c := cells[key]
			if c == nil {
				c = &cell{}
				cells[key] = c
			}
			if res.Err != nil {
				c.failed++
				continue
			}
			v, ok := res.Metrics[d.key]
			if !ok {
				continue
			}
			c.values = append(c.values, v)
			if rv, ok := ref[[3]string{res.Workload, d.key, strconv.Itoa(res.Run)}]; ok && rv != 0 {
				c.ratios = append(c.ratios, v/rv)
			}
		}
		if res.Err != nil && errs[[2]string{res.Lib, res.Workload}] == nil {
			errs[[2]string{res.Lib, res.Workload}] = res.Err
		}
	}

	var b strings.Builder
	b.WriteString("| workload | metric |")
	for _, lib := range cfg.Libs {
		fmt.Fprintf(&b, " %s |", libLabel(lib))
	}
	b.WriteString("\n|---|---|")
	for range cfg.Libs {
		b.WriteString("--:|")
	}
	b.WriteString("\n")
	for _, w := range cfg.Workloads {
		for i, d := range rowsFor(w) {
			name := ""
			if i == 0 {
				name = workloadLabel(w)
			}
			fmt.Fprintf(&b, "| %s | %s |", name, d.label)
			for _, lib := range cfg.Libs {
				c := cells[[3]string{lib, w, d.key}]
				b.WriteString(" " + c.String(d.format) + " |")
			}
			b.WriteString("\n")
		}
	}
	if len(errs) > 0 {
		b.WriteString("\nFailed server runs (first error of each):\n")
		for _, lib := range cfg.Libs {
			for _, w := range cfg.Workloads {
				if err := errs[[2]string{lib, w}]; err != nil {
					fmt.Fprintf(&b, "- %s %s: %v\n", lib, w, err)
				}
			}
		}
	}
	return b.String()
}

func (c *cell) String(format func(float64) string) string {
	if c == nil || len(c.values) == 0 {
		if c != nil && c.failed > 0 {
			return "failed"
		}
		return "-"
	}
	s := format(median(append([]float64(nil), c.values...)))
	if len(c.ratios) > 0 {
		s += fmt.Sprintf(" (%.2fx)", median(append([]float64(nil), c.ratios...)))
	}
	if c.failed > 0 {
		s += fmt.Sprintf(" [%d failed]", c.failed)
	}
	return s
}

func libLabel(lib string) string {
	switch lib {
	case "ours":
		return "rfc6455 (ours)"
	case OursUpgradeServer:
		return "rfc6455 (ours, UpgradeServer)"
	case OursUpgradesHandler:
		return "rfc6455 (ours, Handler in UpgradeServer)"
	case "gorilla":
		return "gorilla/websocket"
	case "coder":
		return "coder/websocket"
	case "gws":
		return "lxzan/gws"
	case "gobwas":
		return "gobwas/ws"
	}
	return lib
}

// Markdown returns a heading paragraph (date, machine, settings) and the
// table.
func (r *Report) Markdown(command string) string {
	cfg := r.Config
	var b strings.Builder
	fmt.Fprintf(&b, "Measured %s on %d cores (%s), %s %s/%s, load average %s at the start and %s at the end; `%s`, %s in all.\n\n",
		r.Started.Format("2006-01-02 15:04 MST"), runtime.NumCPU(), cpuModel(), runtime.Version(),
		runtime.GOOS, runtime.GOARCH, r.LoadStart, r.LoadEnd, command, r.Elapsed.Round(1e9))
	fmt.Fprintf(&b, "Median of %d runs (fresh server process each) of %v after %v warm-up; "+
		"(N.NNx) is the median over runs of value / gorilla's value in the same run. "+
		"Echo payloads are binary; idle: %d connections; broadcast: %d B to %d members (all in one room), %d broadcasts in flight "+
		"(a row naming its size uses that size instead). "+
		"Server CPU is utime+stime of the server process over the measured window (idle: while the handshakes ran; \"settled\": until the server was quiet for the settle time after the last handshake, so including the collections their garbage caused, but not the forced one before the RSS reading).\n\n",
		cfg.Runs, cfg.Duration, cfg.Warmup, cfg.IdleConns, cfg.BcastSize, cfg.BcastMembers, cfg.BcastInFlight)
	b.WriteString(r.Table())
	return b.String()
}

func cpuModel() string {
	b, err := os.ReadFile("/proc/cpuinfo")
	if err != nil {
		return "unknown CPU"
	}
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

// loadAvg returns the 1-minute load average, a hint of how busy the
// (shared) machine was.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	if f := strings.Fields(string(b)); len(f) > 0 {
		return f[0]
	}
	return "unknown"
}
