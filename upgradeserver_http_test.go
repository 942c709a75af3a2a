package websocket

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// unwrapWriter is middleware's ResponseWriter wrapper that exposes the
// one it wraps (Upgrade then still takes the fast path).
type unwrapWriter struct{ http.ResponseWriter }

func (u unwrapWriter) Unwrap() http.ResponseWriter { return u.ResponseWriter }

// opaqueWriter is a wrapper that hides the one it wraps but passes
// Hijack on (Upgrade then hijacks as under an http.Server).
type opaqueWriter struct{ w http.ResponseWriter }

func (o opaqueWriter) Header() http.Header         { return o.w.Header() }
func (o opaqueWriter) Write(p []byte) (int, error) { return o.w.Write(p) }
func (o opaqueWriter) WriteHeader(s int)           { o.w.WriteHeader(s) }
func (o opaqueWriter) Hijack() (net.Conn, *bufio.ReadWriter, error) {
	return o.w.(http.Hijacker).Hijack()
}

// readHeadFrom reads a response head (after its status line) from br.
func readHeadFrom(t *testing.T, br *bufio.Reader) string {
	t.Helper()
	var head strings.Builder
	for {
		l, err := br.ReadString('\n')
		if err != nil {
			t.Fatalf("reading the head: %v (so far %q)", err, head.String())
		}
		if l == "\r\n" {
			return head.String()
		}
		head.WriteString(l)
	}
}

// An UpgradeServer whose Upgrades is an http.Handler serves upgrades
// through Upgrade (as websocket.Handler calls it), directly or under
// middleware, with the client's first frame sent with the request, and
// the headers the handler set going out with the 101.
func TestUpgradeServerUpgrades(t *testing.T) {
	checkGoroutines(t)
	ws := Handler(nil, connEcho)
	mux := http.NewServeMux()
	mux.Handle("/plain", ws)
	mux.Handle("/unwrap", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Set-Cookie", "session=1")
		ws.ServeHTTP(unwrapWriter{w}, r)
	}))
	mux.Handle("/opaque", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		ws.ServeHTTP(opaqueWriter{w}, r)
	}))
	s := &UpgradeServer{Upgrades: mux}
	addr := startUpgradeServer(t, s, nil)
	for _, path := range []string{"/plain", "/unwrap", "/opaque"} {
		t.Run(path[1:], func(t *testing.T) {
			c := connDial(t, "ws://"+addr+path, nil)
			defer c.CloseNow()
			for _, n := range []int{0, 125, 70000} {
				p := bytes.Repeat([]byte{'u'}, n)
				if err := c.WriteMessage(BinaryMessage, p); err != nil {
					t.Fatal(err)
				}
				if _, q, err := c.ReadMessage(); err != nil || !bytes.Equal(p, q) {
					t.Fatalf("echo of %d bytes: %d bytes, %v", n, len(q), err)
				}
			}
			if err := c.Close(CloseNormalClosure, ""); err != nil {
				t.Errorf("Close: %v", err)
			}

			// A first frame in the request's segment is not lost.
			head := strings.Replace(fmt.Sprintf(usUpgradeHead, addr, ""), "/chat?x=1", path, 1)
			line, br, _ := rawRequest(t, addr, head+string(rpEncode(rpText("first"), true)))
			if line != "HTTP/1.1 101 Switching Protocols" {
				t.Fatalf("status %q", line)
			}
			h := readHeadFrom(t, br)
			if path == "/unwrap" && !strings.Contains(h, "Set-Cookie: session=1\r\n") {
				t.Errorf("the handler's header is missing from the 101:\n%s", h)
			}
			got := make([]byte, 7)
			if _, err := io.ReadFull(br, got); err != nil || string(got[2:]) != "first" {
				t.Fatalf("echo %q, %v", got, err)
			}
		})
	}
}

// What an Upgrades handler answers instead of upgrading reaches the
// client as an HTTP/1.1 response, and the connection is closed after it;
// a panic closes the connection without one and the server goes on.
func TestUpgradeServerUpgradesAnswers(t *testing.T) {
	checkGoroutines(t)
	mux := http.NewServeMux()
	mux.Handle("/ws", Handler(nil, connEcho))
	mux.HandleFunc("/auth", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("WWW-Authenticate", "Bearer")
		http.Error(w, "no token", http.StatusUnauthorized)
	})
	mux.HandleFunc("/nothing", func(w http.ResponseWriter, r *http.Request) {})
	mux.HandleFunc("/sniffed", func(w http.ResponseWriter, r *http.Request) {
		io.WriteString(w, "<html>hi</html>")
	})
	mux.HandleFunc("/length", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Length", "2")
		w.WriteHeader(http.StatusTeapot)
		if _, err := io.WriteString(w, "abc"); err != http.ErrContentLength {
			panic(fmt.Sprintf("writing past Content-Length: %v", err))
		}
		io.WriteString(w, "ab")
	})
	mux.HandleFunc("/panic", func(w http.ResponseWriter, r *http.Request) { panic("handler bug") })
	mux.HandleFunc("/twice", func(w http.ResponseWriter, r *http.Request) {
		if _, err := Upgrade(w, r, nil); err != nil {
			panic(err)
		}
		if _, err := Upgrade(w, r, nil); err == nil {
			panic("a second Upgrade succeeded")
		}
		// (the first Conn is dropped: the client sees its connection)
	})
	cfg := DefaultConfig()
	var logged syncBuf
	cfg.Logger = slog.New(slog.NewTextHandler(&logged, nil))
	s := &UpgradeServer{Upgrades: mux, Config: cfg}
	addr := startUpgradeServer(t, s, nil)
	req := func(path, extra string) string {
		return strings.Replace(fmt.Sprintf(usUpgradeHead, addr, extra), "/chat?x=1", path, 1)
	}
	cases := []struct {
		name, head, status string
		headers            []string
		body               string
	}{
		{"refused version", strings.Replace(req("/ws", ""), "Version: 13", "Version: 8", 1),
			"HTTP/1.1 426 Upgrade Required", []string{"Sec-Websocket-Version: 13", "Connection: close"}, "Sec-WebSocket-Version must be 13\n"},
		{"401", req("/auth", ""), "HTTP/1.1 401 Unauthorized",
			[]string{"Www-Authenticate: Bearer", "Content-Type: text/plain; charset=utf-8", "Connection: close"}, "no token\n"},
		{"not found", req("/nope", ""), "HTTP/1.1 404 Not Found", []string{"Connection: close"}, "404 page not found\n"},
		{"nothing written", req("/nothing", ""), "HTTP/1.1 200 OK", []string{"Content-Length: 0", "Date: "}, ""},
		{"sniffed", req("/sniffed", ""), "HTTP/1.1 200 OK", []string{"Content-Type: text/html; charset=utf-8"}, "<html>hi</html>"},
		{"content length", req("/length", ""), "HTTP/1.1 418 I'm a teapot", []string{"Content-Length: 2"}, "ab"},
		{"HEAD", strings.Replace(req("/sniffed", ""), "GET ", "HEAD ", 1), "HTTP/1.1 200 OK", []string{"Connection: close"}, ""},
		{"HEAD refused", strings.Replace(req("/ws", ""), "GET ", "HEAD ", 1), "HTTP/1.1 405 Method Not Allowed", []string{"Allow: GET"}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			line, br, _ := rawRequest(t, addr, tc.head)
			if line != tc.status {
				t.Fatalf("status %q, want %q", line, tc.status)
			}
			h := readHeadFrom(t, br)
			for _, want := range tc.headers {
				if !strings.Contains(h, want) {
					t.Errorf("head lacks %q:\n%s", want, h)
				}
			}
			body, err := io.ReadAll(br) // the server closes after answering
			if err != nil || !strings.HasSuffix(string(body), tc.body) || (tc.body == "" && len(body) != 0) {
				t.Errorf("body %q, %v; want %q then the end", body, err, tc.body)
			}
		})
	}

	// A panic: no response, the connection closed; the next request is
	// served.
	nc, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	_ = nc.SetDeadline(time.Now().Add(5 * time.Second))
	io.WriteString(nc, req("/panic", ""))
	if b, err := io.ReadAll(nc); err != nil || len(b) != 0 {
		t.Fatalf("after a panic: %q, %v; want the connection closed", b, err)
	}
	if !strings.Contains(logged.String(), "handler bug") {
		t.Errorf("the panic was not logged to Config.Logger: %q", logged.String())
	}
	line, _, _ := rawRequest(t, addr, req("/twice", ""))
	if line != "HTTP/1.1 101 Switching Protocols" {
		t.Fatalf("after the panic: %q", line)
	}

	// Handler and Upgrades are one or the other.
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	both := &UpgradeServer{Handler: connEcho, Upgrades: mux}
	if err := both.Serve(ln); err == nil {
		t.Fatal("Serve with both Handler and Upgrades succeeded")
	}
}

// Shutdown waits for Upgrades handlers until they take their connection:
// one that keeps running it inside ServeHTTP (as gorilla-style code does)
// does not hold Shutdown up, one that has not answered yet does.
func TestUpgradeServerUpgradesShutdown(t *testing.T) {
	checkGoroutines(t)
	release := make(chan struct{})
	mux := http.NewServeMux()
	mux.HandleFunc("/inline", func(w http.ResponseWriter, r *http.Request) {
		c, err := Upgrade(w, r, nil)
		if err != nil {
			return
		}
		connEcho(c, r) // the connection runs in ServeHTTP
		c.CloseNow()
	})
	stalled := make(chan struct{})
	mux.HandleFunc("/stall", func(w http.ResponseWriter, r *http.Request) {
		close(stalled)
		<-release
	})
	s := &UpgradeServer{Upgrades: mux}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	errc := make(chan error, 1)
	go func() { errc <- s.Serve(ln) }()
	addr := ln.Addr().String()
	c := connDial(t, "ws://"+addr+"/inline", nil)
	defer c.CloseNow()
	if err := c.WriteMessage(TextMessage, []byte("x")); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.ReadMessage(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown with a connection running in ServeHTTP: %v", err)
	}
	if err := <-errc; !errors.Is(err, ErrServerClosed) {
		t.Fatalf("Serve: %v", err)
	}
	c.Close(CloseNormalClosure, "")

	// A handler that has not answered holds Shutdown up until ctx ends.
	s2 := &UpgradeServer{Upgrades: mux}
	ln2, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go s2.Serve(ln2)
	nc, err := net.Dial("tcp", ln2.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	defer nc.Close()
	io.WriteString(nc, strings.Replace(fmt.Sprintf(usUpgradeHead, addr, ""), "/chat?x=1", "/stall", 1))
	<-stalled
	ctx2, cancel2 := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel2()
	if err := s2.Shutdown(ctx2); !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Shutdown with a handler under way: %v, want the context's error", err)
	}
	close(release)
	if err := s2.Shutdown(context.Background()); err != nil {
		t.Fatalf("Shutdown once the handler returned: %v", err)
	}
}
