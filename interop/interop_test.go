package interop

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/rfc6455/websocket"
	"github.com/rfc6455/websocket/interop/internal/testpayload"
)

// echoSizes are the message sizes every echo case covers: empty, the
// largest 7-bit length, the smallest 16-bit length, 64 KiB (the smallest
// 64-bit length) and 16 MiB.
var echoSizes = []int{0, 125, 126, 64 << 10, 16 << 20}

// smallSizes are the echo sizes of the extra parameter sets, which need
// the length classes but not another 16 MiB round trip.
var smallSizes = []int{0, 125, 126, 64 << 10}

// skipEnv names the developer opt-out. CI never sets it.
const skipEnv = "WS_INTEROP_SKIP"

const installHint = "install the test peers with `bash scripts/setup.sh` (Debian, as root; make test runs it), " +
	"or set " + skipEnv + "=1 to skip the interop tests on a developer machine (never in CI)"

// payload returns the n-byte test payload of a text or binary message,
// byte for byte what payload.js's bytes(text, n) returns (and what the wasm
// program computes: both use testpayload).
func payload(text bool, n int) []byte { return testpayload.Bytes(text, n) }

// fill pads s with "·" (2 bytes) and "." to exactly n bytes of UTF-8:
// close reasons of the largest size (123 bytes) and ping payloads of the
// largest size (125 bytes), multibyte code points included.
func fill(s string, n int) string {
	for len(s)+2 <= n {
		s += "·"
	}
	for len(s) < n {
		s += "."
	}
	return s
}

// payloadCache holds the 16 MiB payloads, which several cases share.
var payloadCache sync.Map // [2]int{text, n} -> []byte

func cachedPayload(text bool, n int) []byte {
	k := [2]int{0, n}
	if text {
		k[0] = 1
	}
	if v, ok := payloadCache.Load(k); ok {
		return v.([]byte)
	}
	p := payload(text, n)
	payloadCache.Store(k, p)
	return p
}

// checkPayload reports how p differs from the payload of its length, or "".
func checkPayload(mt websocket.MessageType, p []byte) string {
	want := cachedPayload(mt == websocket.TextMessage, len(p))
	if bytes.Equal(p, want) {
		return ""
	}
	for i := range p {
		if p[i] != want[i] {
			return fmt.Sprintf("%s message of %d bytes differs from the payload at byte %d: got %#x, want %#x",
				mt, len(p), i, p[i], want[i])
		}
	}
	return "unreachable"
}

func typeName(mt websocket.MessageType) string { return mt.String() }

// cuts returns the k-1 cut points of payload.js's cuts(n, k).
func cuts(n, k int) []int {
	out := make([]int, 0, k-1)
	prev := 0
	for j := 1; j < k; j++ {
		c := n * j * j / (k * k)
		c = max(c, prev)
		out = append(out, c)
		prev = c
	}
	return out
}

func TestPayloadIsUTF8(t *testing.T) {
	for _, n := range []int{0, 1, 2, 3, 4, 5, 125, 126, 1000, 64 << 10} {
		if p := payload(true, n); len(p) != n || !utf8.Valid(p) {
			t.Errorf("payload(text, %d): %d bytes, valid UTF-8 %v", n, len(p), utf8.Valid(p))
		}
		if p := payload(false, n); len(p) != n {
			t.Errorf("payload(binary, %d): %d bytes", n, len(p))
		}
	}
	if bytes.Equal(payload(true, 64), payload(false, 64)) {
		t.Error("text and binary payloads are equal")
	}
}

// skipIfOptedOut skips the test when the developer opted out.
func skipIfOptedOut(t *testing.T) {
	t.Helper()
	if os.Getenv(skipEnv) == "1" {
		t.Skipf("%s=1: interop peers not used", skipEnv)
	}
}

// chromiumPath returns the browser to run, failing the test with
// installation advice when it is missing.
func chromiumPath(t *testing.T) string {
	t.Helper()
	skipIfOptedOut(t)
	path := os.Getenv("CHROMIUM")
	if path == "" {
		path = "/usr/bin/chromium"
	}
	p, err := exec.LookPath(path)
	if err != nil {
		t.Fatalf("headless Chromium not found (%v): %s", err, installHint)
	}
	return p
}

// nodePath returns node, failing the test with installation advice when it
// or the pinned ws package is missing.
func nodePath(t *testing.T) string {
	t.Helper()
	skipIfOptedOut(t)
	p, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node not found in PATH (%v): %s", err, installHint)
	}
	lock, err := os.ReadFile("package-lock.json")
	if err != nil {
		t.Fatalf("read package-lock.json: %v", err)
	}
	var l struct {
		Packages map[string]struct {
			Version string `json:"version"`
		} `json:"packages"`
	}
	if err := json.Unmarshal(lock, &l); err != nil {
		t.Fatalf("parse package-lock.json: %v", err)
	}
	want := l.Packages["node_modules/ws"].Version
	pkg, err := os.ReadFile(filepath.Join("node_modules", "ws", "package.json"))
	if err != nil {
		t.Fatalf("the ws package is not installed in interop/node_modules (%v): %s", err, installHint)
	}
	var got struct {
		Version string `json:"version"`
	}
	if err := json.Unmarshal(pkg, &got); err != nil || got.Version != want || want == "" {
		t.Fatalf("interop/node_modules has ws %q, package-lock.json pins %q: %s", got.Version, want, installHint)
	}
	return p
}

// report is one result a peer sends back: the browser page by POST, the
// Node client as a line of JSON on its standard output.
type report struct {
	Case   string  `json:"case"`
	OK     bool    `json:"ok"`
	Detail string  `json:"detail"`
	MS     float64 `json:"ms"` // how long the case took, when the peer timed it
}

// results collects the reports of a run, from the peer and from our side.
type results struct {
	mu   sync.Mutex
	got  map[string][]report
	noti chan struct{}
}

func newResults() *results {
	return &results{got: make(map[string][]report), noti: make(chan struct{}, 1)}
}

func (r *results) add(rep report) {
	r.mu.Lock()
	r.got[rep.Case] = append(r.got[rep.Case], rep)
	r.mu.Unlock()
	select {
	case r.noti <- struct{}{}:
	default:
	}
}

func (r *results) pass(name string) { r.add(report{Case: name, OK: true}) }

func (r *results) fail(name, format string, args ...any) {
	r.add(report{Case: name, Detail: fmt.Sprintf(format, args...)})
}

// check records name as passed when detail is empty, else as failed.
func (r *results) check(name, detail string) {
	if detail == "" {
		r.pass(name)
		return
	}
	r.fail(name, "%s", detail)
}

// has reports whether every name in want has a report.
func (r *results) has(want []string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, w := range want {
		if len(r.got[w]) == 0 {
			return false
		}
	}
	return true
}

// waitFor waits until every name in want has a report, or timeout.
func (r *results) waitFor(want []string, timeout time.Duration, stop <-chan struct{}) {
	deadline := time.NewTimer(timeout)
	defer deadline.Stop()
	for !r.has(want) {
		select {
		case <-r.noti:
		case <-stop:
			return
		case <-deadline.C:
			return
		}
	}
}

// assert runs one subtest per expected case, failing those that were not
// reported, reported twice, or reported as failed, and fails for reports
// nobody expected (a page error, for instance).
func (r *results) assert(t *testing.T, want []string) {
	t.Helper()
	r.mu.Lock()
	defer r.mu.Unlock()
	expected := make(map[string]bool, len(want))
	for _, name := range want {
		expected[name] = true
		reps := r.got[name]
		t.Run(name, func(t *testing.T) {
			switch {
			case len(reps) == 0:
				t.Error("no result reported")
			case len(reps) > 1:
				t.Errorf("reported %d times: %+v", len(reps), reps)
			case !reps[0].OK:
				t.Error(reps[0].Detail)
			}
			if len(reps) > 0 && reps[0].MS > 0 {
				t.Logf("round trip %.0f ms", reps[0].MS)
			}
		})
	}
	var extra []string
	for name := range r.got {
		if !expected[name] {
			extra = append(extra, name)
		}
	}
	sort.Strings(extra)
	for _, name := range extra {
		t.Errorf("unexpected report %q: %+v", name, r.got[name])
	}
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	port := ln.Addr().(*net.TCPAddr).Port
	ln.Close()
	return port
}

// tail keeps the last bytes written to it: a child's output for failure
// messages, without unbounded memory.
type tail struct {
	mu  sync.Mutex
	buf []byte
}

const tailSize = 16 << 10

func (w *tail) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.buf = append(w.buf, p...)
	if len(w.buf) > tailSize {
		w.buf = append(w.buf[:0], w.buf[len(w.buf)-tailSize:]...)
	}
	return len(p), nil
}

func (w *tail) String() string {
	w.mu.Lock()
	defer w.mu.Unlock()
	return strings.TrimSpace(string(w.buf))
}

// jsonLines calls f with each line of r that parses as JSON into a fresh
// value, and copies every line to log.
func jsonLines(r io.Reader, log io.Writer, f func(line []byte)) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Bytes()
		fmt.Fprintf(log, "%s\n", line)
		if len(line) > 0 && line[0] == '{' {
			f(line)
		}
	}
}
