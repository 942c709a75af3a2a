package loadgen

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Workload names, in the order the table shows them.
const (
	EchoSmall     = "echo-small"
	EchoPipelined = "echo-pipelined"
	EchoLarge     = "echo-large"
	Idle          = "idle"
	Broadcast     = "broadcast"
)

// Workloads lists every workload.
var Workloads = []string{EchoSmall, EchoPipelined, EchoLarge, Idle, Broadcast}

// Metric keys a workload reports. CPU is the server's CPU time (user +
// system) over the measured window.
const (
	mRate         = "rate"        // operations per second (round trips, messages, deliveries, handshakes)
	mMiBps        = "MiB/s"       // echoed payload per second
	mP50          = "p50"         // microseconds
	mP99          = "p99"         // microseconds
	mCPU          = "cpu"         // seconds
	mCPUPerOp     = "cpu/op"      // microseconds of server CPU per operation
	mRSSPerConn   = "rss/conn"    // KiB
	mHandshakes   = "handshake/s" // handshakes per second
	mGenCPU       = "gen-cpu"     // seconds of the load generator's own CPU (progress log only)
	mWritesPerOp  = "writes/op"   // the server's write system calls per operation
	mHeapPerConn  = "heap/conn"   // KiB of in-use heap
	mStackPerConn = "stack/conn"  // KiB of goroutine stacks
	mCPUSettled   = "cpu/op+gc"   // idle: server CPU per handshake until IdleSettle after the last (the collections they caused included)
)

// measurement is one workload's metrics from one server run.
type measurement map[string]float64

// env is what a workload gets: the configuration, the server under test,
// and a place to put cleanup that must wait until the server has stopped.
type env struct {
	cfg     *Config
	srv     *serverProc
	cleanup []func()
	genCPU  time.Duration // the generator's CPU time in the last window
	size    int           // the workload's size from its name (0: the Config's)
	writes  int64         // the server's write system calls in the last window (-1: unknown)
	// profPath, when set, is where the measured window's CPU profile goes.
	profPath string
}

// windowProfile starts a CPU profile of the server over the measured
// window when e.profPath is set, and returns a function that waits for it
// and saves it.
func (e *env) windowProfile() func() error {
	if e.profPath == "" {
		return func() error { return nil }
	}
	secs := max(1, int(e.cfg.Duration.Round(time.Second)/time.Second))
	type answer struct {
		body string
		err  error
	}
	done := make(chan answer, 1)
	go func() {
		body, err := e.srv.get(fmt.Sprintf("/debug/pprof/profile?seconds=%d", secs))
		done <- answer{body, err}
	}()
	return func() error {
		a := <-done
		if a.err != nil {
			return fmt.Errorf("loadgen: window profile: %w", a.err)
		}
		return os.WriteFile(e.profPath, []byte(a.body), 0o644)
	}
}

// deferClose closes cs once the server has been stopped (closing the
// server first puts TIME_WAIT on its side, away from the client's ports).
func (e *env) deferClose(cs []*client) {
	e.cleanup = append(e.cleanup, func() {
		for _, c := range cs {
			if c != nil {
				_ = c.close()
			}
		}
	})
}

// sourceIP spreads client connections over 127.0.0.2-127.0.0.251, a
// thousand per address, moving on across workloads, so that tens of
// thousands of connections neither exhaust one address's ephemeral ports
// nor collide with the TIME_WAIT of the previous run.
var srcBlock atomic.Uint32

const connsPerSource = 1000

// sourceIPs reserves source addresses for n connections and returns the
// address of connection i.
func sourceIPs(n int) func(i int) net.IP {
	blocks := uint32((n + connsPerSource - 1) / connsPerSource)
	base := srcBlock.Add(blocks) - blocks
	return func(i int) net.IP {
		b := (base + uint32(i/connsPerSource)) % 250
		return net.IPv4(127, 0, 0, byte(2+b))
	}
}

// dialMany opens n connections to path with up to workers handshakes in
// flight, each from its source address, and returns them.
func (e *env) dialMany(ctx context.Context, n, workers int, path string, bufSize int) ([]*client, error) {
	ip := sourceIPs(n)
	cs := make([]*client, n)
	var next atomic.Int64
	var firstErr error
	var mu sync.Mutex
	var wg sync.WaitGroup
	ctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	for range min(workers, n) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1) - 1)
				if i >= n || ctx.Err() != nil {
					return
				}
				c, err := dial(ctx, e.srv.addr, ip(i), path, bufSize)
				if err != nil {
					mu.Lock()
					if firstErr == nil {
						firstErr = fmt.Errorf("loadgen: connection %d of %d to %s: %w", i, n, path, err)
					}
					mu.Unlock()
					cancel()
					return
				}
				cs[i] = c
			}
		}()
	}
	wg.Wait()
	e.deferClose(cs)
	if firstErr != nil {
		return nil, firstErr
	}
	return cs, nil
}

// window runs the timing of a workload whose clients are already running:
// warm-up, then the measured window during which measuring is true, then
// stop. It returns the window's length and the server's CPU time in it,
// and records the generator's own CPU time in it as e.genCPU.
func (e *env) window(ctx context.Context, measuring, stop *atomic.Bool) (time.Duration, time.Duration, error) {
	defer stop.Store(true)
	if err := sleepCtx(ctx, e.cfg.Warmup); err != nil {
		return 0, 0, err
	}
	cpu0, err := e.srv.cpu()
	if err != nil {
		return 0, 0, err
	}
	self0, _ := procCPU(os.Getpid())
	w0, werr0 := procWrites(e.srv.pid)
	prof := e.windowProfile()
	t0 := time.Now()
	measuring.Store(true)
	err = sleepCtx(ctx, e.cfg.Duration)
	measuring.Store(false)
	if perr := prof(); err == nil {
		err = perr
	}
	elapsed := time.Since(t0)
	cpu1, err2 := e.srv.cpu()
	self1, _ := procCPU(os.Getpid())
	e.genCPU = self1 - self0
	e.writes = -1
	if w1, werr1 := procWrites(e.srv.pid); werr0 == nil && werr1 == nil {
		e.writes = w1 - w0
	}
	if err == nil {
		err = err2
	}
	return elapsed, cpu1 - cpu0, err
}

func sleepCtx(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func randomPayload(n int) []byte {
	p := make([]byte, n)
	_, _ = rand.Read(p)
	return p
}

// clientDeadline bounds every client read and write of a timed workload.
func (e *env) clientDeadline() time.Time {
	return time.Now().Add(e.cfg.Warmup + e.cfg.Duration + 30*time.Second)
}

// firstError collects the first error of many goroutines.
type firstError struct {
	mu  sync.Mutex
	err error
}

func (f *firstError) set(err error) {
	f.mu.Lock()
	if f.err == nil {
		f.err = err
	}
	f.mu.Unlock()
}

func (f *firstError) get() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.err
}

// echoSmall: one connection, strict request/response of small binary
// messages: round trips per second and their latency.
func echoSmall(ctx context.Context, e *env) (measurement, error) {
	cs, err := e.dialMany(ctx, 1, 1, "/echo", 4096)
	if err != nil {
		return nil, err
	}
	c := cs[0]
	_ = c.nc.SetDeadline(e.clientDeadline())
	payload := randomPayload(e.cfg.SmallSize)
	frame := maskedFrame(0x2, payload, randomKey())

	var measuring, stop atomic.Bool
	type result struct {
		lat []time.Duration
		err error
	}
	done := make(chan result, 1)
	go func() {
		lat := make([]time.Duration, 0, 1<<18)
		for !stop.Load() && len(lat) < e.cfg.MaxOps {
			t := time.Now()
			if _, err := c.nc.Write(frame); err != nil {
				done <- result{err: err}
				return
			}
			n, err := c.readMessages(payload, true)
			if err == nil && n != 1 {
				err = fmt.Errorf("%w: %d replies to one message", ErrBadFrame, n)
			}
			if err != nil {
				done <- result{err: err}
				return
			}
			if measuring.Load() {
				lat = append(lat, time.Since(t))
			}
		}
		done <- result{lat: lat}
	}()
	elapsed, cpu, werr := e.window(ctx, &measuring, &stop)
	r := <-done
	if r.err != nil {
		return nil, r.err
	}
	if werr != nil {
		return nil, werr
	}
	n := len(r.lat)
	if n == 0 {
		return nil, errors.New("loadgen: no round trip completed in the window")
	}
	slices.Sort(r.lat)
	return measurement{
		mRate:     float64(n) / elapsed.Seconds(),
		mP50:      us(r.lat[n/2]),
		mP99:      us(r.lat[min(n-1, n*99/100)]),
		mCPU:      cpu.Seconds(),
		mCPUPerOp: us(cpu) / float64(n),
	}, nil
}

func us(d time.Duration) float64 { return float64(d) / float64(time.Microsecond) }

// echoPipelined: PipeConns connections, each keeping PipeDepth messages of
// PipeSize bytes in flight: messages per second. A connection re-sends as
// many messages as each read brought back, in one write.
func echoPipelined(ctx context.Context, e *env) (measurement, error) {
	cs, err := e.dialMany(ctx, e.cfg.PipeConns, 8, "/echo", 64<<10)
	if err != nil {
		return nil, err
	}
	var measuring, stop atomic.Bool
	var fe firstError
	counts := make([]paddedCount, len(cs))
	var wg sync.WaitGroup
	for i, c := range cs {
		_ = c.nc.SetDeadline(e.clientDeadline())
		payload := randomPayload(e.cfg.PipeSize)
		frame := maskedFrame(0x2, payload, randomKey())
		batch := bytes.Repeat(frame, e.cfg.PipeDepth)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.nc.Write(batch); err != nil {
				fe.set(err)
				return
			}
			total := 0
			for !stop.Load() && total < e.cfg.MaxOps {
				n, err := c.readMessages(payload, true)
				if err != nil {
					if !stop.Load() {
						fe.set(err)
					}
					return
				}
				total += n
				if measuring.Load() {
					counts[i].n += int64(n)
				}
				if _, err := c.nc.Write(batch[:n*len(frame)]); err != nil {
					if !stop.Load() {
						fe.set(err)
					}
					return
				}
			}
		}()
	}
	elapsed, cpu, werr := e.window(ctx, &measuring, &stop)
	// Unblock readers waiting on replies that will not come.
	for _, c := range cs {
		_ = c.nc.SetReadDeadline(time.Now())
	}
	wg.Wait()
	if err := fe.get(); err != nil {
		return nil, err
	}
	if werr != nil {
		return nil, werr
	}
	var n int64
	for i := range counts {
		n += counts[i].n
	}
	if n == 0 {
		return nil, errors.New("loadgen: no message echoed in the window")
	}
	return measurement{
		mRate:     float64(n) / elapsed.Seconds(),
		mCPU:      cpu.Seconds(),
		mCPUPerOp: us(cpu) / float64(n),
	}, nil
}

// paddedCount keeps per-goroutine counters on separate cache lines.
type paddedCount struct {
	n int64
	_ [56]byte
}

// echoLarge: one connection, strict request/response of LargeSize binary
// messages: echoed MiB per second.
func echoLarge(ctx context.Context, e *env) (measurement, error) {
	cs, err := e.dialMany(ctx, 1, 1, "/echo", 256<<10)
	if err != nil {
		return nil, err
	}
	c := cs[0]
	_ = c.nc.SetDeadline(e.clientDeadline())
	payload := randomPayload(e.cfg.LargeSize)
	frame := maskedFrame(0x2, payload, randomKey())
	var measuring, stop atomic.Bool
	type result struct {
		n   int
		err error
	}
	done := make(chan result, 1)
	go func() {
		n, total := 0, 0
		for !stop.Load() && total < e.cfg.MaxOps {
			if _, err := c.nc.Write(frame); err != nil {
				done <- result{err: err}
				return
			}
			if err := c.readLarge(payload); err != nil {
				done <- result{err: err}
				return
			}
			total++
			if measuring.Load() {
				n++
			}
		}
		done <- result{n: n}
	}()
	elapsed, cpu, werr := e.window(ctx, &measuring, &stop)
	r := <-done
	if r.err != nil {
		return nil, r.err
	}
	if werr != nil {
		return nil, werr
	}
	if r.n == 0 {
		return nil, errors.New("loadgen: no large message echoed in the window (raise -duration)")
	}
	mib := float64(r.n) * float64(e.cfg.LargeSize) / (1 << 20)
	return measurement{
		mMiBps:    mib / elapsed.Seconds(),
		mCPU:      cpu.Seconds(),
		mCPUPerOp: us(cpu) / mib, // per MiB echoed
	}, nil
}

// idle: IdleConns connections that send nothing: the server's RSS per
// connection after a GC, and the handshake rate while they were opened.
func idle(ctx context.Context, e *env) (measurement, error) {
	r, err := e.idleRun(ctx, func() (int, error) {
		cs, err := e.dialMany(ctx, e.count(e.cfg.IdleConns), e.cfg.IdleDialers, "/echo", 0)
		return len(cs), err
	})
	if err != nil {
		return nil, err
	}
	m := r.measurement()
	m[mHeapPerConn] = float64(r.heap1-r.heap0) / float64(r.n) / 1024
	m[mStackPerConn] = float64(r.stack1-r.stack0) / float64(r.n) / 1024
	return m, nil
}

// idleResult is what idleRun measured around opening n connections.
type idleResult struct {
	n                            int
	elapsed                      time.Duration // opening them
	cpu, cpuSettled              time.Duration // while opening them; until settled after
	rss0, rss1                   int64         // settled, before and after
	heap0, heap1, stack0, stack1 int64         // the server's heap and stacks, before and after
}

// idleRun measures the server around dial, which opens connections (that
// stay open) and returns how many: its settled RSS, heap and stacks
// before and after, the time and the server CPU the opening took, and the
// CPU until the server was quiet for IdleSettle after the last one (the
// collections their garbage caused included, the forced one before the
// second RSS reading not).
func (e *env) idleRun(ctx context.Context, dial func() (int, error)) (idleResult, error) {
	var r idleResult
	var err error
	if r.rss0, err = e.srv.settledRSS(); err != nil {
		return r, err
	}
	if r.heap0, r.stack0, err = e.srv.mem(); err != nil {
		return r, err
	}
	cpu0, err := e.srv.cpu()
	if err != nil {
		return r, err
	}
	t0 := time.Now()
	if r.n, err = dial(); err != nil {
		return r, err
	}
	r.elapsed = time.Since(t0)
	cpu1, err := e.srv.cpu()
	if err != nil {
		return r, err
	}
	if err := e.srv.waitCounts(int64(r.n), 0, 30*time.Second); err != nil {
		return r, err
	}
	if err := sleepCtx(ctx, e.cfg.IdleSettle); err != nil {
		return r, err
	}
	cpu2, err := e.srv.cpu()
	if err != nil {
		return r, err
	}
	if r.rss1, err = e.srv.settledRSS(); err != nil {
		return r, err
	}
	if r.heap1, r.stack1, err = e.srv.mem(); err != nil {
		return r, err
	}
	r.cpu, r.cpuSettled = cpu1-cpu0, cpu2-cpu0
	return r, nil
}

// measurement is the metrics every idle workload reports.
func (r idleResult) measurement() measurement {
	return measurement{
		mRSSPerConn: float64(r.rss1-r.rss0) / float64(r.n) / 1024,
		mHandshakes: float64(r.n) / r.elapsed.Seconds(),
		mCPU:        r.cpu.Seconds(),
		mCPUPerOp:   us(r.cpu) / float64(r.n), // per handshake
		mCPUSettled: us(r.cpuSettled) / float64(r.n),
	}
}

// broadcast: BcastMembers connections receive every message a control
// connection sends, broadcast by the server; BcastInFlight broadcasts are
// kept outstanding: deliveries per second.
func broadcast(ctx context.Context, e *env) (measurement, error) {
	m := e.count(e.cfg.BcastMembers)
	members, err := e.dialMany(ctx, m, 16, "/bcast", 16<<10)
	if err != nil {
		return nil, err
	}
	if err := e.srv.waitCounts(int64(m), int64(m), 30*time.Second); err != nil {
		return nil, err
	}
	ctls, err := e.dialMany(ctx, 1, 1, "/ctl", 4096)
	if err != nil {
		return nil, err
	}
	ctl := ctls[0]
	_ = ctl.nc.SetDeadline(e.clientDeadline())
	payload := randomPayload(e.cfg.BcastSize)
	trigger := maskedFrame(0x2, payload, randomKey())

	t := newBcastTracker(m, e.cfg.BcastInFlight)
	got := make([]paddedCount, len(members)) // deliveries in the window, per member
	var fe firstError
	var wg sync.WaitGroup
	for i, c := range members {
		_ = c.nc.SetDeadline(e.clientDeadline())
		wg.Add(1)
		go func() {
			defer wg.Done()
			seq := 0
			for {
				n, err := c.readMessages(payload, true)
				if err != nil {
					if !t.stop.Load() {
						fe.set(err)
					}
					return
				}
				if t.measuring.Load() {
					got[i].n += int64(n)
				}
				t.received(n, &seq)
			}
		}()
	}
	_, elapsed, cpu, derr, werr := t.drive(ctx, e, func(int) error {
		_, err := ctl.nc.Write(trigger)
		return err
	})
	for _, c := range members {
		_ = c.nc.SetReadDeadline(time.Now())
	}
	wg.Wait()
	if derr != nil {
		return nil, derr
	}
	if err := fe.get(); err != nil {
		return nil, err
	}
	if werr != nil {
		return nil, werr
	}
	// Deliveries are counted as the members read them, so a window shorter
	// than a broadcast still measures.
	var delivered int64
	for i := range got {
		delivered += got[i].n
	}
	deliveries := float64(delivered)
	if deliveries == 0 {
		return nil, errors.New("loadgen: no message delivered in the window")
	}
	res := measurement{
		mRate:     deliveries / elapsed.Seconds(),
		mCPU:      cpu.Seconds(),
		mCPUPerOp: us(cpu) / deliveries,
	}
	if e.writes >= 0 {
		res[mWritesPerOp] = float64(e.writes) / deliveries
	}
	return res, nil
}

type paddedCount32 struct {
	n atomic.Int32
	_ [60]byte
}

// bcastTracker runs a broadcast workload's control side: broadcast number
// s is complete when slots[s % W] reaches m (every member counts the
// messages it receives, in order), and the next broadcast that uses the
// slot is only triggered after the slot was reset.
type bcastTracker struct {
	m, w            int
	slots           []paddedCount32
	complete        chan struct{}
	measuring, stop atomic.Bool
}

func newBcastTracker(m, w int) *bcastTracker {
	return &bcastTracker{m: m, w: w, slots: make([]paddedCount32, w), complete: make(chan struct{}, w)}
}

// received records that a member received n more messages; *seq is the
// member's count of messages so far.
func (t *bcastTracker) received(n int, seq *int) {
	for range n {
		s := &t.slots[*seq%t.w].n
		if s.Add(1) == int32(t.m) {
			s.Store(0)
			t.complete <- struct{}{}
		}
		*seq++
	}
}

// drive keeps W broadcasts in flight, triggering broadcast k with send(k),
// through the measured window (e.window), and returns the broadcasts
// completed in it, the window's length and the server's CPU in it, the
// driver's error (a failed send, or a broadcast that did not reach every
// member in 10 s) and the window's.
func (t *bcastTracker) drive(ctx context.Context, e *env, send func(k int) error) (n int, elapsed, cpu time.Duration, driveErr, windowErr error) {
	type result struct {
		n   int
		err error
	}
	done := make(chan result, 1)
	go func() {
		inflight, n, sent := 0, 0, 0
		stall := time.NewTimer(time.Hour)
		defer stall.Stop()
		for !t.stop.Load() && n*t.m < e.cfg.MaxOps {
			for inflight < t.w {
				if err := send(sent); err != nil {
					done <- result{err: err}
					return
				}
				sent++
				inflight++
			}
			stall.Reset(10 * time.Second)
			select {
			case <-t.complete:
				inflight--
				if t.measuring.Load() {
					n++
				}
			case <-stall.C:
				counts := make([]int32, t.w)
				for i := range t.slots {
					counts[i] = t.slots[i].n.Load()
				}
				done <- result{err: fmt.Errorf("loadgen: a broadcast did not reach all %d members in 10 s (deliveries counted per in-flight slot: %v)", t.m, counts)}
				return
			}
		}
		done <- result{n: n}
	}()
	elapsed, cpu, windowErr = e.window(ctx, &t.measuring, &t.stop)
	r := <-done
	return r.n, elapsed, cpu, r.err, windowErr
}

var workloadFuncs = map[string]func(context.Context, *env) (measurement, error){
	EchoSmall:     echoSmall,
	EchoPipelined: echoPipelined,
	EchoLarge:     echoLarge,
	Idle:          idle,
	Broadcast:     broadcast,
}
