package websocket

import (
	"bufio"
	"context"
	"crypto/tls"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rfc6455/websocket/handshake"
)

func dialEcho(t *testing.T, c *Conn) {
	t.Helper()
	defer c.CloseNow()
	if err := c.WriteMessage(TextMessage, []byte("ping?")); err != nil {
		t.Fatal(err)
	}
	if _, p, err := c.ReadMessage(); err != nil || string(p) != "ping?" {
		t.Fatalf("echo: %q %v", p, err)
	}
}

func TestDialTLS(t *testing.T) {
	srv := httptest.NewTLSServer(Handler(nil, connEcho))
	defer srv.Close()
	wsURL := "wss" + strings.TrimPrefix(srv.URL, "https")
	pool := srv.Client().Transport.(*http.Transport).TLSClientConfig.RootCAs
	c := connDial(t, wsURL, &DialOptions{TLSConfig: &tls.Config{RootCAs: pool}})
	dialEcho(t, c)

	// Without the test CA the TLS handshake fails.
	if _, _, err := Dial(context.Background(), wsURL, nil); err == nil {
		t.Fatal("dial with an unknown CA succeeded")
	}
}

// connectProxy is an HTTP proxy that only serves CONNECT.
func connectProxy(t *testing.T, used *atomic.Int32) *httptest.Server {
	return httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodConnect {
			http.Error(w, "CONNECT only", http.StatusMethodNotAllowed)
			return
		}
		if r.Header.Get("Proxy-Authorization") != "Basic dXNlcjpwdw==" {
			w.Header().Set("Proxy-Authenticate", "Basic")
			http.Error(w, "auth", http.StatusProxyAuthRequired)
			return
		}
		used.Add(1)
		upstream, err := net.Dial("tcp", r.Host)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadGateway)
			return
		}
		w.WriteHeader(http.StatusOK)
		nc, brw, err := http.NewResponseController(w).Hijack()
		if err != nil {
			upstream.Close()
			return
		}
		brw.Flush()
		go func() { io.Copy(upstream, brw); upstream.Close() }()
		io.Copy(nc, upstream)
		nc.Close()
	}))
}

func TestDialHTTPProxy(t *testing.T) {
	wsURL := connServer(t, nil, connEcho)
	var used atomic.Int32
	proxy := connectProxy(t, &used)
	defer proxy.Close()
	purl, _ := urlParse(proxy.URL)
	purl.User = urlUserPassword("user", "pw")
	c := connDial(t, wsURL, &DialOptions{Proxy: func(*http.Request) (*url.URL, error) { return purl, nil }})
	dialEcho(t, c)
	if used.Load() != 1 {
		t.Fatalf("proxy used %d times", used.Load())
	}
	// Wrong credentials: the proxy refuses and Dial says so.
	purl.User = urlUserPassword("user", "nope")
	_, _, err := Dial(context.Background(), wsURL, &DialOptions{Proxy: func(*http.Request) (*url.URL, error) { return purl, nil }})
	if err == nil || !strings.Contains(err.Error(), "407") {
		t.Fatalf("bad proxy credentials: %v", err)
	}
}

// socks5Server serves one SOCKS5 CONNECT (no auth) per connection.
func socks5Server(t *testing.T, used *atomic.Int32) net.Listener {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func(c net.Conn) {
				defer c.Close()
				br := bufio.NewReader(c)
				var hdr [2]byte
				if _, err := io.ReadFull(br, hdr[:]); err != nil || hdr[0] != 5 {
					return
				}
				methods := make([]byte, hdr[1])
				io.ReadFull(br, methods)
				c.Write([]byte{5, 0})
				var req [4]byte
				if _, err := io.ReadFull(br, req[:]); err != nil || req[1] != 1 {
					return
				}
				var host string
				switch req[3] {
				case 1:
					var ip [4]byte
					io.ReadFull(br, ip[:])
					host = net.IP(ip[:]).String()
				case 3:
					l, _ := br.ReadByte()
					name := make([]byte, l)
					io.ReadFull(br, name)
					host = string(name)
				default:
					return
				}
				var port [2]byte
				io.ReadFull(br, port[:])
				up, err := net.Dial("tcp", net.JoinHostPort(host, itoa(int(binary.BigEndian.Uint16(port[:])))))
				if err != nil {
					c.Write([]byte{5, 5, 0, 1, 0, 0, 0, 0, 0, 0})
					return
				}
				defer up.Close()
				used.Add(1)
				c.Write([]byte{5, 0, 0, 1, 127, 0, 0, 1, 0, 0})
				go io.Copy(up, br)
				io.Copy(c, up)
			}(c)
		}
	}()
	return ln
}

func TestDialSOCKS5(t *testing.T) {
	wsURL := connServer(t, nil, connEcho)
	var used atomic.Int32
	ln := socks5Server(t, &used)
	defer ln.Close()
	purl, _ := urlParse("socks5://" + ln.Addr().String())
	c := connDial(t, wsURL, &DialOptions{Proxy: func(*http.Request) (*url.URL, error) { return purl, nil }})
	dialEcho(t, c)
	if used.Load() != 1 {
		t.Fatalf("socks5 proxy used %d times", used.Load())
	}
}

func TestDialCookieJarAndHeaders(t *testing.T) {
	var sawCookie, sawAuth atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if ck, err := r.Cookie("session"); err == nil && ck.Value == "abc" {
			sawCookie.Store(true)
		}
		if r.Header.Get("Authorization") == "Bearer t" {
			sawAuth.Store(true)
		}
		w.Header().Set("Set-Cookie", "next=1; Path=/")
		c, err := Upgrade(w, r, nil)
		if err != nil {
			return
		}
		connEcho(c, r)
		c.CloseNow()
	}))
	defer srv.Close()
	jar, _ := cookiejar.New(nil)
	u, _ := urlParse(srv.URL)
	jar.SetCookies(u, []*http.Cookie{{Name: "session", Value: "abc"}})
	wsURL := "ws" + strings.TrimPrefix(srv.URL, "http")
	c := connDial(t, wsURL, &DialOptions{Jar: jar, Header: http.Header{"Authorization": {"Bearer t"}}})
	dialEcho(t, c)
	if !sawCookie.Load() || !sawAuth.Load() {
		t.Fatalf("cookie %v auth %v", sawCookie.Load(), sawAuth.Load())
	}
	found := false
	for _, ck := range jar.Cookies(u) {
		found = found || ck.Name == "next"
	}
	if !found {
		t.Fatal("response cookie not stored in the jar")
	}
}

func TestDialFailures(t *testing.T) {
	// A plain HTTP server: the response comes back with its status and body.
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "no websockets here", http.StatusNotFound)
	}))
	defer srv.Close()
	wsURL := "ws" + strings.TrimPrefix(srv.URL, "http")
	_, resp, err := Dial(context.Background(), wsURL, nil)
	if !errors.Is(err, handshake.ErrBadStatus) || resp == nil || resp.StatusCode != http.StatusNotFound {
		t.Fatalf("err %v resp %v", err, resp)
	}
	body, _ := io.ReadAll(resp.Body)
	if !strings.Contains(string(body), "no websockets here") {
		t.Fatalf("body %q", body)
	}

	// A server that never answers: ctx bounds the handshake.
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err == nil {
			time.Sleep(2 * time.Second)
			c.Close()
		}
	}()
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, _, err = Dial(ctx, "ws://"+ln.Addr().String()+"/", nil)
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > time.Second {
		t.Fatalf("silent server: %v after %v", err, time.Since(start))
	}

	// Bad URLs.
	for _, u := range []string{"ftp://x/", "ws://x/#frag", "://"} {
		if _, _, err := Dial(context.Background(), u, nil); err == nil {
			t.Errorf("Dial(%q) succeeded", u)
		}
	}
}

func urlParse(s string) (*url.URL, error)       { return url.Parse(s) }
func urlUserPassword(u, p string) *url.Userinfo { return url.UserPassword(u, p) }
func itoa(n int) string                         { return strconv.Itoa(n) }

// A refused Dial says why: the WWW-Authenticate error, or the body's
// first line, after the status; errors.Is still finds ErrBadStatus.
func TestDialRefusalSaysWhy(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/auth":
			w.Header().Set("WWW-Authenticate", `Bearer realm="websocket", error="invalid_token", error_description="token expired"`)
			http.Error(w, "Unauthorized", http.StatusUnauthorized)
		case "/body":
			http.Error(w, "room \"lobby\" is full\nsecond line", http.StatusTooManyRequests)
		default:
			w.WriteHeader(http.StatusForbidden)
		}
	}))
	defer srv.Close()
	ws := "ws" + strings.TrimPrefix(srv.URL, "http")
	for path, want := range map[string]string{
		"/auth":  "got 401 Unauthorized: WWW-Authenticate: invalid_token (token expired)",
		"/body":  `got 429 Too Many Requests: room "lobby" is full`,
		"/empty": "got 403 Forbidden",
	} {
		_, resp, err := Dial(context.Background(), ws+path, nil)
		if err == nil || !strings.HasSuffix(err.Error(), want) || !errors.Is(err, handshake.ErrBadStatus) {
			t.Errorf("%s: Dial error %v, want it to end with %q and match ErrBadStatus", path, err, want)
		}
		if resp == nil {
			t.Errorf("%s: no response", path)
		}
	}
}
