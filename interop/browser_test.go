package interop

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"testing"
	"time"

	"github.com/rfc6455/websocket"
)

// browserTimeout bounds the whole browser run, from starting Chromium to
// the page's last report.
const browserTimeout = 55 * time.Second

// browserEndpoints are the echo endpoints the page runs. Chromium always
// offers "permessage-deflate; client_max_window_bits".
func browserEndpoints() []*echoEndpoint {
	return []*echoEndpoint{
		{Name: "plain", Path: "/ws/plain", Sizes: echoSizes, Deflate: false,
			cfg: &websocket.Config{}},
		{Name: "deflate", Path: "/ws/deflate", Sizes: echoSizes, Deflate: true,
			cfg: &websocket.Config{Options: websocket.Options{
				Compression: &websocket.CompressionOptions{Threshold: -1}}}},
		// Our compressor keeps its context across messages.
		{Name: "deflate-takeover", Path: "/ws/deflate-takeover", Sizes: smallSizes, Deflate: true,
			cfg: &websocket.Config{Options: websocket.Options{
				Compression: &websocket.CompressionOptions{Threshold: -1, ContextTakeover: true}}}},
		// client_no_context_takeover in the response, which Chromium must
		// honour; the default threshold (128) sends the smaller messages
		// uncompressed.
		{Name: "deflate-client-nct", Path: "/ws/deflate-client-nct", Sizes: smallSizes, Deflate: true,
			cfg: &websocket.Config{Options: websocket.Options{
				Compression: &websocket.CompressionOptions{RequestNoContextTakeover: true}}}},
	}
}

// TestBrowser runs browser.js in headless Chromium against our server.
func TestBrowser(t *testing.T) {
	t.Parallel()
	chromium := chromiumPath(t)
	endpoints, res, closes, done, mux := browserPage()
	srv := httptest.NewServer(mux)
	defer srv.Close()

	log := runBrowserPage(t, chromium, srv.URL+"/page", endpoints, res, closes, done)
	if t.Failed() {
		t.Logf("chromium output (tail):\n%s", log)
	}
}

// startChromium starts headless Chromium on url in its own process group
// with a fresh profile; the test's cleanup kills the group and removes the
// profile. The returned tail holds Chromium's output; the channel is closed
// when Chromium's process has exited.
func startChromium(t *testing.T, ctx context.Context, chromium, url string, flags ...string) (*tail, <-chan struct{}) {
	t.Helper()
	profile, err := os.MkdirTemp("", "interop-chromium-")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(chromium, append([]string{
		"--headless",
		"--no-sandbox",
		"--disable-gpu",
		"--disable-background-networking",
		"--disable-component-update",
		"--disable-sync",
		"--no-first-run",
		"--disable-quic",
		"--disable-dev-shm-usage",
		"--user-data-dir=" + profile,
	}, append(flags, url)...)...)
	log := new(tail)
	cmd.Stdout, cmd.Stderr = log, log
	cmd.WaitDelay = 3 * time.Second
	startGroup(cmd)
	if err := cmd.Start(); err != nil {
		os.RemoveAll(profile)
		t.Fatalf("start %s: %v", chromium, err)
	}
	dead := make(chan struct{})
	var waitErr error
	go func() {
		waitErr = cmd.Wait()
		close(dead)
	}()
	stop := context.AfterFunc(ctx, func() { killGroup(cmd) })
	t.Cleanup(func() {
		stop()
		killGroup(cmd)
		select {
		case <-dead:
		case <-time.After(10 * time.Second):
			t.Errorf("chromium (pid %d) still running 10s after SIGKILL", cmd.Process.Pid)
		}
		// Renderers may outlive the browser process by a moment.
		var rmErr error
		for range 20 {
			if rmErr = os.RemoveAll(profile); rmErr == nil {
				break
			}
			time.Sleep(100 * time.Millisecond)
		}
		if rmErr != nil {
			t.Errorf("remove chromium profile: %v", rmErr)
		}
	})
	go func() {
		select {
		case <-dead:
			fmt.Fprintf(log, "\n[interop] chromium exited: %v\n", waitErr)
		case <-ctx.Done():
		}
	}()
	return log, dead
}

// browserPage is the server side of browser.html, shared by the HTTP/1.1
// and HTTP/2 browser tests: the page and its scripts, its configuration,
// the reports it posts (into res), done once it has finished, and the
// echo and close endpoints it talks to.
func browserPage() (endpoints []*echoEndpoint, res *results, closes *closeEndpoints, done chan struct{}, mux *http.ServeMux) {
	endpoints = browserEndpoints()
	res = newResults()
	closes = &closeEndpoints{
		res:          res,
		serverCode:   4001,
		serverReason: fill("server says bye ✓", 123),
		peerCode:     4002,
		peerReason:   fill("page says bye ✓", 123),
	}

	done = make(chan struct{})
	mux = http.NewServeMux()
	for _, f := range []string{"browser.html", "browser.js", "payload.js"} {
		path := "/" + f
		if f == "browser.html" {
			path = "/page"
		}
		mux.HandleFunc("GET "+path, func(w http.ResponseWriter, r *http.Request) {
			w.Header().Set("Cache-Control", "no-store")
			http.ServeFile(w, r, f)
		})
	}
	mux.HandleFunc("GET /config", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"endpoints":    endpoints,
			"serverCode":   closes.serverCode,
			"serverReason": closes.serverReason,
			"peerCode":     closes.peerCode,
			"peerReason":   closes.peerReason,
		})
	})
	mux.HandleFunc("POST /report", func(w http.ResponseWriter, r *http.Request) {
		var rep report
		body, err := io.ReadAll(io.LimitReader(r.Body, 1<<20))
		if err == nil {
			err = json.Unmarshal(body, &rep)
		}
		if err != nil || rep.Case == "" {
			res.fail("page/bad-report", "bad report %q: %v", body, err)
		} else {
			res.add(rep)
		}
	})
	mux.HandleFunc("POST /done", func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-done:
		default:
			close(done)
		}
	})
	for _, e := range endpoints {
		mux.HandleFunc(e.Path, func(w http.ResponseWriter, r *http.Request) { e.serve(res, w, r) })
	}
	closes.register(mux)
	return endpoints, res, closes, done, mux
}

// runBrowserPage points Chromium (with extra flags) at url, waits for the
// page to finish, and asserts every case the page and the server report.
// It returns Chromium's output for the caller to show on failure.
func runBrowserPage(t *testing.T, chromium, url string, endpoints []*echoEndpoint, res *results, closes *closeEndpoints, done <-chan struct{}, flags ...string) *tail {
	t.Helper()
	var want []string
	for _, e := range endpoints {
		want = append(want, "page/"+e.Name+"/open")
		want = append(want, e.echoCases("page")...)
		want = append(want, "page/"+e.Name+"/close")
		want = append(want, e.serverCases()...)
	}
	want = append(want, "page/subprotocol", "page/subprotocol-none", "page/server-close", "page/client-close")
	want = append(want, closes.serverCases()...)

	ctx, cancel := context.WithTimeout(context.Background(), browserTimeout)
	defer cancel()
	log, dead := startChromium(t, ctx, chromium, url, flags...)
	select {
	case <-done:
	case <-dead:
		t.Error("chromium exited before the page finished")
	case <-ctx.Done():
		t.Errorf("the page did not finish within %v", browserTimeout)
	}
	// Server-side reports can trail the page's /done by a moment.
	res.waitFor(want, 5*time.Second, ctx.Done())
	res.assert(t, want)
	return log
}
