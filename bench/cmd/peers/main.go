// Command peers compares this module's WebSocket library with
// gorilla/websocket, coder/websocket, lxzan/gws and gobwas/ws on five
// workloads (see package loadgen) and prints a markdown table of medians
// with ratios to gorilla/websocket. Each server runs as a child process
// (this binary, re-executed), so its RSS and CPU time are its own.
//
//	go run ./cmd/peers               # full comparison, about 6 minutes on 2 cores
//	go run ./cmd/peers -quick        # smoke run, about a minute
//	go run ./cmd/peers -scale        # scale sweep (ours, gws, gorilla): broadcast to 1k/3k/10k members, 19k idle; about 5 minutes
//	go run ./cmd/peers -libs ours,gorilla -workloads echo-small -cpuprofile-dir /tmp/prof
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"

	"github.com/rfc6455/websocket/bench/loadgen"
	"github.com/rfc6455/websocket/bench/servers"
)

func main() {
	servers.MaybeRunChild()

	quick := flag.Bool("quick", false, "smoke run: 1 run, 1 s windows, 2,000 idle and 200 broadcast connections")
	scale := flag.Bool("scale", false, "scale sweep: broadcast to 1,000, 3,000 and 10,000 members and 19,000 idle connections, ours beside gws and gorilla (with -quick: 1 run, 1 s windows)")
	def := loadgen.DefaultConfig()
	runs := flag.Int("runs", 0, "runs per library and workload (default 3, or 1 with -quick)")
	libs := flag.String("libs", strings.Join(def.Libs, ","), "libraries to compare (and "+loadgen.OursUpgradeServer+": ours served by a websocket.UpgradeServer instead of an http.Server; "+loadgen.OursUpgradesHandler+": ours, websocket.Handler as an UpgradeServer's Upgrades)")
	workloads := flag.String("workloads", strings.Join(def.Workloads, ","), "workloads to run")
	duration := flag.Duration("duration", 0, "measured window per workload and run (default 3s, or 1s with -quick)")
	idle := flag.Int("idle-conns", 0, "idle connections (default 10000, or 2000 with -quick)")
	members := flag.Int("bcast-members", 0, "broadcast members (default 1000, or 200 with -quick)")
	profDir := flag.String("cpuprofile-dir", "", "make every server write a CPU profile into `dir`")
	winDir := flag.String("window-profile-dir", "", "save a CPU profile of every server's measured window into `dir` (not with -cpuprofile-dir)")
	memDir := flag.String("memprofile-dir", "", "make every server write a heap profile into `dir` when stopped")
	bcast := flag.String("ours-broadcast", "hub", "this library's broadcast: hub (websocket.Hub, the messages read so far in one call), hub-each (one call per message) or loop (WritePreparedMessage per member)")
	quiet := flag.Bool("q", false, "no progress lines on standard error")
	flag.Parse()

	cfg := def
	if *quick {
		cfg = loadgen.QuickConfig()
	}
	set := map[string]bool{}
	flag.Visit(func(f *flag.Flag) { set[f.Name] = true })
	if *scale {
		sc := loadgen.ScaleConfig()
		cfg.Libs, cfg.Workloads = sc.Libs, sc.Workloads
	}
	if set["libs"] || !*scale {
		cfg.Libs = split(*libs)
	}
	if set["workloads"] || !*scale {
		cfg.Workloads = split(*workloads)
	}
	if *runs > 0 {
		cfg.Runs = *runs
	}
	if *duration > 0 {
		cfg.Duration = *duration
	}
	if *idle > 0 {
		cfg.IdleConns = *idle
	}
	if *members > 0 {
		cfg.BcastMembers = *members
	}
	cfg.CPUProfileDir = *profDir
	cfg.MemProfileDir = *memDir
	cfg.WindowProfileDir = *winDir
	cfg.OursBroadcast = *bcast
	if !*quiet {
		cfg.Log = os.Stderr
	}
	for _, l := range cfg.Libs {
		if !slices.Contains(servers.Libraries, l) && !loadgen.IsOursVariant(l) {
			fatalf("unknown library %q (want some of %v, or %s, %s: ours behind a websocket.UpgradeServer)", l, servers.Libraries, loadgen.OursUpgradeServer, loadgen.OursUpgradesHandler)
		}
	}
	for _, dir := range []string{*profDir, *memDir, *winDir} {
		if dir != "" {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				fatalf("%v", err)
			}
		}
	}
	if err := servers.RaiseFileLimit(); err != nil {
		fatalf("%v", err)
	}

	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	rep, err := loadgen.Run(ctx, cfg)
	if err != nil {
		fatalf("%v", err)
	}
	fmt.Print(rep.Markdown("go run ./cmd/peers " + strings.Join(os.Args[1:], " ")))
}

func split(s string) []string {
	var out []string
	for _, f := range strings.Split(s, ",") {
		if f = strings.TrimSpace(f); f != "" {
			out = append(out, f)
		}
	}
	return out
}

func fatalf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "peers: "+format+"\n", args...)
	os.Exit(1)
}
