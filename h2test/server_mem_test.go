package h2test

import (
	"bufio"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/pem"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/net/http2"

	"github.com/rfc6455/websocket"
)

// Environment of the helper process that holds WebSockets open for
// BenchmarkServerIdleMemory.
const (
	holdURL  = "H2TEST_HOLD_URL"  // ws:// or wss:// URL to dial
	holdN    = "H2TEST_HOLD_N"    // how many WebSockets
	holdH2   = "H2TEST_HOLD_H2"   // "1": over HTTP/2 (one connection)
	holdCert = "H2TEST_HOLD_CERT" // PEM of the server's certificate
)

// TestHoldHelper is not a test: it is the client process of
// BenchmarkServerIdleMemory, run only with H2TEST_HOLD_URL set. It dials
// the WebSockets, prints "ready", and keeps them until stdin ends.
func TestHoldHelper(t *testing.T) {
	url := os.Getenv(holdURL)
	if url == "" {
		return
	}
	n, _ := strconv.Atoi(os.Getenv(holdN))
	roots := x509.NewCertPool()
	roots.AppendCertsFromPEM([]byte(os.Getenv(holdCert)))
	opts := &websocket.DialOptions{TLSConfig: &tls.Config{RootCAs: roots}}
	if os.Getenv(holdH2) == "1" {
		opts.HTTP2 = &http2.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	for range n {
		c, _, err := websocket.Dial(ctx, url, opts)
		if err != nil {
			fmt.Println("error", err)
			return
		}
		go c.ReadMessage()
	}
	fmt.Println("ready")
	io.Copy(io.Discard, os.Stdin)
}

// BenchmarkServerIdleMemory: heap and goroutine stacks our server holds
// per idle WebSocket (Handler, reader blocked in ReadMessage), the
// clients being in another process: 200 WebSockets over TLS, as 200
// HTTP/1.1 connections or as 200 streams of one HTTP/2 connection.
func BenchmarkServerIdleMemory(b *testing.B) {
	for _, tc := range []struct {
		name string
		h2   bool
	}{
		{name: "http1.1"},
		{name: "http2", h2: true},
	} {
		b.Run(tc.name, func(b *testing.B) {
			if tc.h2 && !strings.Contains(os.Getenv("GODEBUG"), xconnect) {
				b.Fatalf("run with GODEBUG=%s", xconnect)
			}
			const n = 200
			for range b.N {
				srv := httptest.NewUnstartedServer(websocket.Handler(nil, func(c *websocket.Conn, r *http.Request) {
					c.ReadMessage()
				}))
				srv.EnableHTTP2 = tc.h2
				srv.StartTLS()
				cert := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw})
				before := heapInUse()
				cmd := exec.Command(os.Args[0], "-test.run=^TestHoldHelper$")
				h2 := "0"
				if tc.h2 {
					h2 = "1"
				}
				cmd.Env = append(os.Environ(), holdURL+"=wss"+strings.TrimPrefix(srv.URL, "https")+"/",
					holdN+"="+strconv.Itoa(n), holdH2+"="+h2, holdCert+"="+string(cert))
				stdin, _ := cmd.StdinPipe()
				stdout, _ := cmd.StdoutPipe()
				if err := cmd.Start(); err != nil {
					b.Fatal(err)
				}
				line, _ := bufio.NewReader(stdout).ReadString('\n')
				if line != "ready\n" {
					b.Fatalf("helper: %q", line)
				}
				time.Sleep(200 * time.Millisecond)
				after := heapInUse()
				b.ReportMetric(float64(after-before)/n, "B/websocket")
				stdin.Close()
				cmd.Wait()
				srv.CloseClientConnections()
				srv.Close()
			}
		})
	}
}
