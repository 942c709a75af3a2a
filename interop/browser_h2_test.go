package interop

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"strings"
	"sync"
	"testing"
	"time"
)

// TestBrowserHTTP2 runs browser.js in headless Chromium against our server
// over TLS with HTTP/2 and extended CONNECT enabled: Chromium loads the
// page over HTTP/2 and opens its wss:// WebSockets as RFC 8441 streams of
// that connection. Every WebSocket request must arrive as extended
// CONNECT over HTTP/2 (r.ProtoMajor == 2); the echo (plain and
// compressed), subprotocol and close cases are those of TestBrowser.
// Chromium is given --ignore-certificate-errors for httptest's
// self-signed certificate; it needs no flag for WebSockets over HTTP/2.
func TestBrowserHTTP2(t *testing.T) {
	if needXConnect(t) {
		return
	}
	chromium := chromiumPath(t)
	endpoints, res, closes, done, mux := browserPage()

	// Every WebSocket request must be an extended CONNECT over HTTP/2.
	var mu sync.Mutex
	var wsRequests int
	var notH2 []string
	handler := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if strings.HasPrefix(r.URL.Path, "/ws/") {
			mu.Lock()
			wsRequests++
			if r.ProtoMajor != 2 || r.Method != http.MethodConnect || r.Header.Get(":protocol") != "websocket" {
				notH2 = append(notH2, r.Method+" "+r.URL.Path+" "+r.Proto)
			}
			mu.Unlock()
		}
		mux.ServeHTTP(w, r)
	})
	srv := httptest.NewUnstartedServer(handler)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()
	defer srv.CloseClientConnections()

	log := runBrowserPage(t, chromium, srv.URL+"/page", endpoints, res, closes, done, "--ignore-certificate-errors")
	mu.Lock()
	// One request per endpoint, plus the four close and subprotocol ones.
	if min := len(endpoints) + 4; wsRequests < min || len(notH2) > 0 {
		t.Errorf("%d WebSocket requests (want at least %d); not extended CONNECT over HTTP/2: %q", wsRequests, min, notH2)
	}
	t.Logf("%d WebSocket requests, all extended CONNECT over HTTP/2", wsRequests)
	mu.Unlock()
	if t.Failed() {
		t.Logf("chromium output (tail):\n%s", log)
	}
}

const xconnect = "http2xconnect=1"

// needXConnect runs the calling top-level test again in a child process
// with GODEBUG=http2xconnect=1 when this process lacks it (net/http reads
// the setting once, at start), and reports whether it did: the caller
// then returns. The child's failure fails t, with its output.
func needXConnect(t *testing.T) bool {
	t.Helper()
	if strings.Contains(os.Getenv("GODEBUG"), xconnect) {
		return false
	}
	godebug := xconnect
	if g := os.Getenv("GODEBUG"); g != "" {
		godebug = g + "," + xconnect
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, os.Args[0], "-test.run=^"+t.Name()+"$", "-test.count=1", "-test.v", "-test.timeout=3m")
	cmd.Env = append(os.Environ(), "GODEBUG="+godebug)
	out, err := cmd.CombinedOutput()
	if err != nil || !bytes.Contains(out, []byte("--- PASS: "+t.Name())) {
		t.Fatalf("%s with GODEBUG=%s: %v\n%s", t.Name(), godebug, err, out)
	}
	if testing.Verbose() {
		t.Logf("ran in a child process with GODEBUG=%s:\n%s", godebug, out)
	}
	return true
}
