package websocket

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

var srvBroadcastSecret = []byte("broadcast-secret-0123456789abcdef")

// srvStart serves New(cfg) (Secret defaulted) and returns the server, its
// ws:// and http:// base URLs, and a token for subject sub.
func srvStart(t *testing.T, cfg WebSocketConfig) (*Server, string, string, func(sub string) string) {
	t.Helper()
	if cfg.Secret == nil && cfg.TokenAuth == nil && !cfg.AllowUnauthenticated {
		cfg.Secret = authTestSecret
	}
	s, err := New(cfg)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	hs := httptest.NewServer(s)
	t.Cleanup(hs.Close)
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = s.Shutdown(ctx)
	})
	a, _ := NewSimpleHS256TokenAuth(authTestSecret)
	token := func(sub string) string {
		tok, err := a.Sign(map[string]any{"sub": sub, "name": "user " + sub, "exp": time.Now().Add(time.Hour).Unix()})
		if err != nil {
			t.Fatal(err)
		}
		return tok
	}
	return s, "ws" + strings.TrimPrefix(hs.URL, "http"), hs.URL, token
}

func srvDial(t *testing.T, url, token string) *Conn {
	t.Helper()
	return hubDial(t, url, &DialOptions{Header: http.Header{"Authorization": {"Bearer " + token}}})
}

func TestNewConfigErrors(t *testing.T) {
	ok := func(c *WebSocketConfig) {}
	tests := []struct {
		name string
		mod  func(*WebSocketConfig)
		want error // nil: New succeeds
	}{
		{"valid", ok, nil},
		{"unauthenticated without secret", func(c *WebSocketConfig) { c.Secret = nil; c.AllowUnauthenticated = true }, nil},
		{"custom TokenAuth without secret", func(c *WebSocketConfig) {
			c.Secret = nil
			c.TokenAuth = TokenAuthenticatorFunc(func(string) (map[string]any, error) { return nil, nil })
		}, nil},
		{"no secret", func(c *WebSocketConfig) { c.Secret = nil }, ErrWeakJWTSecret},
		{"short secret", func(c *WebSocketConfig) { c.Secret = []byte("short") }, ErrWeakJWTSecret},
		{"short secret though unauthenticated allowed", func(c *WebSocketConfig) { c.Secret = []byte("short"); c.AllowUnauthenticated = true }, ErrWeakJWTSecret},
		{"broadcast without secret", func(c *WebSocketConfig) { c.BroadcastEnabled = true }, ErrInvalidConfig},
		{"broadcast short secret", func(c *WebSocketConfig) { c.BroadcastEnabled = true; c.BroadcastSecret = []byte("x") }, ErrInvalidConfig},
		{"broadcast secret is the JWT secret", func(c *WebSocketConfig) { c.BroadcastEnabled = true; c.BroadcastSecret = authTestSecret }, ErrInvalidConfig},
		{"broadcast with authorizer", func(c *WebSocketConfig) {
			c.BroadcastEnabled = true
			c.BroadcastAuthorizer = func(*http.Request) bool { return false }
		}, nil},
		{"broadcast on the ws path", func(c *WebSocketConfig) {
			c.BroadcastEnabled = true
			c.BroadcastSecret = srvBroadcastSecret
			c.BroadcastPath = "/ws"
		}, ErrInvalidConfig},
		{"negative broadcast size", func(c *WebSocketConfig) { c.BroadcastMaxBytes = -1 }, ErrInvalidConfig},
		{"relative path", func(c *WebSocketConfig) { c.WSRoutePath = "ws" }, ErrInvalidConfig},
		{"token subprotocol", func(c *WebSocketConfig) { c.Subprotocols = []string{"chat", "Bearer.x"} }, ErrInvalidConfig},
		{"marker subprotocol", func(c *WebSocketConfig) { c.Subprotocols = []string{"access_token"} }, ErrInvalidConfig},
		{"negative queue", func(c *WebSocketConfig) { c.SendQueueSize = -1 }, ErrInvalidConfig},
		{"bad behavior", func(c *WebSocketConfig) { c.SendBehavior = 9 }, ErrInvalidConfig},
		{"negative limit", func(c *WebSocketConfig) { c.MaxConnections = -7 }, ErrInvalidConfig},
		{"negative read limit", func(c *WebSocketConfig) { c.ReadLimit = -1 }, ErrInvalidConfig},
		{"invalid default room", func(c *WebSocketConfig) { c.DefaultRoom = "no spaces" }, ErrInvalidConfig},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := WebSocketConfig{Secret: authTestSecret}
			tt.mod(&cfg)
			s, err := New(cfg)
			if tt.want == nil {
				if err != nil {
					t.Fatalf("New: %v", err)
				}
				s.Hub().Stop()
				return
			}
			if !errors.Is(err, tt.want) || s != nil {
				t.Fatalf("New = %v, %v; want %v", s, err, tt.want)
			}
		})
	}
}

func TestDefaultWebSocketConfig(t *testing.T) {
	d := DefaultWebSocketConfig()
	want := WebSocketConfig{
		SendQueueSize: 256, SendTimeout: 200 * time.Millisecond, WriteTimeout: 10 * time.Second,
		WSRoutePath: "/ws", BroadcastPath: "/_admin/broadcast", BroadcastMaxBytes: 1 << 20,
		MaxConnections: 10_000, MaxRoomsPerConnection: 32, DefaultRoom: "default",
		ReadLimit: 1 << 20, PingInterval: 30 * time.Second,
	}
	if diff := cmp.Diff(want, d); diff != "" {
		t.Errorf("DefaultWebSocketConfig (-want +got):\n%s", diff)
	}
	if d.BroadcastEnabled || d.AllowUnauthenticated || d.AllowQueryToken || d.AllowAllOrigins {
		t.Error("an unsafe switch is on by default")
	}
}

func TestServeWSWithConfigMisconfigured(t *testing.T) {
	tests := []struct {
		name              string
		cfg               ServerConfig
		serveWS, fanOutWS int // status of a plain GET
	}{
		{"nil hub", ServerConfig{AllowUnauthenticated: true}, 500, 500},
		{"no authenticator", ServerConfig{Hub: NewHub(0, 0)}, 500, 500},
		{"negative queue", ServerConfig{Hub: NewHub(0, 0), AllowUnauthenticated: true, QueueSize: -1}, 500, 500},
		{"bad send behavior", ServerConfig{Hub: NewHub(0, 0), AllowUnauthenticated: true, QueueSize: 1, SendBehavior: 5}, 500, 500},
		{"fan-out with a handler", ServerConfig{Hub: NewHub(0, 0), AllowUnauthenticated: true, OnMessage: func(*Conn, Message) {}}, 426, 500},
		{"valid", ServerConfig{Hub: NewHub(0, 0), AllowUnauthenticated: true}, 426, 426},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			w := httptest.NewRecorder()
			ServeWSWithConfig(w, httptest.NewRequest(http.MethodGet, "/ws", nil), tt.cfg)
			if w.Code != tt.serveWS {
				t.Errorf("ServeWSWithConfig: status %d, want %d", w.Code, tt.serveWS)
			}
			w = httptest.NewRecorder()
			ServeRoomFanoutWS(w, httptest.NewRequest(http.MethodGet, "/ws", nil), tt.cfg)
			if w.Code != tt.fanOutWS {
				t.Errorf("ServeRoomFanoutWS: status %d, want %d", w.Code, tt.fanOutWS)
			}
		})
	}
}

func TestServerDefaultFanOut(t *testing.T) {
	s, url, _, token := srvStart(t, WebSocketConfig{})
	a1 := srvDial(t, url+"/ws?room=a", token("1"))
	a2 := srvDial(t, url+"/ws?room=a&room=b", token("2"))
	b3 := srvDial(t, url+"/ws?room=b", token("3"))
	d4 := srvDial(t, url+"/ws", token("4"))
	hubWaitMembers(t, s.Hub(), 4)
	if n := s.Hub().GetRoomCount(DefaultRoom); n != 1 {
		t.Errorf("%d members in the default room, want 1", n)
	}
	// a1 sends to a; a2 sends to its first room, a.
	for _, m := range []struct {
		from *Conn
		mt   MessageType
		p    string
	}{{a1, TextMessage, "hello a"}, {a2, BinaryMessage, "\x01\x02\x03"}} {
		if err := m.from.WriteMessage(m.mt, []byte(m.p)); err != nil {
			t.Fatal(err)
		}
		for _, c := range []*Conn{a1, a2} {
			mt, p, err := c.ReadMessage()
			if err != nil || string(p) != m.p || mt != m.mt {
				t.Fatalf("ReadMessage = %v %q, %v; want %v %q", mt, p, err, m.mt, m.p)
			}
		}
	}
	// b3 and d4 got nothing: the next thing they read is this marker.
	s.Hub().BroadcastAll(TextMessage, []byte("marker"))
	for _, c := range []*Conn{b3, d4} {
		if _, p, err := c.ReadMessage(); err != nil || string(p) != "marker" {
			t.Fatalf("ReadMessage = %q, %v; want the marker", p, err)
		}
	}
	m := s.Hub().Metrics()
	if m.MessagesIn != 2 || m.BytesIn != 10 || m.SuccessfulAuths != 4 {
		t.Errorf("metrics: in %d/%d bytes, auths %d; want 2/10, 4", m.MessagesIn, m.BytesIn, m.SuccessfulAuths)
	}
}

func TestServerOnMessage(t *testing.T) {
	type seen struct {
		Room, User, Data string
		Type             MessageType
	}
	got := make(chan seen, 1)
	var hub *Hub
	s, url, _, token := srvStart(t, WebSocketConfig{OnMessage: func(c *Conn, m Message) {
		got <- seen{m.Room, m.User.ID, string(m.Data), m.Opcode}
		if err := hub.Send(c, TextMessage, bytes.ToUpper(m.Data)); err != nil {
			t.Errorf("Send: %v", err)
		}
	}})
	hub = s.Hub()
	c := srvDial(t, url+"/ws?room=lobby", token("ada"))
	hubWaitMembers(t, hub, 1)
	if err := c.WriteMessage(TextMessage, []byte("hi")); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(seen{"lobby", "ada", "hi", TextMessage}, <-got); diff != "" {
		t.Errorf("message (-want +got):\n%s", diff)
	}
	if _, p, err := c.ReadMessage(); err != nil || string(p) != "HI" {
		t.Errorf("reply %q, %v", p, err)
	}
	if u, ok := hub.User(s.srvOnlyMember(t)); !ok || u.Name != "user ada" {
		t.Errorf("Hub.User = %+v, %v", u, ok)
	}
}

// srvOnlyMember returns the server's single member.
func (s *Server) srvOnlyMember(t *testing.T) *Conn {
	t.Helper()
	var c *Conn
	s.Hub().RangeConns("lobby", func(m *Conn) bool { c = m; return false })
	if c == nil {
		t.Fatal("no member")
	}
	return c
}

func TestServerLimits(t *testing.T) {
	s, url, _, token := srvStart(t, WebSocketConfig{MaxConnections: 3, MaxRoomConnections: 2, MaxRoomsPerConnection: 2})
	srvDial(t, url+"/ws?room=a", token("1"))
	srvDial(t, url+"/ws?room=a", token("2"))
	hubWaitMembers(t, s.Hub(), 2)
	tests := []struct {
		path   string
		status int
	}{
		{"/ws?room=a", http.StatusTooManyRequests},
		{"/ws?room=x&room=y&room=z", http.StatusBadRequest},
		{"/ws?room=bad%20name", http.StatusBadRequest},
		{"/ws?room=" + strings.Repeat("r", 129), http.StatusBadRequest},
		{"/ws?room=b&room=b", 101}, // duplicates count once
		{"/ws?room=c", http.StatusServiceUnavailable},
	}
	for _, tt := range tests {
		c, resp, err := Dial(context.Background(), url+tt.path, &DialOptions{Header: http.Header{"Authorization": {"Bearer " + token("x")}}})
		if tt.status == 101 {
			if err != nil {
				t.Fatalf("%s: %v", tt.path, err)
			}
			defer c.CloseNow()
			hubWaitMembers(t, s.Hub(), 3)
			continue
		}
		if err == nil || resp == nil || resp.StatusCode != tt.status {
			t.Errorf("%s: %v, %v; want %d", tt.path, resp, err, tt.status)
		}
		if tt.status == http.StatusServiceUnavailable && resp != nil && resp.Header.Get("Retry-After") == "" {
			t.Errorf("%s: 503 without Retry-After", tt.path)
		}
	}
}

func TestServerReadLimit(t *testing.T) {
	s, url, _, token := srvStart(t, WebSocketConfig{ReadLimit: 100})
	c := srvDial(t, url+"/ws", token("1"))
	hubWaitMembers(t, s.Hub(), 1)
	if err := c.WriteMessage(BinaryMessage, make([]byte, 101)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := c.ReadMessage(); !IsCloseError(err, CloseMessageTooBig) {
		t.Errorf("ReadMessage = %v, want close 1009", err)
	}
	hubWaitMembers(t, s.Hub(), 0)
}

func TestServerAdminBroadcast(t *testing.T) {
	t.Run("disabled", func(t *testing.T) {
		_, _, base, _ := srvStart(t, WebSocketConfig{})
		resp, err := http.Post(base+"/_admin/broadcast", "text/plain", strings.NewReader("x"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != http.StatusNotFound {
			t.Errorf("status %d, want 404", resp.StatusCode)
		}
	})
	s, url, base, token := srvStart(t, WebSocketConfig{BroadcastEnabled: true, BroadcastSecret: srvBroadcastSecret, BroadcastMaxBytes: 64})
	a := srvDial(t, url+"/ws?room=a", token("1"))
	b := srvDial(t, url+"/ws?room=b", token("2"))
	hubWaitMembers(t, s.Hub(), 2)
	post := func(method, query, secret string, body []byte) (int, string) {
		req, _ := http.NewRequest(method, base+"/_admin/broadcast"+query, bytes.NewReader(body))
		if secret != "" {
			req.Header.Set("Authorization", "Bearer "+secret)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		out, _ := io.ReadAll(resp.Body)
		return resp.StatusCode, string(out)
	}
	good := string(srvBroadcastSecret)
	tests := []struct {
		name, method, query, secret string
		body                        []byte
		status                      int
		result                      *BroadcastResult
	}{
		{"no secret", "POST", "", "", []byte("x"), 401, nil},
		{"JWT secret is not the broadcast secret", "POST", "", string(authTestSecret), []byte("x"), 401, nil},
		{"user token is not the broadcast secret", "POST", "", token("1"), []byte("x"), 401, nil},
		{"GET", "GET", "", good, nil, 405, nil},
		{"too large", "POST", "", good, make([]byte, 65), 413, nil},
		{"invalid UTF-8 text", "POST", "", good, []byte{0xff}, 400, nil},
		{"bad type", "POST", "?type=json", good, []byte("x"), 400, nil},
		{"bad room", "POST", "?room=a%20b", good, []byte("x"), 400, nil},
		{"to room a", "POST", "?room=a", good, []byte("for a"), 200, &BroadcastResult{Attempted: 1, Enqueued: 1}},
		{"binary to all", "POST", "?type=binary", good, []byte{0xff}, 200, &BroadcastResult{Attempted: 2, Enqueued: 2}},
		{"empty room", "POST", "?room=nobody", good, []byte("x"), 200, &BroadcastResult{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			status, body := post(tt.method, tt.query, tt.secret, tt.body)
			if status != tt.status {
				t.Fatalf("status %d (%s), want %d", status, body, tt.status)
			}
			if tt.result != nil {
				var got BroadcastResult
				if err := json.Unmarshal([]byte(body), &got); err != nil {
					t.Fatalf("body %q: %v", body, err)
				}
				if diff := cmp.Diff(*tt.result, got); diff != "" {
					t.Errorf("result (-want +got):\n%s", diff)
				}
			}
		})
	}
	for c, want := range map[*Conn][]string{a: {"for a", "\xff"}, b: {"\xff"}} {
		for _, w := range want {
			if _, p, err := c.ReadMessage(); err != nil || string(p) != w {
				t.Errorf("ReadMessage = %q, %v; want %q", p, err, w)
			}
		}
	}
	if m := s.Hub().Metrics(); m.SecurityRejections != 3 {
		t.Errorf("SecurityRejections = %d, want 3", m.SecurityRejections)
	}
	s.Hub().Stop()
	if status, _ := post("POST", "", good, []byte("x")); status != http.StatusServiceUnavailable {
		t.Errorf("broadcast after Stop: %d, want 503", status)
	}
}

func TestServerRegisterRoutesAndShutdown(t *testing.T) {
	s, err := New(WebSocketConfig{Secret: authTestSecret, WSRoutePath: "/chat", BroadcastEnabled: true,
		BroadcastAuthorizer: func(r *http.Request) bool { return r.Header.Get("X-Admin") == "yes" }})
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	if err := s.RegisterRoutes(mux); err != nil {
		t.Fatal(err)
	}
	if err := s.RegisterRoutes(nil); !errors.Is(err, ErrInvalidConfig) {
		t.Errorf("RegisterRoutes(nil) = %v", err)
	}
	mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) { fmt.Fprint(w, "home") })
	hs := httptest.NewServer(mux)
	defer hs.Close()
	a, _ := NewSimpleHS256TokenAuth(authTestSecret)
	tok, _ := a.Sign(map[string]any{"sub": "1"})
	url := "ws" + strings.TrimPrefix(hs.URL, "http")
	var errs []chan error
	for range 3 {
		c := srvDial(t, url+"/chat", tok)
		e := make(chan error, 1)
		go func() {
			for {
				if _, _, err := c.ReadMessage(); err != nil {
					e <- err
					return
				}
			}
		}()
		errs = append(errs, e)
	}
	hubWaitMembers(t, s.Hub(), 3)
	req, _ := http.NewRequest(http.MethodPost, hs.URL+"/_admin/broadcast", strings.NewReader("hi"))
	req.Header.Set("X-Admin", "yes")
	resp, err := http.DefaultClient.Do(req)
	if err != nil || resp.StatusCode != 200 {
		t.Fatalf("broadcast via authorizer: %v, %v", resp, err)
	}
	resp.Body.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	for _, e := range errs {
		if err := <-e; !IsCloseError(err, CloseGoingAway) {
			t.Errorf("client ended with %v, want 1001", err)
		}
	}
	_, resp, err = Dial(context.Background(), url+"/chat", &DialOptions{Header: http.Header{"Authorization": {"Bearer " + tok}}})
	if err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("Dial after Shutdown: %v, %v", resp, err)
	}
	hubNoGoroutines(t)
}

func TestServerAllowedOriginsStar(t *testing.T) {
	s, url, _, token := srvStart(t, WebSocketConfig{AllowedOrigins: []string{"*"}})
	c := hubDial(t, url+"/ws", &DialOptions{Header: http.Header{"Authorization": {"Bearer " + token("1")}, "Origin": {"https://elsewhere.example"}}})
	defer c.CloseNow()
	hubWaitMembers(t, s.Hub(), 1)
}
