// Package compress measures permessage-deflate (RFC 7692) in
// rfc6455/websocket next to gorilla/websocket, on the same JSON-like input,
// through each library's public API:
//
//   - BenchmarkCompress: WriteMessage of 1 KiB and 64 KiB messages on a
//     compressed server connection whose peer discards the bytes. MB/s is
//     of uncompressed input; "wire/raw" is compressed payload bytes over
//     input bytes (frame headers excluded).
//   - BenchmarkDecompress: ReadMessage of the same messages, compressed
//     beforehand by compress/flate as a client would send them (masked).
//   - BenchmarkMemoryPerConn: the heap each server connection keeps over
//     loopback TCP after it read one 1 KiB message and echoed it, waiting
//     in ReadMessage for the next (after GC, pools drained), uncompressed
//     and compressed with and without context takeover.
//
// Both libraries compress at their default level (flate.BestSpeed for
// both). gorilla/websocket supports only no context takeover, so its
// takeover rows are absent. Connections are made by each library's own
// Upgrade over an in-memory net.Conn (no sockets) for the throughput
// figures: what is measured is the library, not the kernel.
//
//	go test -run='^$' -bench=. -benchmem -count=3 ./compress/
package compress

import (
	"bufio"
	"bytes"
	"compress/flate"
	"context"
	"encoding/binary"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	coder "github.com/coder/websocket"
	gorilla "github.com/gorilla/websocket"
	"github.com/lxzan/gws"
	ours "github.com/rfc6455/websocket"
)

// ---- input ----

var words = []string{"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel",
	"india", "juliett", "kilo", "lima", "mike", "november", "oscar", "papa"}

// jsonDoc returns a JSON array of chat/event records, exactly size bytes
// (the last record is cut and the array padded with spaces and closed).
func jsonDoc(seed uint64, size int) []byte {
	r := rand.New(rand.NewPCG(seed, 42))
	w := func() string { return words[r.IntN(len(words))] }
	b := []byte{'['}
	for len(b) < size {
		b = fmt.Appendf(b, `{"id":%d,"user":"user_%03d","room":"%s","type":"message","ts":%d,"text":"%s %s %s %s %s","likes":%d,"tags":["%s","%s"]},`,
			r.IntN(10_000_000), r.IntN(1000), w(), 1_700_000_000_000+r.Int64N(1e9), w(), w(), w(), w(), w(), r.IntN(50), w(), w())
	}
	b = b[:size-1]
	return append(b, ']')
}

// docs returns n distinct documents of size bytes: benchmarks rotate
// through them, so that context takeover does not see the same message
// again within its window.
func docs(size, n int) [][]byte {
	out := make([][]byte, n)
	for i := range out {
		out[i] = jsonDoc(uint64(size*1000+i), size)
	}
	return out
}

var sizes = []struct {
	name string
	size int
}{{"1KiB", 1 << 10}, {"64KiB", 64 << 10}}

// ---- an in-memory connection ----

// memConn is a net.Conn that reads from src and counts (and otherwise
// discards) what is written, parsing the frame headers so that it can
// tell payload bytes from header bytes.
type memConn struct {
	src     io.Reader
	written int64
	payload int64
	hdr     []byte // partial frame header
	skip    int64  // payload bytes of the current frame still to come
	started bool   // the 101 response has been written
}

func (c *memConn) Read(p []byte) (int, error) {
	if c.src == nil {
		return 0, io.EOF
	}
	return c.src.Read(p)
}

func (c *memConn) Write(p []byte) (int, error) {
	n := len(p)
	c.written += int64(n)
	if !c.started {
		// The handshake response comes in one write.
		c.started = true
		return n, nil
	}
	for len(p) > 0 {
		if c.skip > 0 {
			k := min(int64(len(p)), c.skip)
			c.skip -= k
			c.payload += k
			p = p[k:]
			continue
		}
		c.hdr = append(c.hdr, p[0])
		p = p[1:]
		if len(c.hdr) < 2 {
			continue
		}
		need := 2
		switch c.hdr[1] & 0x7f {
		case 126:
			need = 4
		case 127:
			need = 10
		}
		if c.hdr[1]&0x80 != 0 {
			need += 4
		}
		if len(c.hdr) < need {
			continue
		}
		switch l := int64(c.hdr[1] & 0x7f); l {
		case 126:
			c.skip = int64(binary.BigEndian.Uint16(c.hdr[2:]))
		case 127:
			c.skip = int64(binary.BigEndian.Uint64(c.hdr[2:]))
		default:
			c.skip = l
		}
		c.hdr = c.hdr[:0]
	}
	return n, nil
}

func (c *memConn) Close() error                     { return nil }
func (c *memConn) LocalAddr() net.Addr              { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 80} }
func (c *memConn) RemoteAddr() net.Addr             { return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 50000} }
func (c *memConn) SetDeadline(time.Time) error      { return nil }
func (c *memConn) SetReadDeadline(time.Time) error  { return nil }
func (c *memConn) SetWriteDeadline(time.Time) error { return nil }

// hijacker is the http.ResponseWriter a server hands to Upgrade: it
// hijacks to a memConn, with the 4 KiB bufio buffers net/http would give.
type hijacker struct {
	h  http.Header
	nc *memConn
}

func (w *hijacker) Header() http.Header         { return w.h }
func (w *hijacker) Write(p []byte) (int, error) { return len(p), nil }
func (w *hijacker) WriteHeader(int)             {}
func (w *hijacker) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return w.nc, bufio.NewReadWriter(bufio.NewReaderSize(w.nc, 4096), bufio.NewWriterSize(w.nc, 4096)), nil
}

func upgradeRequest(offer string) *http.Request {
	r := httptest.NewRequest(http.MethodGet, "http://example.com/ws", nil)
	r.Header.Set("Upgrade", "websocket")
	r.Header.Set("Connection", "Upgrade")
	r.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	r.Header.Set("Sec-WebSocket-Version", "13")
	if offer != "" {
		r.Header.Set("Sec-WebSocket-Extensions", offer)
	}
	return r
}

// Offers: with context takeover both ways, and without.
const (
	offerTakeover   = "permessage-deflate"
	offerNoTakeover = "permessage-deflate; client_no_context_takeover; server_no_context_takeover"
)

// conn is what the benchmarks need of either library's server connection.
type conn interface {
	WriteMessage(mt int, p []byte) error
	ReadMessage() (int, []byte, error)
}

type oursConn struct{ c *ours.Conn }

func (o oursConn) WriteMessage(mt int, p []byte) error {
	return o.c.WriteMessage(ours.MessageType(mt), p)
}
func (o oursConn) ReadMessage() (int, []byte, error) {
	mt, p, err := o.c.ReadMessage()
	return int(mt), p, err
}

// newServer upgrades an in-memory connection with library lib ("ours" or
// "gorilla"); compress says whether permessage-deflate is offered (and
// enabled on our side), takeover whether with context takeover.
func newServer(tb testing.TB, lib string, compress, takeover bool, src io.Reader) (conn, *memConn) {
	tb.Helper()
	nc := &memConn{src: src}
	w := &hijacker{h: make(http.Header), nc: nc}
	offer := ""
	if compress {
		offer = offerNoTakeover
		if takeover {
			offer = offerTakeover
		}
	}
	r := upgradeRequest(offer)
	switch lib {
	case "ours":
		cfg := ours.DefaultConfig()
		if compress {
			cfg.Compression = &ours.CompressionOptions{ContextTakeover: takeover}
		}
		c, err := ours.Upgrade(w, r, cfg)
		if err != nil {
			tb.Fatal(err)
		}
		if c.Compressed() != compress {
			tb.Fatalf("ours: compression negotiated %v, want %v", c.Compressed(), compress)
		}
		return oursConn{c}, nc
	case "gorilla":
		if takeover {
			tb.Fatal("gorilla/websocket has no context takeover")
		}
		up := gorilla.Upgrader{EnableCompression: compress}
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			tb.Fatal(err)
		}
		c.EnableWriteCompression(compress)
		return c, nc
	}
	tb.Fatalf("unknown library %q", lib)
	return nil, nil
}

// clientFrames compresses msgs as a client would (compress/flate at
// BestSpeed, with or without context takeover, sync tail removed) and
// returns them as masked text frames, back to back.
func clientFrames(msgs [][]byte, takeover bool) []byte {
	var out, buf bytes.Buffer
	fw, _ := flate.NewWriter(&buf, flate.BestSpeed)
	key := [4]byte{0x12, 0x34, 0x56, 0x78}
	for _, m := range msgs {
		if !takeover {
			fw.Reset(&buf)
		}
		buf.Reset()
		fw.Write(m)
		fw.Flush()
		p := buf.Bytes()
		p = p[:len(p)-4]
		hdr := []byte{0x80 | 0x40 | 0x1, 0x80}
		switch n := len(p); {
		case n <= 125:
			hdr[1] |= byte(n)
		case n <= 0xffff:
			hdr[1] |= 126
			hdr = binary.BigEndian.AppendUint16(hdr, uint16(n))
		default:
			hdr[1] |= 127
			hdr = binary.BigEndian.AppendUint64(hdr, uint64(n))
		}
		out.Write(hdr)
		out.Write(key[:])
		for i, c := range p {
			out.WriteByte(c ^ key[i&3])
		}
	}
	return out.Bytes()
}

type variant struct {
	lib      string
	takeover bool
}

func (v variant) String() string {
	if v.takeover {
		return v.lib + "/takeover"
	}
	return v.lib + "/no-takeover"
}

var variants = []variant{{"ours", false}, {"ours", true}, {"gorilla", false}}

// ---- benchmarks ----

func BenchmarkCompress(b *testing.B) {
	for _, s := range sizes {
		msgs := docs(s.size, 64)
		for _, v := range variants {
			b.Run(s.name+"/"+v.String(), func(b *testing.B) {
				c, nc := newServer(b, v.lib, true, v.takeover, nil)
				b.SetBytes(int64(s.size))
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if err := c.WriteMessage(1, msgs[i%len(msgs)]); err != nil {
						b.Fatal(err)
					}
				}
				b.StopTimer()
				b.ReportMetric(float64(nc.payload)/float64(int64(b.N)*int64(s.size)), "wire/raw")
			})
		}
	}
}

func BenchmarkDecompress(b *testing.B) {
	for _, s := range sizes {
		msgs := docs(s.size, 64)
		// Enough messages per connection that starting a new one (timer
		// stopped) is rare; a connection with context takeover cannot
		// wrap around its input.
		perConn := 4096
		if s.size > 4096 {
			perConn = 256
		}
		var seq [][]byte
		for i := range perConn {
			seq = append(seq, msgs[i%len(msgs)])
		}
		for _, v := range variants {
			stream := clientFrames(seq, v.takeover)
			b.Run(s.name+"/"+v.String(), func(b *testing.B) {
				b.SetBytes(int64(s.size))
				b.ReportAllocs()
				var c conn
				var wire int64
				for i := 0; i < b.N; i++ {
					if i%perConn == 0 {
						b.StopTimer()
						c, _ = newServer(b, v.lib, true, v.takeover, bytes.NewReader(stream))
						wire += int64(len(stream))
						b.StartTimer()
					}
					_, p, err := c.ReadMessage()
					if err != nil {
						b.Fatal(err)
					}
					if len(p) != s.size {
						b.Fatalf("read %d bytes, want %d", len(p), s.size)
					}
				}
				b.StopTimer()
				b.ReportMetric(float64(len(stream))/float64(perConn*s.size), "wire/raw")
			})
		}
	}
}

// heapInUse returns the live heap after garbage collection (twice, so
// that sync.Pool victims are dropped too).
func heapInUse() uint64 {
	var ms runtime.MemStats
	runtime.GC()
	runtime.GC()
	runtime.ReadMemStats(&ms)
	return ms.HeapAlloc
}

// idleServer runs an HTTP server whose handler upgrades with lib and
// returns, leaving the connection to a goroutine of its own that reads one
// message, echoes it, signals ready, and then waits in ReadMessage as a
// server's read loop would, until the connection ends. (Serving inside the
// handler would keep net/http's 4 KiB bufio reader and writer alive for
// every connection, whatever the library.)
func idleServer(tb testing.TB, lib string, compress, takeover bool, ready chan<- struct{}, live *atomic.Int64) *httptest.Server {
	serve := func(c conn) {
		mt, p, err := c.ReadMessage()
		if err != nil {
			tb.Error(err)
			return
		}
		if err := c.WriteMessage(mt, p); err != nil {
			tb.Error(err)
			return
		}
		ready <- struct{}{}
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				return
			}
		}
	}
	var gwsUp *gws.Upgrader
	if lib == "gws" {
		gwsUp = gws.NewUpgrader(&gwsEcho{ready: ready, live: live}, &gws.ServerOption{PermessageDeflate: gws.PermessageDeflate{
			Enabled: compress, ServerContextTakeover: takeover, ClientContextTakeover: takeover, Threshold: 1}})
	}
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch lib {
		case "ours":
			cfg := ours.DefaultConfig()
			if compress {
				cfg.Compression = &ours.CompressionOptions{ContextTakeover: takeover, Threshold: -1}
			}
			c, err := ours.Upgrade(w, r, cfg)
			if err != nil {
				tb.Error(err)
				return
			}
			go func() {
				live.Add(1)
				defer live.Add(-1)
				defer c.CloseNow()
				serve(oursConn{c})
			}()
		case "gorilla":
			up := gorilla.Upgrader{EnableCompression: compress}
			c, err := up.Upgrade(w, r, nil)
			if err != nil {
				tb.Error(err)
				return
			}
			go func() {
				live.Add(1)
				defer live.Add(-1)
				defer c.Close()
				serve(c)
			}()
		case "coder":
			mode := coder.CompressionDisabled
			switch {
			case compress && takeover:
				mode = coder.CompressionContextTakeover
			case compress:
				mode = coder.CompressionNoContextTakeover
			}
			c, err := coder.Accept(w, r, &coder.AcceptOptions{CompressionMode: mode, CompressionThreshold: 1})
			if err != nil {
				tb.Error(err)
				return
			}
			go func() {
				live.Add(1)
				defer live.Add(-1)
				defer c.CloseNow()
				serve(coderConn{c})
			}()
		case "gws":
			c, err := gwsUp.Upgrade(w, r)
			if err != nil {
				tb.Error(err)
				return
			}
			go c.ReadLoop()
		}
	}))
}

// coderConn adapts a coder/websocket connection to conn.
type coderConn struct{ c *coder.Conn }

func (c coderConn) WriteMessage(mt int, p []byte) error {
	return c.c.Write(context.Background(), coder.MessageType(mt), p)
}
func (c coderConn) ReadMessage() (int, []byte, error) {
	mt, p, err := c.c.Read(context.Background())
	return int(mt), p, err
}

// gwsEcho echoes the first message of each connection and signals ready;
// gws reads in its own ReadLoop goroutine.
type gwsEcho struct {
	gws.BuiltinEventHandler
	ready chan<- struct{}
	live  *atomic.Int64
}

func (h *gwsEcho) OnOpen(socket *gws.Conn)             { h.live.Add(1) }
func (h *gwsEcho) OnClose(socket *gws.Conn, err error) { h.live.Add(-1) }

func (h *gwsEcho) OnMessage(socket *gws.Conn, message *gws.Message) {
	defer message.Close()
	if err := socket.WriteMessage(message.Opcode, message.Bytes()); err == nil {
		h.ready <- struct{}{}
	}
}

// rawDial opens a TCP connection to addr, does the client handshake by
// hand with offer and sends frame. The echo is left unread.
func rawDial(tb testing.TB, addr, offer string, frame []byte) net.Conn {
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		tb.Fatal(err)
	}
	req := "GET / HTTP/1.1\r\nHost: " + addr + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n"
	if offer != "" {
		req += "Sec-WebSocket-Extensions: " + offer + "\r\n"
	}
	if _, err := io.WriteString(nc, req+"\r\n"); err != nil {
		tb.Fatal(err)
	}
	// Read the response headers byte by byte, so that nothing after them
	// is consumed.
	var hdr []byte
	var b [1]byte
	for !bytes.HasSuffix(hdr, []byte("\r\n\r\n")) {
		if _, err := nc.Read(b[:]); err != nil {
			tb.Fatal(err)
		}
		hdr = append(hdr, b[0])
	}
	if !bytes.HasPrefix(hdr, []byte("HTTP/1.1 101")) || bytes.Contains(hdr, []byte("permessage-deflate")) != (offer != "") {
		tb.Fatalf("handshake response for offer %q:\n%s", offer, hdr)
	}
	if _, err := nc.Write(frame); err != nil {
		tb.Fatal(err)
	}
	return nc
}

// BenchmarkMemoryPerConn reports the heap each server connection keeps
// ("B/conn") over loopback TCP, once it has read one 1 KiB message and
// echoed it (compressed when negotiated) and waits in ReadMessage for the
// next. Goroutine stacks are not heap and not counted; both sides' TCP
// connection objects (about 1 KiB) are counted for every library alike, so
// the uncompressed rows are the baseline the compressed ones add to.
func BenchmarkMemoryPerConn(b *testing.B) {
	msg := jsonDoc(1, 1<<10)
	compressed := clientFrames([][]byte{msg}, false)
	plain := plainFrame(msg)
	cases := []struct {
		peer
		compress bool
	}{
		{peer{"ours", noTakeover}, false}, {peer{"gorilla", noTakeover}, false}, {peer{"coder", noTakeover}, false}, {peer{"gws", noTakeover}, false},
	}
	for _, p := range corpusPeers {
		cases = append(cases, struct {
			peer
			compress bool
		}{p, true})
	}
	for _, tc := range cases {
		name := tc.setting.name + "/" + tc.lib
		frame, offer := compressed, tc.offer()
		if !tc.compress {
			name, frame, offer = "uncompressed/"+tc.lib, plain, ""
		}
		b.Run(name, func(b *testing.B) {
			n := 200
			if tc.takeover {
				n = 40 // about 1 MiB each with compress/flate
			}
			ready := make(chan struct{}, n+1)
			var live atomic.Int64
			ts := idleServer(b, tc.lib, tc.compress, tc.takeover, ready, &live)
			defer ts.Close()
			addr := ts.Listener.Addr().String()
			// Warm up the server's own state (listener, first handler).
			c0 := rawDial(b, addr, offer, frame)
			<-ready
			var perConn float64
			for range b.N {
				conns := make([]net.Conn, n)
				before := heapInUse()
				for i := range conns {
					conns[i] = rawDial(b, addr, offer, frame)
				}
				for range conns {
					<-ready
				}
				time.Sleep(10 * time.Millisecond) // the handlers are back in ReadMessage
				after := heapInUse()
				perConn += (float64(after) - float64(before)) / float64(n)
				for _, c := range conns {
					c.Close()
				}
				// The next round's baseline must not hold this round's
				// connections: wait until the server has let them go.
				for t0 := time.Now(); live.Load() > 1; time.Sleep(5 * time.Millisecond) {
					if time.Since(t0) > 10*time.Second {
						b.Fatalf("%d server connections still open 10 s after closing", live.Load()-1)
					}
				}
			}
			c0.Close()
			b.ReportMetric(perConn/float64(b.N), "B/conn")
		})
	}
}

// plainFrame returns msg as one masked, uncompressed client text frame.
func plainFrame(msg []byte) []byte {
	key := [4]byte{1, 2, 3, 4}
	hdr := []byte{0x81, 0x80 | 126}
	hdr = binary.BigEndian.AppendUint16(hdr, uint16(len(msg)))
	out := append(hdr, key[:]...)
	for i, c := range msg {
		out = append(out, c^key[i&3])
	}
	return out
}

// TestHarness checks the in-memory setup itself: both libraries negotiate
// as expected and a compressed round trip through the prepared frames
// reads back the input.
func TestHarness(t *testing.T) {
	msgs := docs(1<<10, 8)
	for _, v := range variants {
		t.Run(v.String(), func(t *testing.T) {
			c, nc := newServer(t, v.lib, true, v.takeover, bytes.NewReader(clientFrames(msgs, v.takeover)))
			for i, m := range msgs {
				_, p, err := c.ReadMessage()
				if err != nil || !bytes.Equal(p, m) {
					t.Fatalf("message %d: %v (equal %v)", i, err, bytes.Equal(p, m))
				}
			}
			if err := c.WriteMessage(1, msgs[0]); err != nil {
				t.Fatal(err)
			}
			if nc.payload == 0 || nc.payload >= int64(len(msgs[0])) {
				t.Fatalf("wrote %d payload bytes for %d input bytes: not compressed", nc.payload, len(msgs[0]))
			}
		})
	}
}
