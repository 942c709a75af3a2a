package h2test

import (
	"bytes"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/rfc6455/websocket"
)

// TestH2ManyStreams: 64 WebSockets share one TCP connection and echo
// concurrently.
func TestH2ManyStreams(t *testing.T) {
	if needXConnect(t) {
		return
	}
	checkGoroutines(t)
	var k h2Check
	e := newH2Env(t, true, nil, websocket.Handler(nil, func(c *websocket.Conn, r *http.Request) {
		k.check(r)
		echo(c, r)
	}))
	const n = 64
	conns := make([]*websocket.Conn, n)
	for i := range conns {
		conns[i] = e.dial(t, "/", nil)
	}
	var wg sync.WaitGroup
	errs := make(chan error, n)
	for i, c := range conns {
		wg.Go(func() {
			for j := range 20 {
				msg := fmt.Appendf(nil, "stream %d message %d %s", i, j, bytes.Repeat([]byte{'x'}, j*100))
				if err := c.WriteMessage(websocket.TextMessage, msg); err != nil {
					errs <- err
					return
				}
				if _, got, err := c.ReadMessage(); err != nil || !bytes.Equal(got, msg) {
					errs <- fmt.Errorf("stream %d: echo %q, %v", i, got, err)
					return
				}
			}
			if err := c.Close(websocket.CloseNormalClosure, ""); err != nil {
				errs <- fmt.Errorf("stream %d: Close: %v", i, err)
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	k.verify(t, n)
	if got := e.conns.Load(); got != 1 {
		t.Errorf("%d TCP connections for %d WebSockets, want 1", got, n)
	}
}

// TestH2SlowReaderDoesNotStall: one stream whose reader stops does not
// stall the other streams of the connection (HTTP/2 flow control), in
// either direction.
func TestH2SlowReaderDoesNotStall(t *testing.T) {
	if needXConnect(t) {
		return
	}
	big := bytes.Repeat([]byte("z"), 64<<10)
	t.Run("client not reading", func(t *testing.T) {
		checkGoroutines(t)
		// The server floods the stream; our client never reads it.
		e := newH2Env(t, false, nil, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, err := websocket.Upgrade(w, r, nil)
			if err != nil {
				return
			}
			defer c.CloseNow()
			if r.URL.Path == "/flood" {
				for i := 0; i < 256; i++ { // 16 MiB, more than the stream and connection windows
					_ = c.SetWriteDeadline(time.Now().Add(20 * time.Second))
					if c.WriteMessage(websocket.BinaryMessage, big) != nil {
						return
					}
				}
				return
			}
			echo(c, r)
		}))
		flood := e.dial(t, "/flood", nil)
		defer flood.CloseNow()
		time.Sleep(200 * time.Millisecond) // let the flood fill the windows
		c := e.dial(t, "/echo", nil)
		h2EchoWithin(t, c, 200, 10*time.Second)
		c.Close(websocket.CloseNormalClosure, "")
	})
	t.Run("server not reading", func(t *testing.T) {
		checkGoroutines(t)
		// Our client floods a stream whose server handler does not read.
		// net/http's server defaults give a stream as large a receive
		// window as the whole connection (1 MiB each), so one unread
		// stream would take the connection's window: the server must
		// give the connection more than its streams (see the package
		// documentation).
		release := make(chan struct{})
		h2 := &http.HTTP2Config{MaxReceiveBufferPerStream: 256 << 10, MaxReceiveBufferPerConnection: 64 << 20}
		e := newH2Env(t, false, h2, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			c, err := websocket.Upgrade(w, r, nil)
			if err != nil {
				return
			}
			defer c.CloseNow()
			if r.URL.Path == "/sink" {
				select {
				case <-release:
				case <-time.After(20 * time.Second):
				}
				return
			}
			echo(c, r)
		}))
		sink := e.dial(t, "/sink", nil)
		defer sink.CloseNow()
		flooded := make(chan error, 1)
		go func() {
			for i := 0; i < 64; i++ { // 4 MiB: more than the stream window
				_ = sink.SetWriteDeadline(time.Now().Add(20 * time.Second))
				if err := sink.WriteMessage(websocket.BinaryMessage, big); err != nil {
					flooded <- err
					return
				}
			}
			flooded <- nil
		}()
		time.Sleep(200 * time.Millisecond)
		c := e.dial(t, "/echo", nil)
		h2EchoWithin(t, c, 200, 10*time.Second)
		select {
		case err := <-flooded:
			t.Errorf("the flood of an unread stream went through (%v): flow control did not hold it", err)
		default:
		}
		c.Close(websocket.CloseNormalClosure, "")
		close(release)
		sink.CloseNow()
		<-flooded
	})
}

// h2EchoWithin echoes n small messages over c, failing t if that takes
// longer than d.
func h2EchoWithin(t *testing.T, c *websocket.Conn, n int, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	_ = c.SetReadDeadline(deadline)
	_ = c.SetWriteDeadline(deadline)
	for i := range n {
		msg := fmt.Appendf(nil, "message %d", i)
		if err := c.WriteMessage(websocket.TextMessage, msg); err != nil {
			t.Fatalf("echo %d: write: %v", i, err)
		}
		if _, got, err := c.ReadMessage(); err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("echo %d: %q, %v (stalled behind the other stream?)", i, got, err)
		}
	}
	_ = c.SetReadDeadline(time.Time{})
	_ = c.SetWriteDeadline(time.Time{})
}

// TestH2ResetAndLoss: a stream reset by either side and the loss of the
// TCP connection end the WebSockets on both sides with errors, promptly,
// and leave no goroutine behind.
func TestH2ResetAndLoss(t *testing.T) {
	if needXConnect(t) {
		return
	}
	type result struct{ err error }
	for _, tc := range []string{"client resets", "server resets", "connection lost"} {
		t.Run(tc, func(t *testing.T) {
			checkGoroutines(t)
			got := make(chan error, 1)
			e := newH2Env(t, false, nil, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				c, err := websocket.Upgrade(w, r, nil)
				if err != nil {
					return
				}
				defer c.CloseNow()
				if tc == "server resets" {
					c.ReadMessage() // the client's "go"
					c.CloseNow()
				}
				_, _, err = c.ReadMessage()
				got <- err
			}))
			c := e.dial(t, "/", nil)
			defer c.CloseNow()
			readErr := make(chan error, 1)
			go func() {
				_, _, err := c.ReadMessage()
				readErr <- err
			}()
			switch tc {
			case "client resets":
				c.CloseNow()
			case "server resets":
				c.WriteMessage(websocket.TextMessage, []byte("go"))
			case "connection lost":
				time.Sleep(50 * time.Millisecond)
				e.srv.CloseClientConnections()
			}
			for side, ch := range map[string]chan error{"server": got, "client": readErr} {
				select {
				case err := <-ch:
					var ce *websocket.CloseError
					if err == nil || errors.As(err, &ce) && ce.Code != websocket.CloseAbnormalClosure {
						t.Errorf("%s read: %v, want an error other than a close handshake", side, err)
					} else {
						t.Logf("%s read: %v", side, err)
					}
				case <-time.After(5 * time.Second):
					t.Errorf("%s read still blocked 5s after the %s", side, tc)
				}
			}
		})
	}
}

// TestH2Hub: a Server from New serves WebSockets over HTTP/2 as Hub
// members: two streams of one connection join the room, a message from
// one is broadcast to both.
func TestH2Hub(t *testing.T) {
	if needXConnect(t) {
		return
	}
	checkGoroutines(t)
	cfg := websocket.DefaultWebSocketConfig()
	cfg.AllowUnauthenticated = true
	s, err := websocket.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Shutdown(context.Background())
	e := newH2Env(t, true, nil, s)
	a := e.dial(t, cfg.WSRoutePath, nil)
	b := e.dial(t, cfg.WSRoutePath, nil)
	deadline := time.Now().Add(5 * time.Second)
	for s.Hub().Metrics().ActiveConnections < 2 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := s.Hub().Metrics().ActiveConnections; n != 2 {
		t.Fatalf("%d hub members, want 2", n)
	}
	if err := a.WriteMessage(websocket.TextMessage, []byte("hello room")); err != nil {
		t.Fatal(err)
	}
	for name, c := range map[string]*websocket.Conn{"a": a, "b": b} {
		_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
		if _, p, err := c.ReadMessage(); err != nil || string(p) != "hello room" {
			t.Errorf("%s: %q, %v", name, p, err)
		}
	}
	a.Close(websocket.CloseNormalClosure, "")
	b.Close(websocket.CloseNormalClosure, "")
	for s.Hub().Metrics().ActiveConnections > 0 && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	if n := s.Hub().Metrics().ActiveConnections; n != 0 {
		t.Errorf("%d hub members after both closed, want 0", n)
	}
	if got := e.conns.Load(); got != 1 {
		t.Errorf("%d TCP connections, want 1", got)
	}
}

// TestH2Fallback: Dial with HTTP2 set falls back to HTTP/1.1 when the
// server cannot take a WebSocket over HTTP/2: it speaks HTTP/1.1 only
// (TLS ALPN, or cleartext), or its HTTP/2 does not advertise
// SETTINGS_ENABLE_CONNECT_PROTOCOL (this process then runs without
// GODEBUG=http2xconnect=1).
func TestH2Fallback(t *testing.T) {
	if strings.Contains(os.Getenv("GODEBUG"), xconnect) {
		// Run again without the setting.
		cmd := exec.Command(os.Args[0], "-test.run=^"+t.Name()+"$", "-test.count=1", "-test.v", "-test.timeout=3m")
		cmd.Env = append(os.Environ(), "GODEBUG=")
		if out, err := cmd.CombinedOutput(); err != nil || !bytes.Contains(out, []byte("--- PASS: "+t.Name())) {
			t.Fatalf("%s without %s: %v\n%s", t.Name(), xconnect, err, out)
		}
		return
	}
	for _, tc := range []struct {
		name        string
		tls, h2     bool
		http2Client *http2.Transport
	}{
		{name: "tls http/1.1 only", tls: true},
		{name: "h2c not spoken", tls: false},
		{name: "tls h2 without extended CONNECT", tls: true, h2: true},
		{name: "h2c without extended CONNECT", tls: false, h2: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkGoroutines(t)
			var mu sync.Mutex
			var protos []string
			srv := httptest.NewUnstartedServer(websocket.Handler(nil, func(c *websocket.Conn, r *http.Request) {
				mu.Lock()
				protos = append(protos, r.Proto)
				mu.Unlock()
				echo(c, r)
			}))
			tr := &http2.Transport{}
			url := ""
			opts := &websocket.DialOptions{HTTP2: tr}
			if tc.tls {
				srv.EnableHTTP2 = tc.h2
				srv.StartTLS()
				roots := srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
				tr.TLSClientConfig = &tls.Config{RootCAs: roots}
				opts.TLSConfig = &tls.Config{RootCAs: roots}
				url = "wss" + strings.TrimPrefix(srv.URL, "https") + "/"
			} else {
				if tc.h2 {
					srv.Config.Protocols = new(http.Protocols)
					srv.Config.Protocols.SetHTTP1(true)
					srv.Config.Protocols.SetUnencryptedHTTP2(true)
				}
				srv.Start()
				tr.AllowHTTP = true
				tr.DialTLSContext = func(ctx context.Context, network, addr string, _ *tls.Config) (net.Conn, error) {
					var d net.Dialer
					return d.DialContext(ctx, network, addr)
				}
				url = "ws" + strings.TrimPrefix(srv.URL, "http") + "/"
			}
			defer srv.Close()
			defer srv.CloseClientConnections()
			defer tr.CloseIdleConnections()
			ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
			defer cancel()
			c, resp, err := websocket.Dial(ctx, url, opts)
			if err != nil {
				t.Fatalf("Dial: %v (response %v)", err, resp)
			}
			if resp.StatusCode != http.StatusSwitchingProtocols {
				t.Errorf("status %d, want 101 (HTTP/1.1)", resp.StatusCode)
			}
			if err := c.WriteMessage(websocket.TextMessage, []byte("hi")); err != nil {
				t.Fatal(err)
			}
			if _, p, err := c.ReadMessage(); err != nil || string(p) != "hi" {
				t.Fatalf("echo: %q, %v", p, err)
			}
			c.Close(websocket.CloseNormalClosure, "")
			mu.Lock()
			defer mu.Unlock()
			if len(protos) != 1 || protos[0] != "HTTP/1.1" {
				t.Errorf("server saw %q, want one HTTP/1.1 request", protos)
			}
		})
	}
}

// TestH2Conformance runs a representative subset of the conformance
// behaviours over an HTTP/2 stream, our client against our server, with
// raw frames written on the client's stream (Conn.NetConn) where our
// client would not send them: fragmentation, ping/pong both ways, close
// codes both ways, invalid UTF-8 (1007), a message over the read limit
// (1009), a protocol error (1002, an unmasked client frame), compression.
func TestH2Conformance(t *testing.T) {
	if needXConnect(t) {
		return
	}
	type serverSaw struct {
		err error
	}
	for _, tc := range []struct {
		name   string
		cfg    *websocket.Config
		client *websocket.DialOptions
		run    func(t *testing.T, c *websocket.Conn) // client side
		want   func(error) string                    // judges the server's last read error
	}{
		{name: "fragmented text", run: func(t *testing.T, c *websocket.Conn) {
			raw(t, c, frame(false, 0x1, true, []byte("frag")), frame(false, 0x0, true, []byte("men")),
				frame(true, 0x9, true, []byte("ping between")), frame(true, 0x0, true, []byte("ted")))
			wantEcho(t, c, websocket.TextMessage, "fragmented")
		}},
		{name: "client ping, server pong", run: func(t *testing.T, c *websocket.Conn) {
			pong := make(chan string, 1)
			c.SetPongHandler(func(p []byte) { pong <- string(p) })
			if err := c.Ping([]byte("are you there")); err != nil {
				t.Fatal(err)
			}
			wantEcho(t, c, websocket.TextMessage, "after ping") // reading delivers the pong
			select {
			case p := <-pong:
				if p != "are you there" {
					t.Errorf("pong %q", p)
				}
			default:
				t.Error("no pong")
			}
		}},
		{name: "server ping, client pong", cfg: &websocket.Config{Options: websocket.Options{PingInterval: 50 * time.Millisecond, PongTimeout: time.Second}},
			run: func(t *testing.T, c *websocket.Conn) {
				ping := make(chan struct{}, 8)
				c.SetPingHandler(func([]byte) { ping <- struct{}{} })
				// Idle for 300 ms: the server pings; our client answers.
				go func() { time.Sleep(300 * time.Millisecond); c.WriteMessage(websocket.TextMessage, []byte("late")) }()
				_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
				if _, p, err := c.ReadMessage(); err != nil || string(p) != "late" {
					t.Fatalf("echo: %q, %v", p, err)
				}
				if len(ping) == 0 {
					t.Error("no keepalive ping from the server")
				}
			}},
		{name: "client close code", run: func(t *testing.T, c *websocket.Conn) {
			if err := c.Close(4001, "client bye"); err != nil {
				t.Errorf("Close: %v", err)
			}
		}, want: wantCloseCode(4001, "client bye")},
		{name: "invalid UTF-8 is 1007", run: func(t *testing.T, c *websocket.Conn) {
			raw(t, c, frame(true, 0x1, true, []byte{'o', 'k', 0xff}))
			wantPeerClose(t, c, websocket.CloseInvalidFramePayloadData)
		}, want: wantCloseCode(0, "")},
		{name: "too big is 1009", cfg: &websocket.Config{Options: websocket.Options{ReadLimit: 1000}},
			run: func(t *testing.T, c *websocket.Conn) {
				c.WriteMessage(websocket.BinaryMessage, make([]byte, 2000))
				wantPeerClose(t, c, websocket.CloseMessageTooBig)
			}, want: wantCloseCode(0, "")},
		{name: "unmasked client frame is 1002", run: func(t *testing.T, c *websocket.Conn) {
			raw(t, c, frame(true, 0x2, false, []byte("naked")))
			wantPeerClose(t, c, websocket.CloseProtocolError)
		}, want: wantCloseCode(0, "")},
		{name: "compressed", cfg: &websocket.Config{Options: websocket.Options{Compression: &websocket.CompressionOptions{Threshold: -1, ContextTakeover: true}}},
			client: &websocket.DialOptions{Options: websocket.Options{Compression: &websocket.CompressionOptions{Threshold: -1, ContextTakeover: true}}},
			run: func(t *testing.T, c *websocket.Conn) {
				if !c.Compressed() {
					t.Fatal("permessage-deflate not negotiated")
				}
				for i := range 5 {
					wantEcho(t, c, websocket.TextMessage, strings.Repeat(fmt.Sprint("compress me ", i), 100))
				}
				c.Close(websocket.CloseNormalClosure, "")
			}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			checkGoroutines(t)
			saw := make(chan error, 1)
			e := newH2Env(t, false, nil, websocket.Handler(tc.cfg, func(c *websocket.Conn, r *http.Request) {
				for {
					mt, p, err := c.ReadMessage()
					if err != nil {
						saw <- err
						return
					}
					if err := c.WriteMessage(mt, p); err != nil {
						saw <- err
						return
					}
				}
			}))
			c := e.dial(t, "/", tc.client)
			defer c.CloseNow()
			tc.run(t, c)
			c.CloseNow()
			select {
			case err := <-saw:
				if tc.want != nil {
					if msg := tc.want(err); msg != "" {
						t.Errorf("server: %s", msg)
					}
				}
			case <-time.After(5 * time.Second):
				t.Error("server handler still reading 5s after the client closed")
			}
		})
	}
}

// frame encodes one frame; masked frames use a fixed key.
func frame(fin bool, op byte, masked bool, p []byte) []byte {
	b0 := op
	if fin {
		b0 |= 0x80
	}
	b := []byte{b0}
	var m byte
	if masked {
		m = 0x80
	}
	switch n := len(p); {
	case n < 126:
		b = append(b, m|byte(n))
	case n < 1<<16:
		b = append(b, m|126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, m|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	if !masked {
		return append(b, p...)
	}
	key := [4]byte{0x12, 0x34, 0x56, 0x78}
	b = append(b, key[:]...)
	for i, c := range p {
		b = append(b, c^key[i%4])
	}
	return b
}

// raw writes frames on c's stream directly.
func raw(t *testing.T, c *websocket.Conn, frames ...[]byte) {
	t.Helper()
	if _, err := c.NetConn().Write(bytes.Join(frames, nil)); err != nil {
		t.Fatalf("raw write: %v", err)
	}
}

// wantEcho sends msg (unless it was sent raw: then only reads) and
// expects it back.
func wantEcho(t *testing.T, c *websocket.Conn, mt websocket.MessageType, msg string) {
	t.Helper()
	if msg != "fragmented" {
		if err := c.WriteMessage(mt, []byte(msg)); err != nil {
			t.Fatalf("write: %v", err)
		}
	}
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	defer c.SetReadDeadline(time.Time{})
	gt, p, err := c.ReadMessage()
	if err != nil || gt != mt || string(p) != msg {
		t.Fatalf("echo: %v %q, %v; want %v %q", gt, p, err, mt, msg)
	}
}

// wantPeerClose expects the server to close with code.
func wantPeerClose(t *testing.T, c *websocket.Conn, code websocket.StatusCode) {
	t.Helper()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	_, _, err := c.ReadMessage()
	if got := websocket.CloseStatus(err); got != int(code) {
		t.Errorf("read: %v (close status %d), want the server's close %d", err, got, code)
	}
}

// wantCloseCode judges the server's read error: the client's close with
// code and reason, or (code 0) any error.
func wantCloseCode(code websocket.StatusCode, reason string) func(error) string {
	return func(err error) string {
		if err == nil {
			return "no read error"
		}
		if code == 0 {
			return ""
		}
		var ce *websocket.CloseError
		if !errors.As(err, &ce) || ce.Code != code || ce.Reason != reason {
			return fmt.Sprintf("read error %v, want close %d %q", err, code, reason)
		}
		return ""
	}
}

// TestH2WriteTimeout: a server write to a client that stopped reading is
// bounded over HTTP/2 too: once the stream's flow-control window is full
// the write waits, WriteTimeout fails the connection (ErrWriteTimeout),
// the stream is reset and the handler returns; the client's reader then
// gets an error. A write deadline left set between writes does not
// reset an idle stream.
func TestH2WriteTimeout(t *testing.T) {
	if needXConnect(t) {
		return
	}
	checkGoroutines(t)
	werr := make(chan error, 1)
	cfg := &websocket.Config{Options: websocket.Options{WriteTimeout: 300 * time.Millisecond}}
	e := newH2Env(t, false, nil, websocket.Handler(cfg, func(c *websocket.Conn, r *http.Request) {
		// A deadline set long ago and passed while idle is harmless.
		_ = c.SetWriteDeadline(time.Now().Add(50 * time.Millisecond))
		time.Sleep(150 * time.Millisecond)
		_ = c.SetWriteDeadline(time.Time{})
		if err := c.WriteMessage(websocket.TextMessage, []byte("still here")); err != nil {
			werr <- fmt.Errorf("write after an idle expired deadline: %w", err)
			return
		}
		big := bytes.Repeat([]byte("w"), 64<<10)
		for i := 0; i < 1024; i++ { // 64 MiB: far beyond the client's windows
			if err := c.WriteMessage(websocket.BinaryMessage, big); err != nil {
				werr <- err
				return
			}
		}
		werr <- errors.New("64 MiB written to a client that does not read")
	}))
	c := e.dial(t, "/", nil)
	defer c.CloseNow()
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, p, err := c.ReadMessage(); err != nil || string(p) != "still here" {
		t.Fatalf("first message: %q, %v", p, err)
	}
	start := time.Now()
	select {
	case err := <-werr:
		if !errors.Is(err, websocket.ErrWriteTimeout) {
			t.Fatalf("server write: %v, want ErrWriteTimeout", err)
		}
		t.Logf("server write failed after %v: %v", time.Since(start).Round(time.Millisecond), err)
	case <-time.After(10 * time.Second):
		t.Fatal("server write still blocked 10s on a client that does not read")
	}
	// The client reads what was buffered, then an error.
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		if _, _, err := c.ReadMessage(); err != nil {
			if errors.Is(err, os.ErrDeadlineExceeded) {
				t.Errorf("client read timed out: the stream was not ended")
			}
			break
		}
	}
}
