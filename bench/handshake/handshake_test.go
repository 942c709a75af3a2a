// Package handshake compares the server side of the WebSocket opening
// handshake of this module with gorilla/websocket and lxzan/gws on the
// same requests, in process:
//
//   - BenchmarkUpgrade: each library's upgrade call on a parsed request,
//     through a ResponseWriter that hijacks to an in-memory net.Conn (the
//     101 is counted and dropped), then the library's close. No network,
//     no net/http server, no read: the library's handshake and connection
//     set-up alone, CPU and allocations per handshake. (A read on the
//     in-memory conn would not be representative: ours waits for input
//     on TCP without a buffer, but takes one on any other net.Conn.)
//   - BenchmarkLoopback: a real net/http server on 127.0.0.1 per library
//     and a raw client (dial, request, read the 101, close with RST) in
//     the same process. ns/op and allocs/op cover client and server; the
//     "floor" server, which hijacks and writes a fixed 101 without any
//     checks, shows the part every library pays (net/http, TCP, client).
//
// Besides ns/op, each benchmark reports cpu-ns/op, the process CPU time
// (all threads, garbage collection included) per handshake, which a
// shared machine disturbs much less.
//
// Run: go test -bench . -benchmem ./handshake/ (from bench/).
package handshake

import (
	"bufio"
	"bytes"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	gorilla "github.com/gorilla/websocket"
	"github.com/lxzan/gws"
	websocket "github.com/rfc6455/websocket"
)

const (
	reqPlain = "GET /ws HTTP/1.1\r\nHost: example.com\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
	// reqFull adds what a browser sends: Origin (same origin),
	// subprotocols and a permessage-deflate offer.
	reqFull = reqPlain + "Origin: http://example.com\r\nSec-WebSocket-Protocol: chat, superchat\r\n" +
		"Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n" +
		"User-Agent: Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36\r\n" +
		"Accept-Encoding: gzip, deflate, br\r\nAccept-Language: en-US,en;q=0.9\r\nCache-Control: no-cache\r\nPragma: no-cache\r\n"
)

// memConn is a net.Conn whose reads see EOF and whose writes are counted
// and dropped.
type memConn struct{ written int }

var memAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 8080}

func (c *memConn) Read([]byte) (int, error)         { return 0, io.EOF }
func (c *memConn) Write(p []byte) (int, error)      { c.written += len(p); return len(p), nil }
func (c *memConn) Close() error                     { return nil }
func (c *memConn) LocalAddr() net.Addr              { return memAddr }
func (c *memConn) RemoteAddr() net.Addr             { return memAddr }
func (c *memConn) SetDeadline(time.Time) error      { return nil }
func (c *memConn) SetReadDeadline(time.Time) error  { return nil }
func (c *memConn) SetWriteDeadline(time.Time) error { return nil }

// hijackWriter is a ResponseWriter that hijacks to a memConn with 4 KiB
// bufio buffers, as net/http hands them over (pooled: reset per request).
type hijackWriter struct {
	h      http.Header
	conn   *memConn
	brw    *bufio.ReadWriter
	status int
}

func newHijackWriter() *hijackWriter {
	c := &memConn{}
	return &hijackWriter{h: http.Header{}, conn: c,
		brw: bufio.NewReadWriter(bufio.NewReaderSize(c, 4096), bufio.NewWriterSize(c, 4096))}
}

func (w *hijackWriter) reset() {
	clear(w.h)
	w.status = 0
	w.brw.Reader.Reset(w.conn)
	w.brw.Writer.Reset(w.conn)
}

func (w *hijackWriter) Header() http.Header         { return w.h }
func (w *hijackWriter) Write(p []byte) (int, error) { return len(p), nil }
func (w *hijackWriter) WriteHeader(s int)           { w.status = s }
func (w *hijackWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return w.conn, w.brw, nil
}

// handshaker upgrades one request and closes the connection the library's
// own way; with read set, it first reads until the read fails (the loopback
// benchmark, where the client's RST ends it).
type handshaker func(w http.ResponseWriter, r *http.Request) error

type lib struct {
	name string
	make func(full, read bool) handshaker
}

var libs = []lib{
	{"ours", func(full, read bool) handshaker {
		cfg := websocket.DefaultConfig()
		if full {
			cfg.Subprotocols = []string{"superchat"}
			cfg.Compression = &websocket.CompressionOptions{}
		}
		return func(w http.ResponseWriter, r *http.Request) error {
			c, err := websocket.Upgrade(w, r, cfg)
			if err != nil {
				return err
			}
			if read {
				c.ReadMessage()
			}
			return c.CloseNow()
		}
	}},
	{"gorilla", func(full, read bool) handshaker {
		// As bench/servers writes it: 4 KiB buffers of its own.
		up := &gorilla.Upgrader{ReadBufferSize: 4096, WriteBufferSize: 4096}
		if full {
			up.Subprotocols = []string{"superchat"}
			up.EnableCompression = true
		}
		return gorillaHandshaker(up, read)
	}},
	{"gorilla-reuse", func(full, read bool) handshaker {
		// Buffer sizes zero: gorilla reuses the hijacked bufio buffers,
		// its cheapest configuration.
		up := &gorilla.Upgrader{}
		if full {
			up.Subprotocols = []string{"superchat"}
			up.EnableCompression = true
		}
		return gorillaHandshaker(up, read)
	}},
	{"gws", func(full, read bool) handshaker {
		opt := &gws.ServerOption{}
		if full {
			opt.SubProtocols = []string{"superchat"}
			opt.PermessageDeflate = gws.PermessageDeflate{Enabled: true}
		}
		up := gws.NewUpgrader(gws.BuiltinEventHandler{}, opt)
		return func(w http.ResponseWriter, r *http.Request) error {
			socket, err := up.Upgrade(w, r)
			if err != nil {
				return err
			}
			if read {
				socket.ReadLoop() // returns when the read fails, after OnClose
				return nil
			}
			return socket.NetConn().Close()
		}
	}},
}

func gorillaHandshaker(up *gorilla.Upgrader, read bool) handshaker {
	return func(w http.ResponseWriter, r *http.Request) error {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return err
		}
		if read {
			c.ReadMessage()
		}
		return c.Close()
	}
}

func parseRequest(tb testing.TB, raw string) *http.Request {
	r, err := http.ReadRequest(bufio.NewReader(strings.NewReader(raw + "\r\n")))
	if err != nil {
		tb.Fatal(err)
	}
	return r
}

// TestUpgradeAccepts checks that every library accepts the benchmark's
// requests and answers 101 with what the request asked for, so that the
// benchmarks measure a successful handshake.
func TestUpgradeAccepts(t *testing.T) {
	for _, l := range libs {
		for _, full := range []bool{false, true} {
			raw := reqPlain
			if full {
				raw = reqFull
			}
			w := newHijackWriter()
			var out bytes.Buffer
			w.brw.Writer.Reset(&out)
			if err := l.make(full, false)(w, parseRequest(t, raw)); err != nil {
				t.Fatalf("%s full=%v: %v", l.name, full, err)
			}
			if w.conn.written == 0 && out.Len() == 0 {
				t.Fatalf("%s full=%v: no 101 written", l.name, full)
			}
		}
	}
}

func BenchmarkUpgrade(b *testing.B) {
	for _, kind := range []string{"plain", "full"} {
		raw := reqPlain
		if kind == "full" {
			raw = reqFull
		}
		for _, l := range libs {
			b.Run(kind+"/"+l.name, func(b *testing.B) {
				r := parseRequest(b, raw)
				hs := l.make(kind == "full", false)
				w := newHijackWriter()
				b.ReportAllocs()
				cpu := startCPU()
				for b.Loop() {
					w.reset()
					if err := hs(w, r); err != nil {
						b.Fatal(err)
					}
				}
				cpu.report(b)
			})
		}
	}
}

// floor hijacks and writes a fixed 101 without checking anything: the
// cost every library shares.
func floor(w http.ResponseWriter, r *http.Request) {
	nc, _, err := http.NewResponseController(w).Hijack()
	if err != nil {
		return
	}
	nc.Write([]byte("HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n\r\n"))
	var b [1]byte
	nc.Read(b[:])
	nc.Close()
}

func BenchmarkLoopback(b *testing.B) {
	handlers := []struct {
		name string
		h    http.Handler
	}{{"floor", http.HandlerFunc(floor)}}
	for _, l := range libs {
		hs := l.make(false, true)
		if l.name == "gws" {
			// gws's examples return from the handler and read on a
			// goroutine of their own.
			up := gws.NewUpgrader(gws.BuiltinEventHandler{}, &gws.ServerOption{})
			handlers = append(handlers, struct {
				name string
				h    http.Handler
			}{l.name, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if socket, err := up.Upgrade(w, r); err == nil {
					go socket.ReadLoop()
				}
			})})
			continue
		}
		handlers = append(handlers, struct {
			name string
			h    http.Handler
		}{l.name, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { hs(w, r) })})
	}
	for _, hd := range handlers {
		b.Run(hd.name, func(b *testing.B) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				b.Fatal(err)
			}
			srv := &http.Server{Handler: hd.h, ReadHeaderTimeout: 5 * time.Second}
			go srv.Serve(ln)
			defer srv.Close()
			req := []byte(strings.Replace(reqPlain, "example.com", ln.Addr().String(), 1) + "\r\n")
			buf := make([]byte, 1024)
			b.ReportAllocs()
			cpu := startCPU()
			for b.Loop() {
				if err := loopbackHandshake(ln.Addr().String(), req, buf); err != nil {
					b.Fatal(err)
				}
			}
			cpu.report(b)
		})
	}
}

func loopbackHandshake(addr string, req, buf []byte) error {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		return err
	}
	tc := nc.(*net.TCPConn)
	defer tc.Close()
	tc.SetLinger(0) // RST on close: no TIME_WAIT pile-up over many iterations
	tc.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := tc.Write(req); err != nil {
		return err
	}
	n := 0
	for !bytes.Contains(buf[:n], []byte("\r\n\r\n")) {
		m, err := tc.Read(buf[n:])
		if err != nil {
			return err
		}
		n += m
	}
	if !bytes.HasPrefix(buf[:n], []byte("HTTP/1.1 101 ")) {
		return io.ErrUnexpectedEOF
	}
	return nil
}

// cpuMeter reports the process CPU time per iteration as "cpu-ns/op":
// on a shared machine the wall time per iteration (ns/op) counts the time
// other processes held the cores, the CPU time does not.
type cpuMeter struct {
	start time.Duration
	ok    bool
}

func startCPU() cpuMeter {
	t, ok := cpuTime()
	return cpuMeter{t, ok}
}

func (m cpuMeter) report(b *testing.B) {
	if t, ok := cpuTime(); ok && m.ok && b.N > 0 {
		b.ReportMetric(float64(t-m.start)/float64(b.N), "cpu-ns/op")
	}
}
