package h2test

// WebSockets over HTTP/2 (RFC 8441): our server on net/http's HTTP/2
// server (h2c and TLS), our client through net/http's Transport.
//
// net/http accepts extended CONNECT only with GODEBUG=http2xconnect=1 in
// the environment when the process starts (it reads it in an init
// function), so each test here re-runs itself in a child process with the
// setting when it is missing (see needXConnect).

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/rfc6455/websocket"
	"github.com/rfc6455/websocket/handshake"
)

const xconnect = "http2xconnect=1"

// needXConnect runs the calling top-level test again in a child process
// with GODEBUG=http2xconnect=1 when this process lacks it, and reports
// whether it did (the caller then returns: the child ran the test). The
// child's failure fails t, with its output.
func needXConnect(t *testing.T) bool {
	t.Helper()
	if strings.Contains(os.Getenv("GODEBUG"), xconnect) {
		return false
	}
	godebug := xconnect
	if g := os.Getenv("GODEBUG"); g != "" {
		godebug = g + "," + xconnect
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^"+t.Name()+"$", "-test.count=1", "-test.v", "-test.timeout=3m")
	cmd.Env = append(os.Environ(), "GODEBUG="+godebug)
	out, err := cmd.CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("--- PASS: "+t.Name())) {
		t.Fatalf("%s with GODEBUG=%s: %v\n%s", t.Name(), godebug, err, out)
	}
	if testing.Verbose() {
		t.Logf("ran in a child process with GODEBUG=%s:\n%s", godebug, out)
	}
	return true
}

// h2Env is an HTTP/2 server of ours and a client transport that speaks
// only HTTP/2 to it.
type h2Env struct {
	srv   *httptest.Server
	tr    *http2.Transport
	url   string // ws:// or wss://
	conns atomic.Int32
}

// newH2Env starts handler on an HTTP/2 server over TLS or, when !useTLS,
// cleartext HTTP/2 (h2c, prior knowledge). h2 adjusts the server's
// HTTP/2 settings when non-nil.
func newH2Env(t testing.TB, useTLS bool, h2 *http.HTTP2Config, handler http.Handler) *h2Env {
	t.Helper()
	e := &h2Env{}
	e.srv = httptest.NewUnstartedServer(handler)
	e.srv.Config.HTTP2 = h2
	e.srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			e.conns.Add(1)
		}
	}
	// net/http's Transport refuses the :protocol pseudo-header (Go 1.26);
	// golang.org/x/net/http2's sends it.
	e.tr = &http2.Transport{}
	if useTLS {
		e.srv.EnableHTTP2 = true
		e.srv.StartTLS()
		e.tr.TLSClientConfig = &tls.Config{RootCAs: e.srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs}
		e.url = "wss" + strings.TrimPrefix(e.srv.URL, "https")
	} else {
		e.srv.Config.Protocols = new(http.Protocols)
		e.srv.Config.Protocols.SetHTTP1(true)
		e.srv.Config.Protocols.SetUnencryptedHTTP2(true)
		e.srv.Start()
		e.tr.AllowHTTP = true
		e.tr.DialTLSContext = func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
			var d net.Dialer
			return d.DialContext(ctx, network, addr)
		}
		e.url = "ws" + strings.TrimPrefix(e.srv.URL, "http")
	}
	t.Cleanup(func() {
		e.tr.CloseIdleConnections()
		e.srv.CloseClientConnections()
		e.srv.Close()
	})
	return e
}

// dial opens a WebSocket over HTTP/2 to path.
func (e *h2Env) dial(t *testing.T, path string, opts *websocket.DialOptions) *websocket.Conn {
	t.Helper()
	c, resp, err := e.tryDial(path, opts)
	if err != nil {
		t.Fatalf("dial over HTTP/2: %v (response %v)", err, resp)
	}
	return c
}

func (e *h2Env) tryDial(path string, opts *websocket.DialOptions) (*websocket.Conn, *http.Response, error) {
	if opts == nil {
		opts = &websocket.DialOptions{}
	}
	opts.HTTP2 = e.tr
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	return websocket.Dial(ctx, e.url+path, opts)
}

// h2Check records what a handler saw of its requests.
type h2Check struct {
	mu   sync.Mutex
	errs []string
	n    int
}

// check verifies that r came as an RFC 8441 extended CONNECT.
func (k *h2Check) check(r *http.Request) {
	k.mu.Lock()
	defer k.mu.Unlock()
	k.n++
	if r.ProtoMajor != 2 || r.Method != http.MethodConnect || r.Header.Get(handshake.HeaderProtocol) != "websocket" {
		k.errs = append(k.errs, r.Proto+" "+r.Method+" :protocol="+r.Header.Get(handshake.HeaderProtocol))
	}
}

func (k *h2Check) verify(t *testing.T, want int) {
	t.Helper()
	k.mu.Lock()
	defer k.mu.Unlock()
	if k.n != want || len(k.errs) > 0 {
		t.Errorf("handler saw %d requests (want %d); not extended CONNECT: %v", k.n, want, k.errs)
	}
}

func TestH2Echo(t *testing.T) {
	if needXConnect(t) {
		return
	}
	for _, useTLS := range []bool{false, true} {
		for _, compress := range []bool{false, true} {
			name := map[bool]string{false: "h2c", true: "tls"}[useTLS] + map[bool]string{false: "", true: "/deflate"}[compress]
			t.Run(name, func(t *testing.T) {
				checkGoroutines(t)
				var k h2Check
				cfg := &websocket.Config{Subprotocols: []string{"echo"}}
				if compress {
					cfg.Compression = &websocket.CompressionOptions{Threshold: -1}
				}
				e := newH2Env(t, useTLS, nil, websocket.Handler(cfg, func(c *websocket.Conn, r *http.Request) {
					k.check(r)
					echo(c, r)
				}))
				opts := &websocket.DialOptions{Subprotocols: []string{"x", "echo"}}
				if compress {
					opts.Compression = &websocket.CompressionOptions{Threshold: -1}
				}
				c := e.dial(t, "/echo", opts)
				if c.Subprotocol() != "echo" || c.Compressed() != compress {
					t.Fatalf("subprotocol %q compressed %v", c.Subprotocol(), c.Compressed())
				}
				for _, n := range []int{0, 1, 125, 126, 65535, 65536, 1 << 20} {
					msg := bytes.Repeat([]byte("0123456789abcdef"), n/16+1)[:n]
					mt := websocket.BinaryMessage
					if n%2 == 1 {
						mt = websocket.TextMessage
					}
					if err := c.WriteMessage(mt, msg); err != nil {
						t.Fatalf("write %d: %v", n, err)
					}
					gt, got, err := c.ReadMessage()
					if err != nil || gt != mt || !bytes.Equal(got, msg) {
						t.Fatalf("echo of %d bytes: type %v, %d bytes, %v", n, gt, len(got), err)
					}
				}
				if err := c.Close(websocket.CloseNormalClosure, "bye"); err != nil {
					t.Fatalf("Close: %v", err)
				}
				k.verify(t, 1)
				if n := e.conns.Load(); n != 1 {
					t.Errorf("%d TCP connections, want 1", n)
				}
			})
		}
	}
}

// echo streams each message back.
func echo(c *websocket.Conn, _ *http.Request) {
	for {
		mt, r, err := c.NextReader()
		if err != nil {
			return
		}
		w, err := c.NextWriter(mt)
		if err != nil {
			return
		}
		if _, err := io.Copy(w, r); err != nil {
			return
		}
		if err := w.Close(); err != nil {
			return
		}
	}
}

// checkGoroutines fails t if goroutines started during the test remain.
func checkGoroutines(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(5 * time.Second)
		for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
			time.Sleep(10 * time.Millisecond)
		}
		if n := runtime.NumGoroutine(); n > before {
			buf := make([]byte, 1<<16)
			buf = buf[:runtime.Stack(buf, true)]
			t.Errorf("goroutines: %d before, %d after\n%s", before, n, buf)
		}
	})
}

// TestH2Rejects: the origin policy applies over HTTP/2 as over HTTP/1.1:
// a cross-origin extended CONNECT is answered 403 and nothing is opened;
// a same-origin one is accepted.
func TestH2Rejects(t *testing.T) {
	if needXConnect(t) {
		return
	}
	checkGoroutines(t)
	e := newH2Env(t, true, nil, websocket.Handler(nil, echo))
	_, resp, err := e.tryDial("/", &websocket.DialOptions{Header: http.Header{"Origin": {"https://evil.example"}}})
	if !errors.Is(err, handshake.ErrBadStatus) || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-origin: %v, response %v; want 403", err, resp)
	}
	c, _, err := e.tryDial("/", &websocket.DialOptions{Header: http.Header{"Origin": {"https://" + e.srv.Listener.Addr().String()}}})
	if err != nil {
		t.Fatalf("same origin: %v", err)
	}
	c.Close(websocket.CloseNormalClosure, "")
}
