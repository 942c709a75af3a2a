package websocket

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"
)

// startUpgradeServer serves s on a loopback listener (TLS when tlsCfg is
// set) and returns its address; Serve's result is checked at cleanup.
func startUpgradeServer(t *testing.T, s *UpgradeServer, tlsCfg *tls.Config) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	if tlsCfg != nil {
		ln = tls.NewListener(ln, tlsCfg)
	}
	errc := make(chan error, 1)
	go func() { errc <- s.Serve(ln) }()
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := s.Shutdown(ctx); err != nil {
			t.Errorf("Shutdown: %v", err)
		}
		if err := <-errc; !errors.Is(err, ErrServerClosed) {
			t.Errorf("Serve returned %v, want ErrServerClosed", err)
		}
	})
	return ln.Addr().String()
}

// rawRequest sends head (and extra) on a new connection and returns the
// response status line and the connection.
func rawRequest(t *testing.T, addr, head string) (string, *bufio.Reader, net.Conn) {
	t.Helper()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { nc.Close() })
	_ = nc.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(nc, head); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(nc)
	line, err := br.ReadString('\n')
	if err != nil {
		t.Fatalf("reading the status line: %v", err)
	}
	return strings.TrimSpace(line), br, nc
}

const usUpgradeHead = "GET /chat?x=1 HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
	"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n%s\r\n"

func TestUpgradeServerEcho(t *testing.T) {
	checkGoroutines(t)
	paths := make(chan string, 1)
	s := &UpgradeServer{Handler: func(c *Conn, r *http.Request) {
		paths <- r.URL.Path + " " + r.URL.RawQuery + " " + fmt.Sprint(r.RemoteAddr != "")
		connEcho(c, r)
	}}
	addr := startUpgradeServer(t, s, nil)
	c := connDial(t, "ws://"+addr+"/chat?x=1", nil)
	defer c.CloseNow()
	for _, n := range []int{5, 0, 125, 126, 65536, 1 << 20} {
		p := bytes.Repeat([]byte{'a'}, n)
		if err := c.WriteMessage(BinaryMessage, p); err != nil {
			t.Fatal(err)
		}
		if _, q, err := c.ReadMessage(); err != nil || !bytes.Equal(p, q) {
			t.Fatalf("echo of %d bytes: %d bytes, %v", n, len(q), err)
		}
	}
	if got := <-paths; got != "/chat x=1 true" {
		t.Errorf("handler saw %q", got)
	}
	if err := c.Close(CloseNormalClosure, ""); err != nil {
		t.Errorf("Close: %v", err)
	}
}

// A client's first frame sent with its request (in the same segment) is
// read by the connection: the bytes past the head are not lost.
func TestUpgradeServerPipelinedFrame(t *testing.T) {
	s := &UpgradeServer{Handler: func(c *Conn, r *http.Request) { connEcho(c, r) }}
	addr := startUpgradeServer(t, s, nil)
	frame := rpEncode(rpText("first"), true)
	line, br, _ := rawRequest(t, addr, fmt.Sprintf(usUpgradeHead, addr, "")+string(frame))
	if line != "HTTP/1.1 101 Switching Protocols" {
		t.Fatalf("status %q", line)
	}
	var head strings.Builder
	for {
		l, err := br.ReadString('\n')
		if err != nil {
			t.Fatal(err)
		}
		if l == "\r\n" {
			break
		}
		head.WriteString(l)
	}
	if !strings.Contains(head.String(), "Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n") {
		t.Errorf("response head:\n%s", head.String())
	}
	got := make([]byte, 7)
	if _, err := io.ReadFull(br, got); err != nil || string(got[2:]) != "first" {
		t.Fatalf("echo %q, %v", got, err)
	}
}

func TestUpgradeServerRefusals(t *testing.T) {
	checkGoroutines(t)
	ran := make(chan struct{}, 1)
	s := &UpgradeServer{
		Handler:           func(c *Conn, r *http.Request) { ran <- struct{}{} },
		ReadHeaderTimeout: 300 * time.Millisecond,
		MaxHeaderBytes:    8 << 10,
	}
	addr := startUpgradeServer(t, s, nil)
	cases := []struct {
		name, head, status, header string
	}{
		{"version", strings.Replace(fmt.Sprintf(usUpgradeHead, addr, ""), "Version: 13", "Version: 8", 1),
			"HTTP/1.1 426 Upgrade Required", "Sec-Websocket-Version: 13"},
		{"cross origin", fmt.Sprintf(usUpgradeHead, addr, "Origin: http://evil.example\r\n"),
			"HTTP/1.1 403 Forbidden", ""},
		{"not an upgrade", "GET / HTTP/1.1\r\nHost: " + addr + "\r\n\r\n",
			"HTTP/1.1 426 Upgrade Required", "Upgrade: websocket"},
		{"garbage", "NOT HTTP AT ALL\r\n\r\n", "HTTP/1.1 400 Bad Request", ""},
		{"head too large", fmt.Sprintf(usUpgradeHead, addr, "X-Big: "+strings.Repeat("b", 9<<10)+"\r\n"),
			"HTTP/1.1 431 Request Header Fields Too Large", ""},
		{"body", fmt.Sprintf(usUpgradeHead, addr, "Content-Length: 3\r\n") + "abc",
			"HTTP/1.1 426 Upgrade Required", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			line, br, _ := rawRequest(t, addr, tc.head)
			if line != tc.status {
				t.Fatalf("status %q, want %q", line, tc.status)
			}
			rest, _ := io.ReadAll(br) // the server closes after a refusal
			if tc.header != "" && !strings.Contains(string(rest), tc.header) {
				t.Errorf("response lacks %q:\n%s", tc.header, rest)
			}
		})
	}
	select {
	case <-ran:
		t.Fatal("the handler ran for a refused request")
	default:
	}

	// Slowloris: a head that never ends is cut off at ReadHeaderTimeout.
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	io.WriteString(nc, "GET / HTTP/1.1\r\nHost: x\r\n")
	start := time.Now()
	_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := nc.Read(make([]byte, 1)); err == nil || n != 0 {
		t.Fatalf("read %d, %v: want the connection closed", n, err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("closed after %v, want about ReadHeaderTimeout (300ms)", d)
	}

	// A client that sends nothing at all is cut off alike.
	silent, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer silent.Close()
	start = time.Now()
	_ = silent.SetReadDeadline(time.Now().Add(5 * time.Second))
	if n, err := silent.Read(make([]byte, 1)); err == nil || n != 0 {
		t.Fatalf("silent client: read %d, %v: want the connection closed", n, err)
	}
	if d := time.Since(start); d > 3*time.Second {
		t.Fatalf("silent client closed after %v, want about ReadHeaderTimeout (300ms)", d)
	}
}

// Requests that are not upgrades reach Fallback over the same connection,
// keep-alive included, and upgrades still work beside them.
func TestUpgradeServerFallback(t *testing.T) {
	checkGoroutines(t)
	s := &UpgradeServer{
		Handler: func(c *Conn, r *http.Request) { connEcho(c, r) },
		Fallback: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			body, _ := io.ReadAll(r.Body)
			fmt.Fprintf(w, "%s %s %s", r.Method, r.URL.Path, body)
		}),
	}
	addr := startUpgradeServer(t, s, nil)
	tr := &http.Transport{MaxIdleConnsPerHost: 1}
	defer tr.CloseIdleConnections()
	client := &http.Client{Transport: tr, Timeout: 10 * time.Second}
	for i, req := range []struct{ method, path, body string }{
		{"GET", "/stats", ""}, {"POST", "/form", "a=1"}, {"GET", "/again", ""},
	} {
		r, _ := http.NewRequest(req.method, "http://"+addr+req.path, strings.NewReader(req.body))
		resp, err := client.Do(r)
		if err != nil {
			t.Fatalf("request %d: %v", i, err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if want := req.method + " " + req.path + " " + req.body; string(b) != want {
			t.Errorf("request %d: %q, want %q", i, b, want)
		}
	}
	c := connDial(t, "ws://"+addr+"/", nil)
	dialEcho(t, c)
	c.Close(CloseNormalClosure, "")
}

func TestUpgradeServerTLS(t *testing.T) {
	ts := httptest.NewTLSServer(http.NotFoundHandler())
	defer ts.Close()
	cfg := ts.TLS.Clone()
	cfg.NextProtos = []string{"http/1.1"}
	s := &UpgradeServer{
		Handler: func(c *Conn, r *http.Request) {
			if r.TLS == nil {
				c.Close(CloseInternalServerErr, "no TLS state")
				return
			}
			connEcho(c, r)
		},
		// Requests handed to the fallback server see the TLS state too.
		Fallback: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			fmt.Fprintf(w, "tls=%v", r.TLS != nil && r.TLS.HandshakeComplete)
		}),
	}
	addr := startUpgradeServer(t, s, cfg)
	pool := ts.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	tlsCfg := &tls.Config{RootCAs: pool, ServerName: "example.com"}
	c := connDial(t, "wss://"+addr+"/", &DialOptions{TLSConfig: tlsCfg})
	dialEcho(t, c)
	tr := &http.Transport{TLSClientConfig: tlsCfg}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr, Timeout: 10 * time.Second}).Get("https://" + addr + "/page")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if string(body) != "tls=true" {
		t.Fatalf("fallback handler saw %q", body)
	}

	// The same over Upgrades: the handler's request has the TLS state,
	// and an https Origin of the same host passes Upgrade's check.
	su := &UpgradeServer{Upgrades: Handler(nil, s.Handler)}
	addr2 := startUpgradeServer(t, su, cfg)
	h := http.Header{"Origin": {"https://" + addr2}}
	c2 := connDial(t, "wss://"+addr2+"/", &DialOptions{TLSConfig: tlsCfg, Header: h})
	dialEcho(t, c2)
}

// Shutdown stops accepting but leaves upgraded connections to their
// handlers; a Serve after Shutdown returns at once.
func TestUpgradeServerShutdown(t *testing.T) {
	checkGoroutines(t)
	s := &UpgradeServer{Handler: func(c *Conn, r *http.Request) { connEcho(c, r) }}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- s.Serve(ln) }()
	c := connDial(t, "ws://"+ln.Addr().String()+"/", nil)
	if err := s.Shutdown(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := <-errc; !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve: %v", err)
	}
	if err := c.WriteMessage(TextMessage, []byte("still served")); err != nil {
		t.Fatal(err)
	}
	if _, p, err := c.ReadMessage(); err != nil || string(p) != "still served" {
		t.Fatalf("after Shutdown: %q, %v", p, err)
	}
	if _, _, err := Dial(context.Background(), "ws://"+ln.Addr().String()+"/", nil); err == nil {
		t.Fatal("dial after Shutdown succeeded")
	}
	ln2, _ := net.Listen("tcp", "127.0.0.1:0")
	if err := s.Serve(ln2); !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve after Shutdown: %v", err)
	}
	c.Close(CloseNormalClosure, "")
	if err := (&UpgradeServer{}).Serve(ln2); err == nil {
		t.Fatal("Serve without a Handler succeeded")
	}
}

// FuzzUpgradeServerHead feeds arbitrary bytes to UpgradeServer's head
// reading, parsing and handshake (with Handler, and with Upgrades): the answer is a 101 (and the handler
// runs) or a refusal with a status line, never a panic or a hang (the
// head read is bounded by ReadHeaderTimeout and MaxHeaderBytes).
func FuzzUpgradeServerHead(f *testing.F) {
	const host = "example.com"
	for _, seed := range []string{
		fmt.Sprintf(usUpgradeHead, host, ""),
		fmt.Sprintf(usUpgradeHead, host, "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n") + "\x81\x85abcd",
		fmt.Sprintf(usUpgradeHead, host, "Origin: http://evil.example\r\n"),
		fmt.Sprintf(usUpgradeHead, host, "Content-Length: 2\r\n") + "hi",
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET / HTTP/1.0\r\n\r\n",
		"\r\n\r\n", "GET\r\n\r\n", "GET / HTTP/1.1\nHost: x\n\n",
		"GET / HTTP/1.1\r\nHost: x\r\n" + strings.Repeat("X: y\r\n", 200) + "\r\n",
	} {
		f.Add([]byte(seed))
	}
	s := &UpgradeServer{
		Handler:           func(c *Conn, r *http.Request) {},
		ReadHeaderTimeout: time.Second,
		MaxHeaderBytes:    1 << 10,
	}
	// The same through Upgrades: websocket.Handler's Upgrade and the
	// ResponseWriter UpgradeServer gives it.
	su := &UpgradeServer{
		Upgrades:          Handler(nil, func(c *Conn, r *http.Request) {}),
		ReadHeaderTimeout: time.Second,
		MaxHeaderBytes:    1 << 10,
	}
	f.Fuzz(func(t *testing.T, in []byte) {
		for _, s := range []*UpgradeServer{s, su} {
			c := &fuzzHeadConn{in: bytes.NewReader(in)}
			s.inflight.Add(1)
			s.serveConn(c)                // returns once the head is answered or the input ends
			out := []byte(c.out.String()) // the handler may still be writing
			if len(out) > 0 && !bytes.HasPrefix(out, []byte("HTTP/1.1 ")) {
				t.Fatalf("answer %q", out)
			}
			if bytes.HasPrefix(out, []byte("HTTP/1.1 101 ")) && !bytes.Contains(in, []byte("\r\n\r\n")) {
				t.Fatalf("101 without a complete head: %q", in)
			}
		}
	})
}

// fuzzHeadConn is a connection that reads in and then EOF, and keeps what
// is written to it (by serveConn, then by the connection's handler).
type fuzzHeadConn struct {
	in  *bytes.Reader // read by serveConn, then by the Conn it made
	out syncBuf
}

func (c *fuzzHeadConn) Read(p []byte) (int, error)  { return c.in.Read(p) }
func (c *fuzzHeadConn) Write(p []byte) (int, error) { return c.out.Write(p) }

func (c *fuzzHeadConn) Close() error { return nil }
func (c *fuzzHeadConn) LocalAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 80}
}
func (c *fuzzHeadConn) RemoteAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1234}
}
func (c *fuzzHeadConn) SetDeadline(time.Time) error      { return nil }
func (c *fuzzHeadConn) SetReadDeadline(time.Time) error  { return nil }
func (c *fuzzHeadConn) SetWriteDeadline(time.Time) error { return nil }

// Clients that connect and send nothing hold no head buffer while the
// server waits for their first byte; once they send, they are served.
func TestUpgradeServerSilentClientsHoldNoBuffer(t *testing.T) {
	if runtime.GOOS == "windows" || runtime.GOOS == "js" || runtime.GOOS == "wasip1" {
		t.Skip("the buffer-free wait is for Unix sockets")
	}
	checkGoroutines(t)
	s := &UpgradeServer{Handler: func(c *Conn, r *http.Request) { connEcho(c, r) }}
	addr := startUpgradeServer(t, s, nil)
	before := headBufsOut.Load()
	var conns []net.Conn
	for range 50 {
		nc, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer nc.Close()
		conns = append(conns, nc)
	}
	// The server has accepted them all once a dial after them is served.
	c := connDial(t, "ws://"+addr+"/", nil)
	c.CloseNow()
	time.Sleep(50 * time.Millisecond)
	if held := headBufsOut.Load() - before; held != 0 {
		t.Fatalf("%d head buffers held for 50 silent clients", held)
	}
	for _, nc := range conns {
		io.WriteString(nc, fmt.Sprintf(usUpgradeHead, addr, ""))
	}
	for _, nc := range conns {
		_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
		line, err := bufio.NewReader(nc).ReadString('\n')
		if err != nil || line != "HTTP/1.1 101 Switching Protocols\r\n" {
			t.Fatalf("after sending: %q, %v", line, err)
		}
	}
}

// bufferingConn is a socket wrapper that has read ahead (as a PROXY
// protocol listener does): its Read serves a bufio.Reader, and it still
// offers the socket's SyscallConn (promoted from *net.TCPConn).
type bufferingConn struct {
	*net.TCPConn
	br *bufio.Reader
}

func (b *bufferingConn) Read(p []byte) (int, error) { return b.br.Read(p) }

type bufferingListener struct{ net.Listener }

func (l bufferingListener) Accept() (net.Conn, error) {
	nc, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	bc := &bufferingConn{TCPConn: nc.(*net.TCPConn), br: bufio.NewReader(nc)}
	_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := bc.br.Peek(1); err != nil { // reads what the client sent
		nc.Close()
		return nil, err
	}
	return bc, nil
}

// A listener whose connections have read the request head ahead is
// served at once: the wait for a first byte does not look past them at
// the socket.
func TestUpgradeServerBufferingListener(t *testing.T) {
	s := &UpgradeServer{Handler: func(c *Conn, r *http.Request) { connEcho(c, r) }, ReadHeaderTimeout: 3 * time.Second}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s.Serve(bufferingListener{ln})
	t.Cleanup(func() { s.Close() })
	addr := ln.Addr().String()
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	start := time.Now()
	io.WriteString(nc, fmt.Sprintf(usUpgradeHead, addr, ""))
	_ = nc.SetReadDeadline(time.Now().Add(5 * time.Second))
	line, err := bufio.NewReader(nc).ReadString('\n')
	if err != nil || line != "HTTP/1.1 101 Switching Protocols\r\n" {
		t.Fatalf("%q, %v", line, err)
	}
	if d := time.Since(start); d > time.Second {
		t.Fatalf("answered after %v: the head the wrapper buffered waited for more input", d)
	}
}
