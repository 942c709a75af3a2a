// Package loadgen is the load generator of the library comparison: a raw
// RFC 6455 client (no WebSocket library) that drives each library's server
// (package servers, one process per server run) through five workloads and
// reports the medians, with ratios to gorilla/websocket, as a markdown
// table.
//
// Workloads, each bounded in time (Config.Warmup + Config.Duration) and in
// count (Config.MaxOps), loopback only:
//
//	echo-small      1 connection, SmallSize-byte messages, one in flight:
//	                round trips/s, p50 and p99 latency
//	echo-pipelined  PipeConns connections with PipeDepth messages of
//	                PipeSize bytes in flight each: messages/s
//	echo-large      1 connection, LargeSize-byte messages, one in flight:
//	                MiB/s echoed
//	idle            IdleConns connections from several 127.0.0.x source
//	                addresses: server RSS per connection after a GC, and
//	                handshakes/s while opening them
//	broadcast       a control connection makes the server broadcast
//	                BcastSize bytes to BcastMembers connections,
//	                BcastInFlight broadcasts outstanding: deliveries/s
//
// and for each, the server's CPU time (utime+stime from /proc) over the
// measured window, in total and per operation. Each server run is a fresh
// process, so one workload's garbage or goroutines never weigh on the next.
package loadgen

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os/exec"
	"path/filepath"
	"slices"
	"time"
)

// Config is a comparison run's settings.
type Config struct {
	Libs      []string // libraries, as servers.Libraries names, or OursUpgradeServer / OursUpgradesHandler; "gorilla" is the reference
	Workloads []string // as Workloads names
	Runs      int      // server runs per library and workload; the table shows medians

	Warmup   time.Duration // before each measured window
	Duration time.Duration // each measured window
	MaxOps   int           // upper bound on operations per workload and run

	SmallSize                      int // echo-small message size
	PipeConns, PipeDepth, PipeSize int // echo-pipelined shape
	LargeSize                      int // echo-large message size

	IdleConns   int           // idle: connections
	IdleDialers int           // idle: handshakes in flight
	IdleSettle  time.Duration // idle: wait before the second RSS reading

	BcastMembers, BcastSize, BcastInFlight int // broadcast shape

	// CPUProfileDir, when set, makes every server write a CPU profile
	// there, named LIB-WORKLOAD-runN.pprof.
	CPUProfileDir string
	// WindowProfileDir, when set, saves a CPU profile of each measured
	// window (the server's /debug/pprof/profile over the window, so
	// connection set-up is left out) there, named
	// LIB-WORKLOAD-runN.window.pprof. It cannot be combined with
	// CPUProfileDir (a process runs one CPU profile at a time).
	WindowProfileDir string
	// MemProfileDir, when set, makes every server write a heap profile
	// there when it is stopped (before the clients close: an idle run's
	// profile shows the connections' memory), named LIB-WORKLOAD-runN.heap.
	MemProfileDir string
	// OursBroadcast is this library's broadcast mechanism: "hub" (a
	// websocket.Hub, the messages read so far in one
	// BroadcastAllPreparedMessages call; the default), "hub-each" (the
	// Hub, one BroadcastAll per message) or "loop" (WritePreparedMessage
	// to each member in turn).
	OursBroadcast string

	// Command makes the command that starts a server with the given
	// arguments; nil means SelfCommand.
	Command func(args ...string) (*exec.Cmd, error)
	// Log receives progress lines; nil means none.
	Log io.Writer
}

// DefaultConfig is the full comparison: about 6 minutes on a 2-core
// machine for 5 libraries and 3 runs.
func DefaultConfig() Config {
	return Config{
		Libs:          []string{"ours", "gorilla", "coder", "gws", "gobwas"},
		Workloads:     append([]string(nil), Workloads...),
		Runs:          3,
		Warmup:        500 * time.Millisecond,
		Duration:      3 * time.Second,
		MaxOps:        50_000_000,
		SmallSize:     16,
		PipeConns:     64,
		PipeDepth:     8,
		PipeSize:      128,
		LargeSize:     1 << 20,
		IdleConns:     10_000,
		IdleDialers:   32,
		IdleSettle:    time.Second,
		BcastMembers:  1000,
		BcastSize:     1024,
		BcastInFlight: 4,
	}
}

// QuickConfig is a smoke run of about a minute: one run, short windows,
// fewer idle and broadcast connections.
func QuickConfig() Config {
	c := DefaultConfig()
	c.Runs = 1
	c.Warmup = 200 * time.Millisecond
	c.Duration = time.Second
	c.IdleConns = 2000
	c.IdleSettle = 300 * time.Millisecond
	c.BcastMembers = 200
	return c
}

// Result is one server run of one workload.
type Result struct {
	Lib, Workload string
	Run           int // from 1
	Metrics       map[string]float64
	Err           error
}

// Report is the outcome of Run.
type Report struct {
	Config  Config
	Started time.Time
	Elapsed time.Duration
	// LoadStart and LoadEnd are the machine's 1-minute load average when
	// the comparison started and ended: a shared machine's busyness.
	LoadStart, LoadEnd string
	Results            []Result
}

// Run runs every workload for every library cfg.Runs times. Within a run
// the libraries take turns workload by workload, starting with a different
// library each run, so that slow drifts of a shared machine spread over
// all of them. A failing server run is recorded in its Result and the
// comparison goes on; Run returns an error only when ctx ends.
func Run(ctx context.Context, cfg Config) (*Report, error) {
	if cfg.Command == nil {
		cfg.Command = SelfCommand
	}
	for _, w := range cfg.Workloads {
		if _, _, err := parseWorkload(w); err != nil {
			return nil, err
		}
	}
	if cfg.WindowProfileDir != "" && cfg.CPUProfileDir != "" {
		return nil, errors.New("loadgen: WindowProfileDir and CPUProfileDir exclude each other")
	}
	if cfg.Runs < 1 {
		return nil, errors.New("loadgen: Runs must be at least 1")
	}
	rep := &Report{Config: cfg, Started: time.Now(), LoadStart: loadAvg()}
	for run := 1; run <= cfg.Runs; run++ {
		for _, w := range cfg.Workloads {
			for k := range cfg.Libs {
				lib := cfg.Libs[(k+run-1)%len(cfg.Libs)]
				if err := ctx.Err(); err != nil {
					return rep, err
				}
				r := runOne(ctx, &cfg, lib, w, run)
				rep.Results = append(rep.Results, r)
				if cfg.Log != nil {
					if r.Err != nil {
						fmt.Fprintf(cfg.Log, "run %d %-14s %-8s ERROR %v\n", run, w, lib, r.Err)
					} else {
						fmt.Fprintf(cfg.Log, "run %d %-14s %-8s %s\n", run, w, lib, summary(w, r.Metrics))
					}
				}
			}
		}
	}
	rep.Elapsed = time.Since(rep.Started)
	rep.LoadEnd = loadAvg()
	return rep, nil
}

// OursUpgradeServer is a Libs entry: this library served by a
// websocket.UpgradeServer on the listener (the server's -serve
// upgradeserver) instead of an http.Server with websocket.Handler.
const OursUpgradeServer = "ours-us"

// OursUpgradesHandler is a Libs entry: this library's websocket.Handler
// (the code of "ours") served by a websocket.UpgradeServer as its
// Upgrades handler (the server's -serve upgrades).
const OursUpgradesHandler = "ours-ush"

// oursVariants are the Libs entries that run the ours server another way,
// with the -serve value that selects it.
var oursVariants = map[string]string{OursUpgradeServer: "upgradeserver", OursUpgradesHandler: "upgrades"}

// IsOursVariant reports whether lib is one of this library's other ways
// of serving (OursUpgradeServer, OursUpgradesHandler).
func IsOursVariant(lib string) bool { _, ok := oursVariants[lib]; return ok }

// runOne starts a server, runs one workload against it, stops it.
func runOne(ctx context.Context, cfg *Config, lib, workload string, run int) (res Result) {
	res = Result{Lib: lib, Workload: workload, Run: run}
	var extra []string
	if cfg.CPUProfileDir != "" {
		extra = append(extra, "-cpuprofile", filepath.Join(cfg.CPUProfileDir, fmt.Sprintf("%s-%s-run%d.pprof", lib, workload, run)))
	}
	if cfg.MemProfileDir != "" {
		extra = append(extra, "-memprofile", filepath.Join(cfg.MemProfileDir, fmt.Sprintf("%s-%s-run%d.heap", lib, workload, run)))
	}
	extra = append(extra, serverArgs(workload)...)
	serverLib := lib
	if mode, ok := oursVariants[lib]; ok {
		serverLib = "ours"
		extra = append(extra, "-serve", mode)
	}
	if serverLib == "ours" && cfg.OursBroadcast != "" {
		extra = append(extra, "-broadcast", cfg.OursBroadcast)
	}
	srv, err := startServer(ctx, cfg.Command, serverLib, extra...)
	if err != nil {
		res.Err = err
		return res
	}
	// Every workload is bounded: give up well after its nominal length.
	ctx, cancel := context.WithTimeout(ctx, cfg.Warmup+cfg.Duration+3*time.Minute)
	defer cancel()
	base, size, _ := parseWorkload(workload)
	e := &env{cfg: cfg, srv: srv, size: size}
	if cfg.WindowProfileDir != "" {
		e.profPath = filepath.Join(cfg.WindowProfileDir, fmt.Sprintf("%s-%s-run%d.window.pprof", lib, workload, run))
	}
	m, err := workloadFuncs[base](ctx, e)
	if m != nil && e.genCPU > 0 {
		m[mGenCPU] = e.genCPU.Seconds()
	}
	serr := srv.stop()
	for _, f := range e.cleanup {
		f()
	}
	if err == nil && serr != nil {
		err = serr
	}
	res.Metrics, res.Err = m, err
	return res
}

func summary(w string, m measurement) string {
	s := ""
	for _, d := range rowsFor(w) {
		if v, ok := m[d.key]; ok {
			s += fmt.Sprintf("  %s %s", d.label, d.format(v))
		}
	}
	if v, ok := m[mGenCPU]; ok {
		s += fmt.Sprintf("  (generator CPU s %.2f)", v)
	}
	return s
}

// median returns the median of vs (the mean of the middle two for an even
// count); vs is sorted in place.
func median(vs []float64) float64 {
	slices.Sort(vs)
	n := len(vs)
	if n%2 == 1 {
		return vs[n/2]
	}
	return (vs[n/2-1] + vs[n/2]) / 2
}
