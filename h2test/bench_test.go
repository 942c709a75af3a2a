package h2test

// Figures for WebSockets over HTTP/2 beside HTTP/1.1 (no peer library
// speaks RFC 8441, so there is no gorilla or gws column). Over HTTP/2 they
// need GODEBUG=http2xconnect=1 in the environment:
//
//	cd h2test && GODEBUG=http2xconnect=1 go test -run '^$' -bench . -benchmem

import (
	"bytes"
	"context"
	"crypto/tls"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rfc6455/websocket"
)

// benchEnv opens n WebSockets to handler over TLS, over HTTP/2 (n streams
// of one connection) or HTTP/1.1 (n connections); close ends them all.
func benchEnv(b *testing.B, h2 bool, n int, h2cfg *http.HTTP2Config, handler http.Handler) (conns []*websocket.Conn, close func()) {
	b.Helper()
	if h2 && !strings.Contains(os.Getenv("GODEBUG"), xconnect) {
		b.Fatalf("run with GODEBUG=%s: net/http's server accepts WebSockets over HTTP/2 only then", xconnect)
	}
	var e *h2Env
	var srv *httptest.Server
	url := ""
	if h2 {
		e = newH2Env(b, true, h2cfg, handler)
		url = e.url
	} else {
		srv = httptest.NewTLSServer(handler) // TLS as the HTTP/2 side
		url = "wss" + strings.TrimPrefix(srv.URL, "https")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for range n {
		opts := &websocket.DialOptions{}
		if h2 {
			opts.HTTP2 = e.tr
		} else {
			opts.TLSConfig = &tls.Config{RootCAs: srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs}
		}
		c, _, err := websocket.Dial(ctx, url+"/", opts)
		if err != nil {
			b.Fatal(err)
		}
		conns = append(conns, c)
	}
	if h2 && e.conns.Load() != 1 {
		b.Fatalf("%d TCP connections, want 1", e.conns.Load())
	}
	return conns, func() {
		for _, c := range conns {
			c.CloseNow()
		}
		if !h2 {
			srv.CloseClientConnections()
			srv.Close()
		}
	}
}

// BenchmarkIdleMemory: heap and goroutine stacks per idle WebSocket, both
// ends in this process (server: Handler with a reader blocked in
// ReadMessage; client: Dial with a reader blocked in ReadMessage), over
// HTTP/2 streams of one connection vs HTTP/1.1 connections.
func BenchmarkIdleMemory(b *testing.B) {
	for _, tc := range []struct {
		name string
		h2   bool
		cfg  *http.HTTP2Config
	}{
		{name: "http1.1"},
		{name: "http2", h2: true},
		// x/net/http2's client holds a scratch buffer of the server's
		// SETTINGS_MAX_FRAME_SIZE (at most 512 KiB; net/http's server
		// advertises 1 MiB) per stream whose request body is open.
		{name: "http2-maxframe16KiB", h2: true, cfg: &http.HTTP2Config{MaxReadFrameSize: 16 << 10}},
	} {
		b.Run(tc.name, func(b *testing.B) {
			const n = 200
			for range b.N {
				before := heapInUse()
				conns, closeAll := benchEnv(b, tc.h2, n, tc.cfg, websocket.Handler(nil, func(c *websocket.Conn, r *http.Request) {
					c.ReadMessage()
				}))
				var wg sync.WaitGroup
				for _, c := range conns {
					wg.Go(func() { c.ReadMessage() })
				}
				time.Sleep(100 * time.Millisecond)
				after := heapInUse()
				b.ReportMetric(float64(after-before)/n, "B/websocket")
				closeAll()
				wg.Wait()
			}
		})
	}
}

// BenchmarkEcho64: 64 WebSockets echo 4 KiB messages concurrently, over
// 64 streams of one HTTP/2 connection vs 64 HTTP/1.1 connections. One op
// is one message echoed.
func BenchmarkEcho64(b *testing.B) {
	for _, h2 := range []bool{false, true} {
		name := map[bool]string{false: "http1.1", true: "http2"}[h2]
		b.Run(name, func(b *testing.B) {
			conns, closeAll := benchEnv(b, h2, 64, nil, websocket.Handler(nil, echo))
			defer closeAll()
			msg := bytes.Repeat([]byte("x"), 4096)
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			b.ResetTimer()
			var wg sync.WaitGroup
			per := b.N / len(conns)
			extra := b.N % len(conns)
			for i, c := range conns {
				k := per
				if i < extra {
					k++
				}
				wg.Go(func() {
					for range k {
						if err := c.WriteMessage(websocket.BinaryMessage, msg); err != nil {
							b.Error(err)
							return
						}
						if _, _, err := c.ReadMessage(); err != nil {
							b.Error(err)
							return
						}
					}
				})
			}
			wg.Wait()
		})
	}
}

// heapInUse returns live heap plus goroutine stack bytes after a GC.
func heapInUse() int64 {
	runtime.GC()
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	return int64(ms.HeapAlloc + ms.StackInuse)
}
