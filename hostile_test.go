package websocket

// Hostile and faulty peers (issue 11): memory a peer did not send, writes
// and keepalive against a peer that stopped reading, calls that must
// return, errors that must come at once, and Dial against a server that
// never ends its response head. Every peer here is a raw TCP endpoint on
// 127.0.0.1; every wait is bounded.

import (
	"bufio"
	"context"
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"testing"
	"time"
)

// hostileServer starts a server upgrading with cfg and running serve; it
// returns its address.
func hostileServer(t *testing.T, cfg *Config, serve func(*Conn, *http.Request)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: Handler(cfg, serve), ReadHeaderTimeout: 5 * time.Second}
	go srv.Serve(ln)
	t.Cleanup(func() { srv.Close() })
	return ln.Addr().String()
}

// hostileDial opens a raw client connection and completes the opening
// handshake by hand; the returned reader holds what followed the 101.
func hostileDial(t *testing.T, addr string) (net.Conn, *bufio.Reader) {
	t.Helper()
	nc, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	key := rpNewKey()
	_, err = io.WriteString(nc, "GET /ws HTTP/1.1\r\nHost: "+addr+"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
		"Sec-WebSocket-Key: "+key+"\r\nSec-WebSocket-Version: 13\r\n\r\n")
	if err != nil {
		t.Fatal(err)
	}
	_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	br := bufio.NewReader(nc)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("handshake: %v %v", resp, err)
	}
	_ = nc.SetReadDeadline(time.Time{})
	return nc, br
}

// hostileAccept listens for our client: it answers the opening handshake
// by hand and hands each raw server connection to fn.
func hostileAccept(t *testing.T, fn func(nc net.Conn)) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer nc.Close()
				req, err := http.ReadRequest(bufio.NewReader(nc))
				if err != nil {
					return
				}
				_, err = io.WriteString(nc, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
					"Sec-WebSocket-Accept: "+rpAccept(req.Header.Get("Sec-WebSocket-Key"))+"\r\n\r\n")
				if err == nil {
					fn(nc)
				}
			}()
		}
	}()
	return "ws://" + ln.Addr().String() + "/ws"
}

// A frame that declares a large length and sends nothing more must cost
// (about) nothing: memory follows the bytes that arrived.
func TestHostileDeclaredLengthServer(t *testing.T) {
	checkGoroutines(t)
	const conns, declared = 10, 16 << 20
	reading := make(chan struct{}, conns)
	cfg := &Config{Options: Options{ReadLimit: 64 << 20, CloseTimeout: 500 * time.Millisecond}}
	addr := hostileServer(t, cfg, func(c *Conn, r *http.Request) {
		reading <- struct{}{}
		_, _, _ = c.ReadMessage()
	})
	before := heapInUse()
	var peers []net.Conn
	for range conns {
		nc, _ := hostileDial(t, addr)
		<-reading
		// A final binary frame declaring 16 MiB, masked, then 3 bytes.
		hdr := rpHeader(0x82, true, [4]byte{1, 2, 3, 4}, declared)
		if _, err := nc.Write(append(hdr, 'a', 'b', 'c')); err != nil {
			t.Fatal(err)
		}
		peers = append(peers, nc)
	}
	time.Sleep(300 * time.Millisecond) // let every reader take the header
	grew := heapInUse() - before
	t.Logf("heap growth for %d connections each declaring %d bytes and sending 3: %d bytes", conns, declared, grew)
	if grew > 2<<20 {
		t.Errorf("heap grew %d bytes for %d peers that sent %d header+payload bytes each", grew, conns, 17)
	}
	for _, nc := range peers {
		nc.Close()
	}
}

func TestHostileDeclaredLengthClient(t *testing.T) {
	checkGoroutines(t)
	const conns, declared = 10, 16 << 20
	hold := make(chan struct{})
	url := hostileAccept(t, func(nc net.Conn) {
		nc.Write(append(rpHeader(0x82, false, [4]byte{}, declared), 'a', 'b', 'c'))
		<-hold
	})
	before := heapInUse()
	var wg sync.WaitGroup
	var conn []*Conn
	for range conns {
		c := connDial(t, url, &DialOptions{Options: Options{ReadLimit: 64 << 20, CloseTimeout: 500 * time.Millisecond}})
		conn = append(conn, c)
		wg.Add(1)
		go func() { defer wg.Done(); _, _, _ = c.ReadMessage() }()
	}
	time.Sleep(300 * time.Millisecond)
	grew := heapInUse() - before
	t.Logf("client heap growth for %d servers each declaring %d bytes: %d bytes", conns, declared, grew)
	if grew > 2<<20 {
		t.Errorf("heap grew %d bytes for %d servers that sent 17 bytes each", grew, conns)
	}
	close(hold)
	for _, c := range conn {
		c.CloseNow()
	}
	wg.Wait()
}

// A message that does arrive is still read whole, across many reads.
func TestHostileDeclaredLengthStillReads(t *testing.T) {
	msg := rpBytes(3<<20+17, 7)
	url := hostileAccept(t, func(nc net.Conn) {
		b := append(rpHeader(0x82, false, [4]byte{}, uint64(len(msg))), msg...)
		for len(b) > 0 { // in small pieces, slowly at first
			n := min(len(b), 100_000)
			if _, err := nc.Write(b[:n]); err != nil {
				return
			}
			b = b[n:]
		}
		io.Copy(io.Discard, nc)
	})
	c := connDial(t, url, nil)
	defer c.CloseNow()
	_, got, err := c.ReadMessage()
	if err != nil || string(got) != string(msg) {
		t.Fatalf("ReadMessage: %d bytes, %v; want %d bytes", len(got), err, len(msg))
	}
}

// A peer that floods pings and never reads is failed once our pongs
// cannot be written within the write bound.
func TestHostilePingFloodNotReading(t *testing.T) {
	checkGoroutines(t)
	errc := make(chan error, 1)
	cfg := &Config{Options: Options{WriteTimeout: 300 * time.Millisecond, CloseTimeout: 300 * time.Millisecond}}
	addr := hostileServer(t, cfg, func(c *Conn, r *http.Request) {
		c.NetConn().(*net.TCPConn).SetWriteBuffer(4096)
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				errc <- err
				return
			}
		}
	})
	nc, _ := hostileDial(t, addr)
	nc.(*net.TCPConn).SetReadBuffer(4096)
	ping := rpEncode(rpPing([]byte(strings.Repeat("p", 125))), true)
	flood := make([]byte, 0, len(ping)*64)
	for range 64 {
		flood = append(flood, ping...)
	}
	stop := time.Now().Add(10 * time.Second)
	go func() {
		for time.Now().Before(stop) {
			nc.SetWriteDeadline(time.Now().Add(time.Second))
			if _, err := nc.Write(flood); err != nil && !isTimeout(err) {
				return
			}
		}
	}()
	select {
	case err := <-errc:
		if !errors.Is(err, ErrWriteTimeout) || !errors.Is(err, os.ErrDeadlineExceeded) {
			t.Errorf("reader error %v, want ErrWriteTimeout (matching os.ErrDeadlineExceeded)", err)
		}
	case <-time.After(8 * time.Second):
		t.Fatal("a ping flood from a peer that never reads was not stopped within 8 s")
	}
	nc.Close()
}

// Keepalive fails a connection whose peer stopped reading even while a
// large write to it is stuck, and the stuck writer returns.
func TestHostileKeepaliveUnsticksWriter(t *testing.T) {
	checkGoroutines(t)
	type result struct{ werr, rerr error }
	done := make(chan result, 1)
	cfg := &Config{Options: Options{WriteTimeout: -1, PingInterval: 200 * time.Millisecond,
		PongTimeout: 200 * time.Millisecond, CloseTimeout: 300 * time.Millisecond}}
	addr := hostileServer(t, cfg, func(c *Conn, r *http.Request) {
		rerrc := make(chan error, 1)
		go func() {
			_, _, err := c.ReadMessage()
			rerrc <- err
		}()
		werr := c.WriteMessage(BinaryMessage, make([]byte, 16<<20))
		done <- result{werr, <-rerrc}
	})
	nc, _ := hostileDial(t, addr) // never reads, never writes
	select {
	case r := <-done:
		if r.werr == nil || !errors.Is(r.rerr, ErrKeepaliveTimeout) {
			t.Errorf("write error %v, read error %v; want a write error and ErrKeepaliveTimeout", r.werr, r.rerr)
		}
		var ne net.Error
		if !errors.As(r.rerr, &ne) || !ne.Timeout() {
			t.Errorf("read error %v is not a timeout net.Error", r.rerr)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("keepalive did not free a writer stuck on a frozen peer within 5 s")
	}
	nc.Close()
}

// Keepalive detects a silent peer within PingInterval + PongTimeout of the
// last byte it sent (not up to twice PingInterval).
func TestHostileKeepaliveBound(t *testing.T) {
	checkGoroutines(t)
	const interval, pong = 500 * time.Millisecond, 100 * time.Millisecond
	type result struct {
		err error
		at  time.Time
	}
	res := make(chan result, 1)
	cfg := &Config{Options: Options{PingInterval: interval, PongTimeout: pong, CloseTimeout: 300 * time.Millisecond}}
	addr := hostileServer(t, cfg, func(c *Conn, r *http.Request) {
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				res <- result{err, time.Now()}
				return
			}
		}
	})
	nc, _ := hostileDial(t, addr)
	time.Sleep(interval / 10)
	if _, err := nc.Write(rpEncode(rpText("last words"), true)); err != nil {
		t.Fatal(err)
	}
	last := time.Now()
	select {
	case r := <-res:
		took := r.at.Sub(last)
		t.Logf("detected %v after the last byte (bound %v)", took, interval+pong)
		if !errors.Is(r.err, ErrKeepaliveTimeout) {
			t.Errorf("error %v, want ErrKeepaliveTimeout", r.err)
		}
		if took < interval+pong-50*time.Millisecond || took > interval+pong+250*time.Millisecond {
			t.Errorf("silent peer detected after %v, want about %v", took, interval+pong)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no keepalive timeout")
	}
	// The courtesy close frame says why.
	nc.SetReadDeadline(time.Now().Add(2 * time.Second))
	b, _ := io.ReadAll(nc)
	if !strings.Contains(string(b), "keepalive timeout") {
		t.Errorf("no close frame with a reason; peer read %q", b)
	}
}

// Every blocking write path returns once the connection is closed, and
// Write returns ctx.Err() when ctx ends while it waits for the slot.
func TestHostileWritesReturnAfterClose(t *testing.T) {
	checkGoroutines(t)
	a, b := net.Pipe() // b never reads: a's writes block
	defer b.Close()
	c := NewConn(a, RoleServer, &Options{WriteTimeout: -1, CloseTimeout: 200 * time.Millisecond})
	w, err := c.NextWriter(BinaryMessage) // holds the message slot
	if err != nil {
		t.Fatal(err)
	}
	// Write with a context ends with the context, connection untouched.
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	start := time.Now()
	if err := c.Write(ctx, TextMessage, []byte("x")); !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Write while the slot is held: %v, want DeadlineExceeded", err)
	}
	cancel()
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("Write took %v to notice its context", d)
	}
	select {
	case <-c.Done():
		t.Fatal("a Write that never started closed the connection")
	default:
	}

	// Now a frame write sticks on the transport (nobody reads b) while
	// every other write path waits; CloseNow must free them all.
	stuck := make(chan error, 1)
	go func() {
		_, err := w.Write(make([]byte, 64<<10))
		stuck <- err
	}()
	time.Sleep(50 * time.Millisecond)
	pm, _ := NewPreparedMessage(TextMessage, []byte("prepared"))
	calls := map[string]func() error{
		"WriteMessage":         func() error { return c.WriteMessage(TextMessage, []byte("x")) },
		"Write":                func() error { return c.Write(context.Background(), TextMessage, []byte("x")) },
		"WritePreparedMessage": func() error { return c.WritePreparedMessage(pm) },
		"Ping":                 func() error { return c.Ping(nil) },
		"WriteControl":         func() error { return c.WriteControl(PongMessage, nil, time.Time{}) },
		"Close":                func() error { return c.Close(CloseNormalClosure, "") },
	}
	errs := make(chan string, len(calls))
	for name, call := range calls {
		go func() {
			err := call()
			if err == nil {
				errs <- name + ": nil error"
				return
			}
			errs <- ""
		}()
	}
	time.Sleep(100 * time.Millisecond)
	c.CloseNow()
	deadline := time.After(3 * time.Second)
	for range calls {
		select {
		case msg := <-errs:
			if msg != "" {
				t.Error(msg)
			}
		case <-deadline:
			t.Fatal("a write call did not return within 3 s of CloseNow")
		}
	}
	select {
	case err := <-stuck:
		if err == nil {
			t.Error("the stuck message write returned nil")
		}
	case <-time.After(3 * time.Second):
		t.Fatal("the stuck write did not return after CloseNow")
	}
	if _, err := c.NextWriter(TextMessage); !errors.Is(err, ErrClosed) {
		t.Errorf("NextWriter after close: %v, want ErrClosed", err)
	}
}

// A second NextWriter while the first is open closes the first (gorilla's
// rule) instead of waiting for it forever.
func TestHostileSecondNextWriter(t *testing.T) {
	checkGoroutines(t)
	srvc := make(chan *Conn, 1)
	url := connServer(t, nil, func(c *Conn, r *http.Request) {
		srvc <- c
		<-c.Done()
	})
	cli := connDial(t, url, nil)
	defer cli.CloseNow()
	srv := <-srvc
	defer srv.CloseNow()
	w1, err := srv.NextWriter(TextMessage)
	if err != nil {
		t.Fatal(err)
	}
	io.WriteString(w1, "first")
	done := make(chan error, 1)
	go func() {
		w2, err := srv.NextWriter(TextMessage)
		if err == nil {
			io.WriteString(w2, "second")
			err = w2.Close()
		}
		done <- err
	}()
	select {
	case err := <-done:
		if err != nil {
			t.Fatal(err)
		}
	case <-time.After(3 * time.Second):
		t.Fatal("a second NextWriter blocked")
	}
	if _, err := io.WriteString(w1, "late"); !errors.Is(err, ErrWriterClosed) {
		t.Errorf("first writer after the second NextWriter: %v, want ErrWriterClosed", err)
	}
	for _, want := range []string{"first", "second"} {
		_, got, err := cli.ReadMessage()
		if err != nil || string(got) != want {
			t.Fatalf("read %q, %v; want %q", got, err, want)
		}
	}
}

// After failing the connection, the reader gets the cause at once, not
// after the close timeout spent waiting for the peer's close.
func TestHostileErrorAtOnce(t *testing.T) {
	const closeTimeout = 3 * time.Second
	t.Run("server", func(t *testing.T) {
		checkGoroutines(t)
		res := make(chan time.Duration, 1)
		errc := make(chan error, 1)
		cfg := &Config{Options: Options{CloseTimeout: closeTimeout}}
		addr := hostileServer(t, cfg, func(c *Conn, r *http.Request) {
			start := time.Now()
			_, _, err := c.ReadMessage()
			res <- time.Since(start)
			errc <- err
		})
		nc, _ := hostileDial(t, addr)
		nc.Write(rpEncode(rpText("unmasked"), false)) // a client must mask
		took := <-res
		if err := <-errc; !errors.Is(err, ErrProtocol) || CloseStatus(err) != 1002 {
			t.Errorf("error %v, want ErrProtocol with 1002", err)
		}
		if took > time.Second {
			t.Errorf("the protocol error came after %v (close timeout %v)", took, closeTimeout)
		}
		nc.Close()
	})
	t.Run("client", func(t *testing.T) {
		checkGoroutines(t)
		hold := make(chan struct{})
		url := hostileAccept(t, func(nc net.Conn) {
			nc.Write(rpEncode(rpText("masked"), true)) // a server must not mask
			<-hold
		})
		c := connDial(t, url, &DialOptions{Options: Options{CloseTimeout: closeTimeout}})
		start := time.Now()
		_, _, err := c.ReadMessage()
		took := time.Since(start)
		if !errors.Is(err, ErrProtocol) {
			t.Errorf("error %v, want ErrProtocol", err)
		}
		if took > time.Second {
			t.Errorf("the protocol error came after %v (close timeout %v)", took, closeTimeout)
		}
		close(hold)
		c.CloseNow()
	})
}

// Dial caps the response head: an endless header line, or endless header
// lines, fail with ErrResponseHeadTooLarge and cost little memory.
func TestHostileDialEndlessHead(t *testing.T) {
	for name, chunk := range map[string]string{
		"long-line":  strings.Repeat("a", 8192),
		"many-lines": strings.Repeat("X-Pad: aaaaaaaaaaaaaaaa\r\n", 300),
	} {
		t.Run(name, func(t *testing.T) {
			checkGoroutines(t)
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			defer ln.Close()
			go func() {
				nc, err := ln.Accept()
				if err != nil {
					return
				}
				defer nc.Close()
				http.ReadRequest(bufio.NewReader(nc))
				io.WriteString(nc, "HTTP/1.1 101 Switching Protocols\r\nX-Long: ")
				stop := time.Now().Add(5 * time.Second)
				for time.Now().Before(stop) { // up to 40 MB, or until Dial gives up
					nc.SetWriteDeadline(time.Now().Add(time.Second))
					if _, err := io.WriteString(nc, chunk); err != nil {
						return
					}
				}
			}()
			before := heapInUse()
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_, _, err = Dial(ctx, "ws://"+ln.Addr().String()+"/", nil)
			grew := heapInUse() - before
			if !errors.Is(err, ErrResponseHeadTooLarge) {
				t.Errorf("Dial: %v, want ErrResponseHeadTooLarge", err)
			}
			if grew > 1<<20 {
				t.Errorf("Dial held %d bytes reading an endless head", grew)
			}
		})
	}
}
