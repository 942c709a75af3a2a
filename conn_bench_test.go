package websocket

import (
	"io"
	"net"
	"runtime"
	"strconv"
	"testing"
	"time"

	"github.com/rfc6455/websocket/frame"
)

// benchConn is a net.Conn whose reads replay one encoded stream forever
// and whose writes are discarded.
type benchConn struct {
	stream []byte
	pos    int
	chunk  int // bytes per Read at most (0: as much as asked)
}

func (b *benchConn) Read(p []byte) (int, error) {
	if b.chunk > 0 && len(p) > b.chunk {
		p = p[:b.chunk]
	}
	n := copy(p, b.stream[b.pos:])
	b.pos += n
	if b.pos == len(b.stream) {
		b.pos = 0
	}
	return n, nil
}
func (b *benchConn) Write(p []byte) (int, error)      { return len(p), nil }
func (b *benchConn) Close() error                     { return nil }
func (b *benchConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (b *benchConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (b *benchConn) SetDeadline(time.Time) error      { return nil }
func (b *benchConn) SetReadDeadline(time.Time) error  { return nil }
func (b *benchConn) SetWriteDeadline(time.Time) error { return nil }

// benchStream encodes count masked (client-to-server) frames of size n.
func benchStream(op frame.Opcode, n, count int) []byte {
	payload := make([]byte, n)
	for i := range payload {
		payload[i] = 'a' + byte(i%26)
	}
	var out []byte
	for i := 0; i < count; i++ {
		h := frame.Header{Fin: true, Opcode: op, Masked: true, Key: [4]byte{1, 2, 3, 4}, Length: int64(n)}
		out = frame.AppendHeader(out, h)
		start := len(out)
		out = append(out, payload...)
		frame.Mask(h.Key, 0, out[start:])
	}
	return out
}

func BenchmarkReadNextReader(b *testing.B) {
	for _, size := range []int{16, 1024, 64 << 10} {
		b.Run(byteSize(size), func(b *testing.B) {
			count := max(1, (256<<10)/size)
			c := NewConn(&benchConn{stream: benchStream(frame.OpText, size, count)}, RoleServer, nil)
			buf := make([]byte, 32<<10)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				_, r, err := c.NextReader()
				if err != nil {
					b.Fatal(err)
				}
				for {
					_, err := r.Read(buf)
					if err == io.EOF {
						break
					}
					if err != nil {
						b.Fatal(err)
					}
				}
			}
		})
	}
}

func BenchmarkReadMessage(b *testing.B) {
	for _, size := range []int{16, 1024, 64 << 10} {
		b.Run(byteSize(size), func(b *testing.B) {
			count := max(1, (256<<10)/size)
			c := NewConn(&benchConn{stream: benchStream(frame.OpBinary, size, count)}, RoleServer, nil)
			b.SetBytes(int64(size))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if _, _, err := c.ReadMessage(); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkWriteMessage(b *testing.B) {
	for _, role := range []Role{RoleServer, RoleClient} {
		name := "server"
		if role == RoleClient {
			name = "client"
		}
		for _, size := range []int{16, 1024, 64 << 10} {
			b.Run(name+"/"+byteSize(size), func(b *testing.B) {
				c := NewConn(&benchConn{stream: []byte{0}}, role, nil)
				msg := make([]byte, size)
				b.SetBytes(int64(size))
				b.ReportAllocs()
				b.ResetTimer()
				for i := 0; i < b.N; i++ {
					if err := c.WriteMessage(BinaryMessage, msg); err != nil {
						b.Fatal(err)
					}
				}
			})
		}
	}
}

func BenchmarkNextWriter(b *testing.B) {
	c := NewConn(&benchConn{stream: []byte{0}}, RoleServer, nil)
	msg := make([]byte, 1024)
	b.SetBytes(int64(len(msg)))
	b.ReportAllocs()
	for i := 0; i < b.N; i++ {
		w, err := c.NextWriter(BinaryMessage)
		if err != nil {
			b.Fatal(err)
		}
		w.Write(msg)
		if err := w.Close(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEchoLoopback measures a strict request/response round trip of
// 16-byte messages between our client and our server over loopback TCP.
func BenchmarkEchoLoopback(b *testing.B) {
	srvConn, cliConn := loopbackPair(b)
	defer srvConn.CloseNow()
	defer cliConn.CloseNow()
	go func() {
		for {
			mt, p, err := srvConn.ReadMessage()
			if err != nil {
				return
			}
			if err := srvConn.WriteMessage(mt, p); err != nil {
				return
			}
		}
	}()
	msg := make([]byte, 16)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		if err := cliConn.WriteMessage(BinaryMessage, msg); err != nil {
			b.Fatal(err)
		}
		if _, _, err := cliConn.ReadMessage(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkIdleConnMemory reports heap bytes held per idle server-side
// connection (connections parked in a read, after a first message).
// On Unix (linux, darwin, the BSDs) this measures the buffer-free idle
// wait of transport_unix.go: an idle connection holds no read buffer.
// Elsewhere (windows, js/wasm) a parked read holds a pooled read buffer,
// and the figure includes it.
func BenchmarkIdleConnMemory(b *testing.B) {
	const n = 500
	for i := 0; i < b.N; i++ {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			b.Fatal(err)
		}
		var clients []net.Conn
		conns := make([]*Conn, 0, n)
		heapBefore := heapInUse()
		ready := make(chan struct{}, n)
		for j := 0; j < n; j++ {
			cc, err := net.Dial("tcp", ln.Addr().String())
			if err != nil {
				b.Fatal(err)
			}
			clients = append(clients, cc)
			sc, err := ln.Accept()
			if err != nil {
				b.Fatal(err)
			}
			c := NewConn(sc, RoleServer, nil)
			conns = append(conns, c)
			go func() {
				ready <- struct{}{}
				c.ReadMessage()
			}()
		}
		for j := 0; j < n; j++ {
			<-ready
		}
		time.Sleep(20 * time.Millisecond)
		heapAfter := heapInUse()
		b.ReportMetric(float64(heapAfter-heapBefore)/n, "heapB/conn")
		for _, c := range clients {
			c.Close()
		}
		for _, c := range conns {
			c.CloseNow()
		}
		ln.Close()
	}
}

func byteSize(n int) string {
	switch {
	case n >= 1<<20 && n%(1<<20) == 0:
		return strconv.Itoa(n>>20) + "MiB"
	case n >= 1<<10 && n%(1<<10) == 0:
		return strconv.Itoa(n>>10) + "KiB"
	}
	return strconv.Itoa(n) + "B"
}

// heapInUse returns live heap plus goroutine stack bytes after a GC.
func heapInUse() int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc + ms.StackInuse)
}

// loopbackPair returns a server and a client Conn joined over loopback TCP.
func loopbackPair(tb testing.TB) (*Conn, *Conn) {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer ln.Close()
	cc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		tb.Fatal(err)
	}
	sc, err := ln.Accept()
	if err != nil {
		tb.Fatal(err)
	}
	return NewConn(sc, RoleServer, nil), NewConn(cc, RoleClient, nil)
}
