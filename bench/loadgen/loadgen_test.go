package loadgen

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/rfc6455/websocket/bench/servers"
)

// TestMain lets the test binary double as the server binary: the harness
// starts servers by executing itself with servers.ChildEnv set.
func TestMain(m *testing.M) {
	servers.MaybeRunChild()
	os.Exit(m.Run())
}

// TestHarness runs the quick harness with tiny counts: every library on
// one workload (each workload once), and this module's library on all of
// them, and checks that every server run produced its metrics.
func TestHarness(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	base := QuickConfig()
	base.Warmup = 50 * time.Millisecond
	base.Duration = 200 * time.Millisecond
	base.IdleConns = 60
	base.IdleSettle = 50 * time.Millisecond
	base.BcastMembers = 20
	base.PipeConns = 4
	base.LargeSize = 256 << 10

	pairs := map[string][]string{
		"ours":    Workloads,
		"gorilla": {EchoSmall},
		"coder":   {EchoPipelined},
		"gws":     {Broadcast},
		"gobwas":  {EchoLarge, Idle},
		// This library behind an UpgradeServer, both ways.
		OursUpgradeServer:   {EchoSmall, Idle},
		OursUpgradesHandler: {EchoSmall, Idle},
	}
	type run struct{ lib, bcast string }
	var runs []run
	for _, lib := range servers.Libraries {
		runs = append(runs, run{lib: lib})
	}
	runs = append(runs, run{lib: OursUpgradeServer}, run{lib: OursUpgradesHandler})
	// This library's other broadcast mechanisms (the default is "hub").
	runs = append(runs, run{"ours", "hub-each"}, run{"ours", "loop"})
	for _, rn := range runs {
		lib := rn.lib
		cfg := base
		cfg.Libs = []string{lib}
		cfg.Workloads = pairs[lib]
		if rn.bcast != "" {
			cfg.Workloads = []string{Broadcast}
			cfg.OursBroadcast = rn.bcast
		}
		rep, err := Run(context.Background(), cfg)
		if err != nil {
			t.Fatalf("%s %s: %v", lib, rn.bcast, err)
		}
		for _, r := range rep.Results {
			if r.Err != nil {
				t.Errorf("%s %s: %v", r.Lib, r.Workload, r.Err)
				continue
			}
			for _, d := range metricDefs[r.Workload] {
				v, ok := r.Metrics[d.key]
				if ok && (d.key == mHeapPerConn || d.key == mStackPerConn) {
					continue // differences of runtime gauges: noise at tiny counts
				}
				if !ok || v < 0 || (d.key != mCPU && d.key != mCPUPerOp && d.key != mCPUSettled && d.key != mRSSPerConn && v == 0) {
					t.Errorf("%s %s: metric %q = %v (present %v)", r.Lib, r.Workload, d.label, v, ok)
				}
			}
		}
		table := rep.Table()
		if strings.Contains(table, "failed") {
			t.Errorf("%s: table reports failures:\n%s", lib, table)
		}
	}
}

// TestServerRejectsBadLib checks that a server with an unknown library
// fails to start and says why.
func TestServerRejectsBadLib(t *testing.T) {
	err := servers.Main([]string{"-lib", "nope"}, io.Discard)
	if err == nil || !strings.Contains(err.Error(), "unknown -lib") {
		t.Fatalf("Main(-lib nope) = %v, want an unknown -lib error", err)
	}
}

func TestAcceptKey(t *testing.T) {
	// RFC 6455 section 1.3.
	if got, want := acceptKey("dGhlIHNhbXBsZSBub25jZQ=="), "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="; got != want {
		t.Fatalf("acceptKey = %q, want %q", got, want)
	}
}

func TestCheckResponse(t *testing.T) {
	const accept = "s3pPLMBiTxaQ9kYGzzhZRbK+xOo="
	tests := []struct {
		name, head string
		ok         bool
	}{
		{"ok", "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: " + accept + "\r\n\r\n", true},
		{"header case", "HTTP/1.1 101 Switching Protocols\r\nsec-websocket-accept:" + accept + "\r\n\r\n", true},
		{"wrong status", "HTTP/1.1 400 Bad Request\r\nSec-WebSocket-Accept: " + accept + "\r\n\r\n", false},
		{"wrong accept", "HTTP/1.1 101 Switching Protocols\r\nSec-WebSocket-Accept: AAAA\r\n\r\n", false},
		{"no accept", "HTTP/1.1 101 Switching Protocols\r\n\r\n", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			called := false
			err := checkResponse(tt.head, accept, func() { called = true })
			if (err == nil) != tt.ok || called != tt.ok {
				t.Fatalf("checkResponse = %v (ok called %v), want ok %v", err, called, tt.ok)
			}
			if err != nil && !errors.Is(err, ErrHandshake) {
				t.Fatalf("error %v does not match ErrHandshake", err)
			}
		})
	}
}

func TestFrameHeader(t *testing.T) {
	type hdr struct {
		HLen int
		Op   byte
		Fin  bool
		N    int64
	}
	tests := []struct {
		name    string
		in      []byte
		want    hdr
		wantErr error
	}{
		{"short", []byte{0x82}, hdr{}, nil},
		{"7-bit", []byte{0x82, 16}, hdr{2, 2, true, 16}, nil},
		{"16-bit", []byte{0x81, 126, 0x01, 0x00}, hdr{4, 1, true, 256}, nil},
		{"16-bit short", []byte{0x81, 126, 0x01}, hdr{}, nil},
		{"64-bit", []byte{0x02, 127, 0, 0, 0, 0, 0, 0x10, 0, 0}, hdr{10, 2, false, 1 << 20}, nil},
		{"masked", []byte{0x82, 0x80 | 4}, hdr{}, ErrBadFrame},
		{"rsv", []byte{0xC2, 4}, hdr{}, ErrBadFrame},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hl, op, fin, n, err := frameHeader(tt.in)
			if !errors.Is(err, tt.wantErr) {
				t.Fatalf("err = %v, want %v", err, tt.wantErr)
			}
			if diff := cmp.Diff(tt.want, hdr{hl, op, fin, n}); diff != "" {
				t.Fatalf("frameHeader mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

func TestMaskedFrame(t *testing.T) {
	key := [4]byte{1, 2, 3, 4}
	for _, n := range []int{0, 5, 125, 126, 65535, 65536} {
		payload := bytes.Repeat([]byte{0xA5}, n)
		f := maskedFrame(0x2, payload, key)
		hl := 2
		switch {
		case n > 65535:
			hl = 10
		case n > 125:
			hl = 4
		}
		if f[0] != 0x82 || f[1]&0x80 == 0 {
			t.Fatalf("n=%d: header %x", n, f[:2])
		}
		if !bytes.Equal(f[hl:hl+4], key[:]) {
			t.Fatalf("n=%d: key at %d is %x", n, hl, f[hl:hl+4])
		}
		got := f[hl+4:]
		for i := range got {
			got[i] ^= key[i&3]
		}
		if !bytes.Equal(got, payload) {
			t.Fatalf("n=%d: unmasked payload differs", n)
		}
	}
}

// TestParseBuffered feeds a client a byte stream over a pipe, split at
// every position, and checks it counts the echoed messages.
func TestParseBuffered(t *testing.T) {
	want := []byte("0123456789abcdef")
	frame := append([]byte{0x82, byte(len(want))}, want...)
	stream := append(append(append([]byte{}, frame...), 0x89, 0), frame...) // message, ping, message
	for split := 1; split < len(stream); split++ {
		a, b := net.Pipe()
		c := &client{nc: a, buf: make([]byte, 4096)}
		go func() {
			_, _ = b.Write(stream[:split])
			_, _ = b.Write(stream[split:])
			b.Close()
		}()
		total := 0
		for total < 2 {
			n, err := c.readMessages(want, true)
			if err != nil {
				t.Fatalf("split %d: after %d messages: %v", split, total, err)
			}
			total += n
		}
		if total != 2 {
			t.Fatalf("split %d: %d messages, want 2", split, total)
		}
		a.Close()
	}
}

func TestParseBufferedErrors(t *testing.T) {
	want := []byte("abcd")
	tests := []struct {
		name    string
		in      []byte
		wantErr error
	}{
		{"close", []byte{0x88, 2, 0x03, 0xE8}, ErrServerClose},
		{"wrong payload", []byte{0x82, 4, 'a', 'b', 'c', 'x'}, ErrBadEcho},
		{"wrong length", []byte{0x82, 3, 'a', 'b', 'c'}, ErrBadEcho},
		{"fragmented", []byte{0x02, 4, 'a', 'b', 'c', 'd'}, ErrBadFrame},
		{"bad opcode", []byte{0x83, 0}, ErrBadFrame},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := &client{buf: append([]byte(nil), tt.in...)}
			c.w = len(tt.in)
			if _, err := c.parseBuffered(want, true); !errors.Is(err, tt.wantErr) {
				t.Fatalf("parseBuffered = %v, want %v", err, tt.wantErr)
			}
		})
	}
}

// TestReadLarge checks fragment reassembly against the expected payload.
func TestReadLarge(t *testing.T) {
	want := bytes.Repeat([]byte("xyz"), 100_000)
	var stream []byte
	stream = append(stream, 0x02, 126, 0x10, 0x00) // 4096 bytes, not final
	stream = append(stream, want[:4096]...)
	stream = append(stream, 0x8A, 0) // pong between fragments
	rest := len(want) - 4096
	stream = append(stream, 0x80, 127, 0, 0, 0, 0, 0, byte(rest>>16), byte(rest>>8), byte(rest))
	stream = append(stream, want[4096:]...)
	a, b := net.Pipe()
	defer a.Close()
	go func() {
		for p := stream; len(p) > 0; {
			n := min(len(p), 7777)
			_, _ = b.Write(p[:n])
			p = p[n:]
		}
		b.Close()
	}()
	c := &client{nc: a, buf: make([]byte, 1000)}
	if err := c.readLarge(want); err != nil {
		t.Fatalf("readLarge: %v", err)
	}
}

func TestProcParsers(t *testing.T) {
	stat := []byte("1234 (my (odd) name) S 1 2 3 4 5 6 7 8 9 10 250 50 0 0 20 0 1")
	cpu, err := parseStat(stat)
	if err != nil || cpu != 3*time.Second {
		t.Fatalf("parseStat = %v, %v; want 3s", cpu, err)
	}
	if _, err := parseStat([]byte("garbage")); err == nil {
		t.Fatal("parseStat(garbage) succeeded")
	}
	rss, err := parseRSS([]byte("Name:\tx\nVmRSS:\t  2048 kB\nThreads: 3\n"))
	if err != nil || rss != 2048<<10 {
		t.Fatalf("parseRSS = %v, %v; want %d", rss, err, 2048<<10)
	}
	if _, err := parseRSS([]byte("Name:\tx\n")); err == nil {
		t.Fatal("parseRSS without VmRSS succeeded")
	}
	// The live process has both.
	if _, err := procCPU(os.Getpid()); err != nil {
		t.Fatal(err)
	}
	if r, err := procRSS(os.Getpid()); err != nil || r <= 0 {
		t.Fatalf("procRSS(self) = %d, %v", r, err)
	}
}

func TestMedianAndFormat(t *testing.T) {
	tests := []struct {
		in   []float64
		want float64
	}{
		{[]float64{3}, 3},
		{[]float64{3, 1, 2}, 2},
		{[]float64{4, 1, 3, 2}, 2.5},
	}
	for _, tt := range tests {
		if got := median(tt.in); got != tt.want {
			t.Errorf("median(%v) = %v, want %v", tt.in, got, tt.want)
		}
	}
	for in, want := range map[int64]string{0: "0", 999: "999", 1000: "1,000", 1234567: "1,234,567", -12345: "-12,345"} {
		if got := thousands(in); got != want {
			t.Errorf("thousands(%d) = %q, want %q", in, got, want)
		}
	}
}

// TestTable checks medians and same-run ratios on a synthetic report.
func TestTable(t *testing.T) {
	cfg := DefaultConfig()
	cfg.Libs = []string{"ours", "gorilla"}
	cfg.Workloads = []string{EchoPipelined}
	res := func(lib string, run int, rate float64) Result {
		return Result{Lib: lib, Workload: EchoPipelined, Run: run,
			Metrics: map[string]float64{mRate: rate, mCPU: 1, mCPUPerOp: 2}}
	}
	rep := &Report{Config: cfg, Results: []Result{
		res("ours", 1, 200), res("gorilla", 1, 100), // 2.0x
		res("ours", 2, 150), res("gorilla", 2, 100), // 1.5x
		res("ours", 3, 100), res("gorilla", 3, 200), // 0.5x
		{Lib: "ours", Workload: EchoPipelined, Run: 4, Err: errors.New("boom")},
	}}
	got := rep.Table()
	for _, want := range []string{
		"| echo-pipelined | messages/s | 150 (1.50x) [1 failed] | 100 (1.00x) |",
		"- ours echo-pipelined: boom",
	} {
		if !strings.Contains(got, want) {
			t.Errorf("table lacks %q:\n%s", want, got)
		}
	}
}
