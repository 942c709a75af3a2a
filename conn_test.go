package websocket

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rfc6455/websocket/frame"
)

// connEcho is an echo handler streaming each message back.
func connEcho(c *Conn, _ *http.Request) {
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

// connServer starts an httptest server upgrading with cfg and serving
// with serve; it returns the ws:// URL.
func connServer(t *testing.T, cfg *Config, serve func(*Conn, *http.Request)) string {
	t.Helper()
	srv := httptest.NewServer(Handler(cfg, serve))
	t.Cleanup(srv.Close)
	return "ws" + strings.TrimPrefix(srv.URL, "http")
}

func connDial(t *testing.T, url string, opts *DialOptions) *Conn {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, resp, err := Dial(ctx, url, opts)
	if err != nil {
		t.Fatalf("Dial: %v (resp %v)", err, resp)
	}
	return c
}

// checkGoroutines fails t if goroutines started during the test remain.
func checkGoroutines(t *testing.T) {
	t.Helper()
	before := runtime.NumGoroutine()
	t.Cleanup(func() {
		deadline := time.Now().Add(3 * time.Second)
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

func TestConnEchoSizes(t *testing.T) {
	for _, compress := range []bool{false, true} {
		name := "plain"
		var co *CompressionOptions
		if compress {
			name = "deflate"
			co = &CompressionOptions{Threshold: -1}
		}
		t.Run(name, func(t *testing.T) {
			cfg := DefaultConfig()
			cfg.Compression = co
			url := connServer(t, cfg, connEcho)
			c := connDial(t, url, &DialOptions{Options: Options{Compression: co}})
			defer c.CloseNow()
			if c.Compressed() != compress {
				t.Fatalf("Compressed() = %v, want %v", c.Compressed(), compress)
			}
			for _, n := range []int{0, 1, 125, 126, 127, 65535, 65536, 65537, 1 << 20} {
				for _, mt := range []MessageType{TextMessage, BinaryMessage} {
					msg := bytes.Repeat([]byte("abcdefgh"), n/8+1)[:n]
					if err := c.WriteMessage(mt, msg); err != nil {
						t.Fatalf("write %d: %v", n, err)
					}
					gt, got, err := c.ReadMessage()
					if err != nil {
						t.Fatalf("read %d: %v", n, err)
					}
					if gt != mt || !bytes.Equal(got, msg) {
						t.Fatalf("echo %d %v: got %v len %d", n, mt, gt, len(got))
					}
				}
			}
			if err := c.Close(CloseNormalClosure, "bye"); err != nil {
				t.Fatalf("Close: %v", err)
			}
		})
	}
}

func TestConnFragmentedWriter(t *testing.T) {
	url := connServer(t, nil, connEcho)
	c := connDial(t, url, &DialOptions{Options: Options{WriteBufferSize: 100}})
	defer c.CloseNow()
	w, err := c.NextWriter(TextMessage)
	if err != nil {
		t.Fatal(err)
	}
	var want bytes.Buffer
	for i := 0; i < 50; i++ {
		s := strings.Repeat("é", i)
		want.WriteString(s)
		if _, err := io.WriteString(w, s); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write([]byte("x")); !errors.Is(err, ErrWriterClosed) {
		t.Fatalf("write after close: %v", err)
	}
	_, got, err := c.ReadMessage()
	if err != nil || !bytes.Equal(got, want.Bytes()) {
		t.Fatalf("got %q, %v", got, err)
	}
}

func TestConnCloseHandshake(t *testing.T) {
	checkGoroutines(t)
	got := make(chan error, 1)
	url := connServer(t, nil, func(c *Conn, _ *http.Request) {
		_, _, err := c.ReadMessage()
		got <- err
	})
	c := connDial(t, url, nil)
	if err := c.Close(4000, "done"); err != nil {
		t.Fatalf("client Close: %v", err)
	}
	err := <-got
	var ce *CloseError
	if !errors.As(err, &ce) || ce.Code != 4000 || ce.Reason != "done" {
		t.Fatalf("server read error %v", err)
	}
	select {
	case <-c.Done():
	case <-time.After(time.Second):
		t.Fatal("client not closed")
	}
}

func TestConnServerInitiatedClose(t *testing.T) {
	checkGoroutines(t)
	url := connServer(t, nil, func(c *Conn, _ *http.Request) {
		if err := c.Close(CloseGoingAway, "restart"); err != nil {
			t.Errorf("server Close: %v", err)
		}
	})
	c := connDial(t, url, nil)
	_, _, err := c.ReadMessage()
	if CloseStatus(err) != int(CloseGoingAway) {
		t.Fatalf("client read: %v", err)
	}
	select {
	case <-c.Done():
	case <-time.After(2 * time.Second):
		t.Fatal("client not closed")
	}
}

func TestConnConcurrentWriters(t *testing.T) {
	url := connServer(t, nil, connEcho)
	c := connDial(t, url, nil)
	defer c.CloseNow()
	const writers, each = 8, 50
	var wg sync.WaitGroup
	for i := 0; i < writers; i++ {
		wg.Add(1)
		go func(i int) {
			defer wg.Done()
			for j := 0; j < each; j++ {
				if j%2 == 0 {
					if err := c.WriteMessage(BinaryMessage, bytes.Repeat([]byte{byte(i)}, 3000)); err != nil {
						t.Error(err)
						return
					}
					continue
				}
				w, err := c.NextWriter(BinaryMessage)
				if err != nil {
					t.Error(err)
					return
				}
				for k := 0; k < 3; k++ {
					w.Write(bytes.Repeat([]byte{byte(i)}, 1000))
				}
				w.Close()
				_ = c.Ping([]byte("p"))
			}
		}(i)
	}
	for n := 0; n < writers*each; n++ {
		_, p, err := c.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		if len(p) != 3000 || !bytes.Equal(p, bytes.Repeat(p[:1], 3000)) {
			t.Fatalf("message %d corrupted: len %d", n, len(p))
		}
	}
	wg.Wait()
}

func TestConnConcurrentRead(t *testing.T) {
	a, b := net.Pipe()
	defer a.Close()
	defer b.Close()
	c := NewConn(a, RoleServer, nil)
	errc := make(chan error, 1)
	go func() {
		_, _, err := c.ReadMessage()
		errc <- err
	}()
	time.Sleep(50 * time.Millisecond)
	if _, _, err := c.ReadMessage(); !errors.Is(err, ErrConcurrentRead) {
		t.Fatalf("second reader: %v", err)
	}
	c.CloseNow()
	<-errc
}

func TestConnReadLimit(t *testing.T) {
	got := make(chan error, 1)
	cfg := DefaultConfig()
	cfg.ReadLimit = 1000
	url := connServer(t, cfg, func(c *Conn, _ *http.Request) {
		_, _, err := c.ReadMessage()
		got <- err
	})
	c := connDial(t, url, nil)
	defer c.CloseNow()
	if err := c.WriteMessage(BinaryMessage, make([]byte, 1001)); err != nil {
		t.Fatal(err)
	}
	_, _, err := c.ReadMessage()
	if CloseStatus(err) != int(CloseMessageTooBig) {
		t.Fatalf("client: %v", err)
	}
	err = <-got
	if !errors.Is(err, ErrMessageTooBig) || CloseStatus(err) != int(CloseMessageTooBig) {
		t.Fatalf("server: %v", err)
	}
}

func TestConnContextCancel(t *testing.T) {
	checkGoroutines(t)
	url := connServer(t, nil, connEcho)
	c := connDial(t, url, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	if _, _, err := c.Read(ctx); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Read: %v", err)
	}
	if err := c.WriteMessage(TextMessage, []byte("x")); err == nil {
		t.Fatal("write after cancelled read succeeded")
	}
}

func TestConnNetConn(t *testing.T) {
	url := connServer(t, nil, connEcho)
	c := connDial(t, url, nil)
	nc := NetConn(context.Background(), c, BinaryMessage)
	defer nc.Close()
	if _, err := nc.Write([]byte("hello ")); err != nil {
		t.Fatal(err)
	}
	if _, err := nc.Write([]byte("world")); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 11)
	if _, err := io.ReadFull(nc, buf); err != nil || string(buf) != "hello world" {
		t.Fatalf("got %q %v", buf, err)
	}
}

func TestConnKeepalive(t *testing.T) {
	// A peer that never answers: keepalive must close the connection.
	a, b := net.Pipe()
	defer b.Close()
	go io.Copy(io.Discard, b)
	c := NewConn(a, RoleServer, &Options{PingInterval: 30 * time.Millisecond})
	select {
	case <-c.Done():
	case <-time.After(2 * time.Second):
		t.Fatal("keepalive did not close a silent connection")
	}
}

func TestUpgradeRejects(t *testing.T) {
	srv := httptest.NewServer(Handler(nil, connEcho))
	defer srv.Close()
	resp, err := http.Get(srv.URL)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusBadRequest && resp.StatusCode != http.StatusUpgradeRequired {
		t.Fatalf("plain GET: status %d", resp.StatusCode)
	}
	// Cross-origin browser request: 403 by default.
	ctx := context.Background()
	_, resp, err = Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), &DialOptions{
		Header: http.Header{"Origin": {"https://evil.example"}},
	})
	if err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-origin: err %v resp %v", err, resp)
	}
}

// A reply deferred because more input was buffered must still go out
// when the application stops reading (the flush timer).
func TestConnCoalescedReplyNotStuck(t *testing.T) {
	srv, cli := loopbackPair(t)
	defer srv.CloseNow()
	defer cli.CloseNow()
	// Two messages in one TCP write, so the server sees the second buffered.
	two := append(fuzzFrame(true, 0, frame.OpText, "one"), fuzzFrame(true, 0, frame.OpText, "two")...)
	if _, err := cli.NetConn().Write(two); err != nil {
		t.Fatal(err)
	}
	if _, _, err := srv.ReadMessage(); err != nil {
		t.Fatal(err)
	}
	if !srv.moreInput.Load() {
		t.Fatal("the second message was not buffered with the first")
	}
	start := time.Now()
	if err := srv.WriteMessage(TextMessage, []byte("reply")); err != nil {
		t.Fatal(err)
	}
	// The server does not read again; the reply must arrive anyway.
	cli.SetReadDeadline(time.Now().Add(2 * time.Second))
	_, p, err := cli.ReadMessage()
	if err != nil || string(p) != "reply" {
		t.Fatalf("reply: %q %v", p, err)
	}
	t.Logf("deferred reply arrived after %v", time.Since(start))
}

// wrappedWriter is middleware's ResponseWriter: it hides Hijack but
// offers Unwrap, which http.NewResponseController follows.
type wrappedWriter struct {
	http.ResponseWriter
}

func (w *wrappedWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }

func TestUpgradeBehindMiddleware(t *testing.T) {
	inner := Handler(nil, connEcho)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		inner.ServeHTTP(&wrappedWriter{ResponseWriter: w}, r)
	}))
	defer srv.Close()
	c := connDial(t, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	defer c.CloseNow()
	if err := c.WriteMessage(TextMessage, []byte("through middleware")); err != nil {
		t.Fatal(err)
	}
	if _, p, err := c.ReadMessage(); err != nil || string(p) != "through middleware" {
		t.Fatalf("%q %v", p, err)
	}
}

func TestHandlerPanicClosesWith1011(t *testing.T) {
	srv := httptest.NewServer(Handler(&Config{Options: Options{Logger: slog.New(slog.NewTextHandler(io.Discard, nil))}},
		func(c *Conn, r *http.Request) { panic("boom") }))
	defer srv.Close()
	c := connDial(t, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	defer c.CloseNow()
	_, _, err := c.ReadMessage()
	if CloseStatus(err) != int(CloseInternalServerErr) {
		t.Fatalf("got %v, want close 1011", err)
	}
}

func TestInvalidCompressionLevel(t *testing.T) {
	bad := &CompressionOptions{Level: 42}
	if _, _, err := Dial(context.Background(), "ws://127.0.0.1:1/", &DialOptions{Options: Options{Compression: bad}}); !errors.Is(err, ErrInvalidCompressionLevel) {
		t.Fatalf("Dial: %v", err)
	}
	cfg := DefaultConfig()
	cfg.Compression = bad
	srv := httptest.NewServer(Handler(cfg, connEcho))
	defer srv.Close()
	_, resp, err := Dial(context.Background(), "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err == nil || resp == nil || resp.StatusCode != http.StatusInternalServerError {
		t.Fatalf("server with a bad level: %v %v", err, resp)
	}
}

// Done is made on first use: asked for before or after the close, it is
// closed once the connection is, and a new connection holds none.
func TestDoneLazy(t *testing.T) {
	for _, askBefore := range []bool{true, false} {
		a, b := net.Pipe()
		defer b.Close()
		c := newConn(a, RoleServer, (&Options{}).resolve(), "", nil, nil)
		if c.done.Load() != nil {
			t.Fatal("a new Conn made its done channel")
		}
		var done <-chan struct{}
		if askBefore {
			done = c.Done()
			select {
			case <-done:
				t.Fatal("Done is closed before the close")
			default:
			}
			if c.IsClosed() {
				t.Fatal("IsClosed before the close")
			}
		}
		c.CloseNow()
		if !askBefore {
			done = c.Done()
		}
		select {
		case <-done:
		default:
			t.Fatalf("Done (asked for before the close: %v) is not closed", askBefore)
		}
		if !c.IsClosed() {
			t.Fatal("IsClosed false after CloseNow")
		}
	}
}
