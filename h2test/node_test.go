package h2test

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/rfc6455/websocket"
)

// nodePath returns node, failing the test with the install hint when it
// is missing.
func nodePath(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("node")
	if err != nil {
		t.Fatalf("node not found in PATH (%v): run bash scripts/setup.sh", err)
	}
	return p
}

// TestNodeClientH2: Node's own HTTP/2 client (nghttp2) opens a WebSocket
// over HTTP/2 to our server (rfc8441.js client): echo of text, 70000-byte
// binary and empty messages, ping/pong, close 4000.
func TestNodeClientH2(t *testing.T) {
	if needXConnect(t) {
		return
	}
	node := nodePath(t)
	var k h2Check
	e := newH2Env(t, false, nil, websocket.Handler(&websocket.Config{Subprotocols: []string{"chat"}}, func(c *websocket.Conn, r *http.Request) {
		k.check(r)
		echo(c, r)
	}))
	port := e.srv.Listener.Addr().(*net.TCPAddr).Port
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := exec.CommandContext(ctx, node, "rfc8441.js", "client", itoa(port)).CombinedOutput()
	if err != nil || bytes.Contains(out, []byte("FAIL")) || !bytes.Contains(out, []byte("ok close")) || !bytes.Contains(out, []byte("ok stream ended")) {
		t.Fatalf("node client: %v\n%s", err, out)
	}
	t.Logf("node client:\n%s", out)
	k.verify(t, 1)
}

// TestNodeServerH2: our Dial, through x/net/http2's Transport, opens a
// WebSocket over HTTP/2 to Node's own HTTP/2 server (rfc8441.js server).
func TestNodeServerH2(t *testing.T) {
	node := nodePath(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, node, "rfc8441.js", "server")
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cmd.Process.Kill(); cmd.Wait() }()
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil || !strings.HasPrefix(line, "port ") {
		t.Fatalf("node server: %q, %v", line, err)
	}
	addr := "127.0.0.1:" + strings.TrimSpace(strings.TrimPrefix(line, "port "))
	tr := &http2.Transport{AllowHTTP: true, DialTLSContext: func(ctx context.Context, network, a string, _ *tls.Config) (net.Conn, error) {
		var d net.Dialer
		return d.DialContext(ctx, network, a)
	}}
	defer tr.CloseIdleConnections()
	var conns []*websocket.Conn
	for range 3 { // three WebSockets on one connection
		c, resp, err := websocket.Dial(ctx, "ws://"+addr+"/echo", &websocket.DialOptions{HTTP2: tr, Subprotocols: []string{"chat"}})
		if err != nil {
			t.Fatalf("Dial: %v (response %v)", err, resp)
		}
		if resp.StatusCode != http.StatusOK || resp.ProtoMajor != 2 || c.Subprotocol() != "chat" {
			t.Fatalf("response %d %s, subprotocol %q", resp.StatusCode, resp.Proto, c.Subprotocol())
		}
		conns = append(conns, c)
	}
	if a, b := conns[0].LocalAddr().String(), conns[2].LocalAddr().String(); a != b {
		t.Errorf("streams on different connections: %s, %s", a, b)
	}
	for i, c := range conns {
		for _, n := range []int{0, 5, 125, 126, 70000} {
			msg := bytes.Repeat([]byte{byte('a' + i)}, n)
			if err := c.WriteMessage(websocket.BinaryMessage, msg); err != nil {
				t.Fatal(err)
			}
			_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
			if mt, p, err := c.ReadMessage(); err != nil || mt != websocket.BinaryMessage || !bytes.Equal(p, msg) {
				t.Fatalf("conn %d echo %d: %v %d bytes, %v", i, n, mt, len(p), err)
			}
		}
		if err := c.Close(4000, "bye"); err != nil {
			t.Errorf("conn %d Close: %v", i, err)
		}
	}
}

func itoa(n int) string { return strconv.Itoa(n) }
