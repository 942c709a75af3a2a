package interop

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rfc6455/websocket"
)

// wasmTimeout bounds the whole wasm run, from building the program to its
// last report.
const wasmTimeout = 3 * time.Minute

// wasmSizes are the echo sizes of the wasm program: empty, the largest
// 7-bit length, 64 KiB (the smallest 64-bit length) and 1 MiB.
var wasmSizes = []int{0, 125, 64 << 10, 1 << 20}

// TestBrowserWasm builds interop/wasm with GOOS=js GOARCH=wasm, serves it
// with Go's wasm_exec.js next to our WebSocket endpoints, and runs it in
// headless Chromium: our Dial, going through the browser's own WebSocket,
// against our server. Both sides report every case.
func TestBrowserWasm(t *testing.T) {
	t.Parallel()
	chromium := chromiumPath(t)
	ctx, cancel := context.WithTimeout(context.Background(), wasmTimeout)
	defer cancel()
	wasmFile, execJS := buildWasm(t, ctx)

	res := newResults()
	endpoints := []*echoEndpoint{
		{Name: "echo", Path: "/ws/wasm-echo", Sizes: wasmSizes, cfg: &websocket.Config{}},
		// The browser offers permessage-deflate and compresses on its
		// own: transparent to the program.
		{Name: "echo-deflate", Path: "/ws/wasm-echo-deflate", Sizes: wasmSizes, Deflate: true,
			cfg: &websocket.Config{Options: websocket.Options{
				Compression: &websocket.CompressionOptions{Threshold: -1}}}},
		// NextWriter in 3 pieces from the program, 4 from the server.
		{Name: "stream", Path: "/ws/wasm-stream", Sizes: []int{100000}, cfg: &websocket.Config{}, writePieces: 4},
	}
	closes := &closeEndpoints{
		res:          res,
		serverCode:   4001,
		serverReason: fill("server says bye ✓", 123),
		peerCode:     4002,
		peerReason:   fill("wasm says bye ✓", 123),
	}

	done := make(chan struct{})
	finish := func() {
		select {
		case <-done:
		default:
			close(done)
		}
	}
	mux := http.NewServeMux()
	serve := func(path, file, ctype string) {
		mux.HandleFunc("GET "+path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "no-store")
			if ctype != "" {
				w.Header().Set("Content-Type", ctype)
			}
			http.ServeFile(w, r, file)
		})
	}
	serve("/wasm/page", filepath.Join("wasm", "index.html"), "")
	serve("/wasm/wasm_exec.js", execJS, "text/javascript")
	serve("/wasm/test.wasm", wasmFile, "application/wasm")
	mux.HandleFunc("GET /wasm/config", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"echo":         endpoints[:2],
			"stream":       endpoints[2],
			"serverCode":   closes.serverCode,
			"serverReason": closes.serverReason,
			"peerCode":     closes.peerCode,
			"peerReason":   closes.peerReason,
		})
	})
	addReport := func(r *http.Request) {
		var rep report
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err == nil {
			err = json.Unmarshal(body, &rep)
		}
		if err != nil || rep.Case == "" {
			res.fail("wasm/bad-report", "bad report %q: %v", body, err)
		} else {
			res.add(rep)
		}
	}
	mux.HandleFunc("POST /wasm/report", func(w http.ResponseWriter, r *http.Request) { addReport(r) })
	mux.HandleFunc("POST /wasm/done", func(w http.ResponseWriter, r *http.Request) { finish() })
	// The page reports the program's exit only when it failed or ended
	// without /wasm/done.
	mux.HandleFunc("POST /wasm/exited", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-done:
		default:
			addReport(r)
			finish()
		}
	})
	for _, e := range endpoints {
		mux.HandleFunc(e.Path, func(w http.ResponseWriter, r *http.Request) { e.serve(res, w, r) })
	}
	closes.register(mux)
	// The page closes these without a code (a Read's ctx ended, Close
	// with 1001, a message over the read limit): the server sees 1005.
	peerCloses := func(name string, send []byte) http.HandlerFunc {
		return func(w http.ResponseWriter, r *http.Request) {
			c, err := websocket.Upgrade(w, r, nil)
			if err != nil {
				res.fail(name, "upgrade: %v", err)
				return
			}
			defer c.CloseNow()
			if send != nil {
				if err := c.WriteMessage(websocket.BinaryMessage, send); err != nil {
					res.fail(name, "write: %v", err)
					return
				}
			}
			_ = c.SetReadDeadline(time.Now().Add(ioTimeout))
			_, _, err = c.ReadMessage()
			res.check(name, wantClose(err, websocket.CloseNoStatusReceived, ""))
		}
	}
	mux.HandleFunc("/ws/wasm-silent", peerCloses("server/read-context", nil))
	mux.HandleFunc("/ws/wasm-going-away", peerCloses("server/going-away", nil))
	mux.HandleFunc("/ws/wasm-too-big", peerCloses("server/read-limit", make([]byte, 2000)))
	srv := httptest.NewServer(mux)
	defer srv.Close()

	var want []string
	for _, e := range endpoints {
		want = append(want, "wasm/"+e.Name+"/open")
		want = append(want, e.echoCases("wasm")...)
		want = append(want, "wasm/"+e.Name+"/close")
		want = append(want, e.serverCases()...)
	}
	want = append(want, "wasm/server-close", "wasm/client-close", "wasm/subprotocol", "wasm/ping-refused",
		"wasm/subprotocol-none", "wasm/refused/header", "wasm/refused/compression", "wasm/refused/pinginterval",
		"wasm/read-context", "server/read-context", "wasm/going-away", "server/going-away", "wasm/read-limit", "server/read-limit")
	want = append(want, closes.serverCases()...)

	log, dead := startChromium(t, ctx, chromium, srv.URL+"/wasm/page", "--enable-logging=stderr", "--v=0")
	select {
	case <-done:
	case <-dead:
		t.Error("chromium exited before the program finished")
	case <-ctx.Done():
		t.Errorf("the program did not finish within %v", wasmTimeout)
	}
	res.waitFor(want, 5*time.Second, ctx.Done())
	res.assert(t, want)
	if t.Failed() {
		t.Logf("chromium output (tail):\n%s", log)
	}
}

// buildWasm builds interop/wasm for GOOS=js GOARCH=wasm into a temporary
// directory and finds the wasm_exec.js of the same Go.
func buildWasm(t *testing.T, ctx context.Context) (wasmFile, execJS string) {
	t.Helper()
	goTool, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is not in PATH (%v): it builds the wasm program", err)
	}
	out, err := exec.CommandContext(ctx, goTool, "env", "GOROOT").Output()
	if err != nil {
		t.Fatalf("go env GOROOT: %v", err)
	}
	goroot := strings.TrimSpace(string(out))
	for _, p := range []string{
		filepath.Join(goroot, "lib", "wasm", "wasm_exec.js"),  // Go 1.24 and later
		filepath.Join(goroot, "misc", "wasm", "wasm_exec.js"), // earlier
	} {
		if _, err := os.Stat(p); err == nil {
			execJS = p
			break
		}
	}
	if execJS == "" {
		t.Fatalf("wasm_exec.js not found under %s (lib/wasm or misc/wasm)", goroot)
	}
	wasmFile = filepath.Join(t.TempDir(), "test.wasm")
	cmd := exec.CommandContext(ctx, goTool, "build", "-o", wasmFile, "./wasm")
	cmd.Env = append(os.Environ(), "GOOS=js", "GOARCH=wasm", "CGO_ENABLED=0")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("GOOS=js GOARCH=wasm go build ./wasm: %v\n%s", err, out)
	}
	return wasmFile, execJS
}
