// Package servers holds one small WebSocket server per library under
// comparison (this module's library, gorilla/websocket, coder/websocket,
// lxzan/gws and gobwas/ws), each written the way its library's own
// documentation and examples write one, behind a common process harness.
//
// Every server speaks the same three endpoints, so one load generator
// drives them all:
//
//	/echo   echo each data message back, same type, same payload
//	/bcast  a broadcast member: the server only reads from it (to answer
//	        control frames) and writes it the broadcasts
//	/ctl    a control connection: each data message it sends is broadcast
//	        to every /bcast member
//
// and two plain HTTP endpoints for the harness:
//
//	/stats  "conns=N members=M": open WebSocket connections, /bcast members
//	/debug/pprof/profile  a CPU profile of the next ?seconds=N (net/http/pprof)
//	/mem    "heap=H stack=S": runtime.MemStats HeapInuse and StackInuse
//	/gc     runs runtime.GC and debug.FreeOSMemory, so that the process's
//	        RSS reflects live memory; answers "ok"
//
// Main runs one server in the current process: it listens on a loopback
// address, prints "ADDR host:port" on its first line of standard output,
// and serves until SIGTERM or SIGINT (or, with -exit-on-eof, until its
// standard input closes), writing its CPU and heap profiles on the way out
// when asked to.
package servers

import (
	"flag"
	"fmt"
	"io"
	"net"
	"net/http"
	pprofhttp "net/http/pprof"
	"os"
	"os/signal"
	"runtime"
	"runtime/debug"
	"runtime/pprof"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
)

// Libraries lists the library names Main accepts for -lib, this module's
// own library first and the reference, gorilla, second.
var Libraries = []string{"ours", "gorilla", "coder", "gws", "gobwas"}

// ChildEnv is the environment variable that, set to "1", makes a binary
// that embeds the servers (the load generator, or a test binary) run Main
// with its arguments instead of its usual work. See MaybeRunChild.
const ChildEnv = "WSBENCH_SERVER"

// MaxMessage is the largest message every server accepts: the echo-large
// workload sends 1 MiB messages.
const MaxMessage = 4 << 20

// state is what the common harness and a library's server share.
type state struct {
	conns   atomic.Int64 // open WebSocket connections
	members atomic.Int64 // of which /bcast members
}

// builders make each library's handler for the three WebSocket endpoints.
var builders = map[string]func(st *state) http.Handler{
	"ours":    newOurs,
	"gorilla": newGorilla,
	"coder":   newCoder,
	"gws":     newGWS,
	"gobwas":  newGobwas,
}

// MaybeRunChild runs Main with the process's arguments and exits when the
// ChildEnv variable is "1"; otherwise it returns at once. A program that
// starts its servers by executing itself calls it first thing in main (or
// TestMain).
func MaybeRunChild() {
	if os.Getenv(ChildEnv) != "1" {
		return
	}
	if err := Main(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "wsserver:", err)
		os.Exit(1)
	}
	os.Exit(0)
}

// Main parses args, runs the chosen library's server until it is told to
// stop, and returns. It writes "ADDR host:port\n" to out once listening.
func Main(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("wsserver", flag.ContinueOnError)
	lib := fs.String("lib", "ours", "library: "+fmt.Sprint(Libraries))
	addr := fs.String("addr", "127.0.0.1:0", "listen address")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to `file`")
	memprofile := fs.String("memprofile", "", "write a heap profile to `file` at exit")
	exitOnEOF := fs.Bool("exit-on-eof", false, "exit when standard input closes (for a parent process)")
	serveMode := fs.String("serve", "http", "ours only: http (an http.Server with websocket.Handler), upgradeserver (a websocket.UpgradeServer on the listener, the other endpoints through its Fallback) or upgrades (an UpgradeServer with the http mux, websocket.Handler's routes included, as Upgrades and Fallback)")
	fs.BoolVar(&deflateOn, "deflate", false, "accept permessage-deflate offers (with context takeover where the library has it)")
	fs.StringVar(&oursBroadcast, "broadcast", "hub", "ours only: broadcast through a websocket.Hub, the messages read so far in one call (hub) or one call per message (hub-each), or a WritePreparedMessage loop (loop)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if oursBroadcast != "hub" && oursBroadcast != "hub-each" && oursBroadcast != "loop" {
		return fmt.Errorf("-broadcast %q: want hub, hub-each or loop", oursBroadcast)
	}
	build, ok := builders[*lib]
	if !ok {
		return fmt.Errorf("unknown -lib %q (want one of %v)", *lib, Libraries)
	}
	if err := RaiseFileLimit(); err != nil {
		return err
	}
	st := &state{}
	mux := http.NewServeMux()
	if *serveMode == "http" || *serveMode == "upgrades" {
		// (With -serve upgradeserver the UpgradeServer serves these.)
		ws := build(st)
		mux.Handle("/echo", ws)
		mux.Handle("/bcast", ws)
		mux.Handle("/ctl", ws)
	}
	mux.HandleFunc("/stats", func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "conns=%d members=%d\n", st.conns.Load(), st.members.Load())
	})
	// CPU profiles of a chosen window (the load generator's measured one).
	mux.HandleFunc("/debug/pprof/profile", pprofhttp.Profile)
	mux.HandleFunc("/mem", func(w http.ResponseWriter, r *http.Request) {
		var ms runtime.MemStats
		runtime.ReadMemStats(&ms)
		fmt.Fprintf(w, "heap=%d stack=%d\n", ms.HeapInuse, ms.StackInuse)
	})
	mux.HandleFunc("/gc", func(w http.ResponseWriter, r *http.Request) {
		runtime.GC()
		debug.FreeOSMemory()
		fmt.Fprintln(w, "ok")
	})

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	srv := &http.Server{Handler: mux}
	errc := make(chan error, 1)
	switch {
	case *serveMode == "upgradeserver" && *lib == "ours":
		us := oursUpgradeServer(st, mux)
		go func() { errc <- us.Serve(ln) }()
	case *serveMode == "upgrades" && *lib == "ours":
		us := oursUpgrades(mux)
		go func() { errc <- us.Serve(ln) }()
	case *serveMode == "http":
		go func() { errc <- srv.Serve(ln) }()
	default:
		return fmt.Errorf("-serve %q: want http, or upgradeserver or upgrades with -lib ours", *serveMode)
	}
	if _, err := fmt.Fprintf(out, "ADDR %s\n", ln.Addr()); err != nil {
		return err
	}

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(stop)
	eof := make(chan struct{})
	if *exitOnEOF {
		go func() {
			_, _ = io.Copy(io.Discard, os.Stdin)
			close(eof)
		}()
	}
	select {
	case <-stop:
	case <-eof:
	case err := <-errc:
		return err
	}
	if *memprofile != "" {
		runtime.GC()
		f, err := os.Create(*memprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.Lookup("heap").WriteTo(f, 0); err != nil {
			return err
		}
	}
	// No graceful shutdown: hijacked connections are not the server's to
	// wait for, and the harness measures nothing past this point.
	_ = ln.Close()
	return nil
}

// RaiseFileLimit raises the soft RLIMIT_NOFILE to the hard limit, as every
// server holding thousands of connections must.
func RaiseFileLimit() error {
	var rl syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
		return fmt.Errorf("getrlimit: %w", err)
	}
	if rl.Cur < rl.Max {
		rl.Cur = rl.Max
		if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &rl); err != nil {
			return fmt.Errorf("setrlimit: %w", err)
		}
	}
	return nil
}

// registry is a set of broadcast members with a cached snapshot, so a
// broadcast iterates a slice without holding the lock.
type registry[T comparable] struct {
	mu    sync.Mutex
	set   map[T]struct{}
	snap  []T
	dirty bool
	st    *state
}

func newRegistry[T comparable](st *state) *registry[T] {
	return &registry[T]{set: make(map[T]struct{}), st: st}
}

func (r *registry[T]) add(v T) {
	r.mu.Lock()
	r.set[v] = struct{}{}
	r.dirty = true
	r.mu.Unlock()
	r.st.members.Add(1)
}

func (r *registry[T]) remove(v T) {
	r.mu.Lock()
	if _, ok := r.set[v]; ok {
		delete(r.set, v)
		r.dirty = true
		r.st.members.Add(-1)
	}
	r.mu.Unlock()
}

// members returns the current members; the slice must not be modified.
func (r *registry[T]) members() []T {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.dirty {
		r.snap = r.snap[:0]
		for v := range r.set {
			r.snap = append(r.snap, v)
		}
		r.snap = slices.Clip(r.snap)
		r.dirty = false
	}
	return r.snap
}

// endpoint tells which of the three WebSocket endpoints a request is for.
type endpoint int

const (
	epEcho endpoint = iota
	epMember
	epControl
)

func endpointOf(r *http.Request) endpoint {
	switch r.URL.Path {
	case "/bcast":
		return epMember
	case "/ctl":
		return epControl
	}
	return epEcho
}

// ParseMem parses the body of /mem.
func ParseMem(body string) (heap, stack int64, err error) {
	if _, err = fmt.Sscanf(body, "heap=%d stack=%d", &heap, &stack); err != nil {
		return 0, 0, fmt.Errorf("parse /mem answer %q: %w", body, err)
	}
	return heap, stack, nil
}

// ParseStats parses the body of /stats.
func ParseStats(body string) (conns, members int64, err error) {
	if _, err = fmt.Sscanf(body, "conns=%d members=%d", &conns, &members); err != nil {
		return 0, 0, fmt.Errorf("parse /stats answer %q: %w", body, err)
	}
	return conns, members, nil
}
