//go:build !race

// The stack-size check below is meaningless under -race (every frame is
// larger); make test runs this package without -race too.

package idlemem

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"
	"time"

	websocket "github.com/rfc6455/websocket"
)

// callerFrame is the stack the code above ReadMessage may use (its own
// frames: the per-connection function and whatever it calls on the way)
// while an idle connection keeps a 2 KiB stack. README's "Idle memory"
// states it; lowering it means the library's wait got deeper.
const callerFrame = 352

//go:noinline
func touch(p *[callerFrame]byte) { p[0]++ }

//go:noinline
func serve(c *websocket.Conn) {
	var pad [callerFrame]byte
	touch(&pad)
	for {
		if _, _, err := c.ReadMessage(); err != nil {
			return
		}
	}
}

func TestIdleConnStack(t *testing.T) {
	const n = 400
	defer debug.SetGCPercent(debug.SetGCPercent(-1))

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	srv := &http.Server{Handler: websocket.Handler(websocket.DefaultConfig(),
		func(c *websocket.Conn, _ *http.Request) { serve(c) })}
	go srv.Serve(ln)
	defer srv.Close()

	dial := func() net.Conn {
		nc, err := net.Dial("tcp", ln.Addr().String())
		if err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(nc, "GET / HTTP/1.1\r\nHost: %s\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"+
			"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n", ln.Addr())
		_ = nc.SetReadDeadline(time.Now().Add(10 * time.Second))
		line, err := bufio.NewReader(nc).ReadString('\n')
		if err != nil || !strings.Contains(line, " 101 ") {
			t.Fatalf("handshake: %q, %v", line, err)
		}
		return nc
	}
	// Warm up net/http's goroutines and pools, then measure.
	for i := 0; i < 20; i++ {
		defer dial().Close()
	}
	time.Sleep(50 * time.Millisecond)
	var ms runtime.MemStats
	runtime.ReadMemStats(&ms)
	before := ms.StackInuse
	for i := 0; i < n; i++ {
		defer dial().Close()
	}
	time.Sleep(100 * time.Millisecond) // every reader parked
	runtime.ReadMemStats(&ms)
	perConn := float64(ms.StackInuse-before) / n
	t.Logf("goroutine stack per idle connection: %.0f B (caller frames %d B)", perConn, callerFrame)
	// 2 KiB stacks measure about 2,100 B a connection (the accept path's
	// goroutines come and go); a reader whose wait outgrew 2 KiB costs
	// 4 KiB.
	if perConn > 3<<10 {
		t.Fatalf("an idle connection's goroutine stack is %.0f B: the wait below ReadMessage no longer fits a 2 KiB stack with %d B of caller frames", perConn, callerFrame)
	}
}
