package websocket

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rfc6455/websocket/handshake"
)

// originProbe sends one opening handshake to url with the given Host and
// Origin ("" for none) and returns the status and body.
func originProbe(t *testing.T, url, host, origin string) (int, string) {
	t.Helper()
	req, err := http.NewRequest(http.MethodGet, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.Host = host
	req.Header.Set("Upgrade", "websocket")
	req.Header.Set("Connection", "Upgrade")
	req.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	req.Header.Set("Sec-WebSocket-Version", "13")
	if origin != "" {
		req.Header.Set("Origin", origin)
	}
	client := &http.Client{Timeout: 5 * time.Second}
	resp, err := client.Do(req)
	if err != nil {
		t.Fatalf("handshake: %v", err)
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusSwitchingProtocols {
		return resp.StatusCode, "" // the body is the connection: no EOF to wait for
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 4096))
	return resp.StatusCode, string(body)
}

// TestUpgradeOriginAndHost: Upgrade compares the Origin's scheme with the
// transport's, refuses Hosts outside Config.AllowedHosts with 421 (DNS
// rebinding against a loopback server), and returns an error naming the
// Origin and the Host while the response body stays a fixed text.
func TestUpgradeOriginAndHost(t *testing.T) {
	errs := make(chan error, 1)
	var cfg *Config
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := Upgrade(w, r, cfg)
		if err == nil {
			c.CloseNow()
		}
		errs <- err
	}))
	defer srv.Close()
	self := strings.TrimPrefix(srv.URL, "http://") // 127.0.0.1:port
	port := self[strings.LastIndexByte(self, ':'):]
	evil := "evil.example" + port

	tests := []struct {
		name         string
		cfg          *Config
		host, origin string
		status       int
		sentinel     error
		inErr        []string // substrings of the Upgrade error
	}{
		{"same origin", nil, self, "http://" + self, 101, nil, nil},
		{"https origin over plain HTTP", nil, self, "https://" + self, 403, handshake.ErrOriginNotAllowed,
			[]string{`Origin "https://` + self + `"`, `Host "` + self + `"`, "over http"}},
		{"ftp origin", nil, self, "ftp://" + self, 403, handshake.ErrOriginNotAllowed, []string{`Origin "ftp://` + self + `"`}},
		{"PublicScheme https", &Config{PublicScheme: "https"}, self, "https://" + self, 101, nil, nil},
		{"rebinding passes without AllowedHosts", nil, evil, "http://" + evil, 101, nil, nil},
		{"rebinding refused by AllowedHosts", &Config{AllowedHosts: []string{"localhost" + port, self, "[::1]" + port}},
			evil, "http://" + evil, 421, handshake.ErrHostNotAllowed, []string{`Host "` + evil + `" is not in AllowedHosts`}},
		{"AllowedHosts lets the real name in", &Config{AllowedHosts: []string{"localhost" + port, self}},
			self, "http://" + self, 101, nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg = tc.cfg
			status, body := originProbe(t, srv.URL, tc.host, tc.origin)
			var err error
			select {
			case err = <-errs:
			case <-time.After(5 * time.Second):
				t.Fatal("handler did not run")
			}
			if status != tc.status {
				t.Fatalf("status %d (err %v), want %d", status, err, tc.status)
			}
			if tc.sentinel == nil {
				if err != nil {
					t.Fatalf("Upgrade: %v", err)
				}
				return
			}
			if !errors.Is(err, tc.sentinel) {
				t.Fatalf("Upgrade error %v, want %v", err, tc.sentinel)
			}
			for _, s := range tc.inErr {
				if !strings.Contains(err.Error(), s) {
					t.Errorf("Upgrade error %q lacks %q", err, s)
				}
			}
			if strings.Contains(body, tc.origin) || strings.Contains(body, tc.host) {
				t.Errorf("response body %q echoes the request's Origin or Host", body)
			}
		})
	}
}

// TestNewAllowedHosts: WebSocketConfig carries the Host allowlist and the
// public scheme to the server New makes.
func TestNewAllowedHosts(t *testing.T) {
	s, err := New(WebSocketConfig{AllowUnauthenticated: true, PublicScheme: "https",
		AllowedHosts: []string{"localhost", "127.0.0.1"}})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(s)
	defer srv.Close()
	self := strings.TrimPrefix(srv.URL, "http://")
	if status, _ := originProbe(t, srv.URL+"/ws", "evil.example", ""); status != http.StatusMisdirectedRequest {
		t.Errorf("evil Host: status %d, want 421", status)
	}
	if status, _ := originProbe(t, srv.URL+"/ws", self, "http://"+self); status != http.StatusForbidden {
		t.Errorf("http origin with PublicScheme https: status %d, want 403", status)
	}
	if status, _ := originProbe(t, srv.URL+"/ws", self, "https://"+self); status != http.StatusSwitchingProtocols {
		t.Errorf("https origin with PublicScheme https: status %d, want 101", status)
	}
}

// TestOriginConfigErrors: a malformed origin or host pattern is a
// configuration error: New fails, Upgrade answers 500 and says which.
func TestOriginConfigErrors(t *testing.T) {
	for _, cfg := range []WebSocketConfig{
		{AllowUnauthenticated: true, AllowedOrigins: []string{"https://app.example.com/"}},
		{AllowUnauthenticated: true, AllowedHosts: []string{"http://localhost"}},
		{AllowUnauthenticated: true, PublicScheme: "wss"},
	} {
		if _, err := New(cfg); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("New(%+v): %v, want ErrInvalidConfig", cfg, err)
		}
	}
	rec := httptest.NewRecorder()
	r := httptest.NewRequest(http.MethodGet, "http://example.com/", nil)
	r.Header.Set("Upgrade", "websocket")
	r.Header.Set("Connection", "Upgrade")
	r.Header.Set("Sec-WebSocket-Key", "dGhlIHNhbXBsZSBub25jZQ==")
	r.Header.Set("Sec-WebSocket-Version", "13")
	_, err := Upgrade(rec, r, &Config{AllowedOrigins: []string{"https://app.example.com/"}})
	if rec.Code != http.StatusInternalServerError || !errors.Is(err, handshake.ErrInvalidConfig) ||
		!strings.Contains(err.Error(), `AllowedOrigins[0] "https://app.example.com/"`) {
		t.Errorf("Upgrade with a bad pattern: %d, %v", rec.Code, err)
	}
	if strings.Contains(rec.Body.String(), "app.example.com") {
		t.Errorf("body %q shows the configuration", rec.Body.String())
	}
}
