package websocket

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// The server layer's hooks: OnConnect sees the joined connection, its
// user and the hub (InRoom, RoomsOf); OnHubMessage gets the hub; a
// request naming no room joins none with NoDefaultRoom; OnDisconnect
// sees why reading ended after the connection left the hub; PongTimeout,
// CloseTimeout and WriteTimeout reach the connections.
func TestServerHooks(t *testing.T) {
	type event struct {
		kind  string
		user  string
		rooms []string
		err   error
	}
	events := make(chan event, 16)
	var srv *Server
	cfg := WebSocketConfig{
		NoDefaultRoom: true,
		PingInterval:  time.Minute,
		PongTimeout:   7 * time.Second,
		CloseTimeout:  3 * time.Second,
		WriteTimeout:  4 * time.Second,
		OnConnect: func(c *Conn, user *UserInfo, hub *Hub) {
			rooms, member := hub.RoomsOf(c)
			if !member || hub != srv.Hub() {
				t.Errorf("OnConnect: member %v, hub %p (server's %p)", member, hub, srv.Hub())
			}
			if len(rooms) > 0 && !hub.InRoom(rooms[0], c) {
				t.Errorf("InRoom(%q) false for a member of it", rooms[0])
			}
			if hub.InRoom("elsewhere", c) {
				t.Error("InRoom true for a room not joined")
			}
			if c.o.pongTimeout != 7*time.Second || c.o.closeTimeout != 3*time.Second || c.o.writeTimeout != 4*time.Second {
				t.Errorf("connection options: pong %v close %v write %v", c.o.pongTimeout, c.o.closeTimeout, c.o.writeTimeout)
			}
			_ = c.WriteMessage(TextMessage, []byte("welcome "+user.Name))
			events <- event{kind: "connect", user: user.ID, rooms: rooms}
		},
		OnHubMessage: func(hub *Hub, c *Conn, msg Message) {
			if msg.Room == "" {
				hub.BroadcastAll(msg.Opcode, append([]byte("all: "), msg.Data...))
				return
			}
			hub.BroadcastRoom(msg.Room, msg.Opcode, append([]byte(msg.Room+": "), msg.Data...))
		},
		OnDisconnect: func(c *Conn, user *UserInfo, hub *Hub, err error) {
			_, member := hub.RoomsOf(c)
			if member {
				t.Error("OnDisconnect: still a member")
			}
			events <- event{kind: "disconnect", user: user.ID, err: err}
		},
	}
	srv, url, _, token := srvStart(t, cfg)

	alice := srvDial(t, url+"/ws?room=a&room=b", token("alice"))
	defer alice.CloseNow()
	if e := <-events; e.kind != "connect" || e.user != "alice" || strings.Join(e.rooms, ",") != "a,b" {
		t.Fatalf("event %+v", e)
	}
	bob := srvDial(t, url+"/ws", token("bob")) // no room: none joined
	defer bob.CloseNow()
	if e := <-events; e.kind != "connect" || e.user != "bob" || len(e.rooms) != 0 {
		t.Fatalf("event %+v", e)
	}
	for _, c := range []*Conn{alice, bob} {
		if _, p, err := c.ReadMessage(); err != nil || !strings.HasPrefix(string(p), "welcome user ") {
			t.Fatalf("welcome: %q %v", p, err)
		}
	}
	if err := bob.WriteMessage(TextMessage, []byte("hi")); err != nil {
		t.Fatal(err)
	}
	if err := alice.WriteMessage(TextMessage, []byte("yo")); err != nil {
		t.Fatal(err)
	}
	// alice gets bob's BroadcastAll and her own room message; bob only
	// the BroadcastAll.
	got := map[string]bool{}
	for i := 0; i < 2; i++ {
		_, p, err := alice.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		got[string(p)] = true
	}
	if !got["all: hi"] || !got["a: yo"] {
		t.Fatalf("alice got %v", got)
	}
	if _, p, err := bob.ReadMessage(); err != nil || string(p) != "all: hi" {
		t.Fatalf("bob got %q %v", p, err)
	}
	if err := bob.Close(CloseGoingAway, "bye"); err != nil {
		t.Fatal(err)
	}
	if e := <-events; e.kind != "disconnect" || e.user != "bob" || !IsCloseError(e.err, CloseGoingAway) {
		t.Fatalf("event %+v", e)
	}
	alice.CloseNow()
	if e := <-events; e.kind != "disconnect" || e.user != "alice" || !IsCloseError(e.err, CloseAbnormalClosure) {
		t.Fatalf("event %+v", e)
	}

	if _, err := New(WebSocketConfig{AllowUnauthenticated: true,
		OnMessage:    func(*Conn, Message) {},
		OnHubMessage: func(*Hub, *Conn, Message) {}}); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("New with both handlers: %v", err)
	}
	if _, err := New(WebSocketConfig{AllowUnauthenticated: true, PongTimeout: -1}); !errors.Is(err, ErrInvalidConfig) {
		t.Fatalf("New with a negative PongTimeout: %v", err)
	}
}

// The default room still applies without NoDefaultRoom, and OnMessage
// keeps working as before.
func TestServerDefaultRoomStill(t *testing.T) {
	rooms := make(chan []string, 1)
	_, url, _, token := srvStart(t, WebSocketConfig{
		OnConnect: func(c *Conn, _ *UserInfo, hub *Hub) {
			r, _ := hub.RoomsOf(c)
			rooms <- r
		},
	})
	c := srvDial(t, url+"/ws", token("carol"))
	defer c.CloseNow()
	if r := <-rooms; len(r) != 1 || r[0] != DefaultRoom {
		t.Fatalf("rooms %v, want [%s]", r, DefaultRoom)
	}
}

func TestTokenFromRequest(t *testing.T) {
	for _, tc := range []struct {
		name       string
		header     http.Header
		query      string
		allowQuery bool
		token      string
		where      string
		err        error
	}{
		{"none", nil, "", false, "", "", nil},
		{"header", http.Header{"Authorization": {"Bearer abc"}}, "", false, "abc", TokenInHeader, nil},
		{"subprotocol prefix", http.Header{"Sec-Websocket-Protocol": {"chat, bearer.xyz"}}, "", false, "xyz", TokenInSubprotocol, nil},
		{"subprotocol marker", http.Header{"Sec-Websocket-Protocol": {TokenSubprotocolMarker + ", tok"}}, "", false, "tok", TokenInSubprotocol, nil},
		{"query allowed", nil, "?access_token=q", true, "q", TokenInQuery, nil},
		{"query refused", nil, "?token=q", false, "", "", ErrQueryTokenNotAllowed},
		{"two places", http.Header{"Authorization": {"Bearer abc"}, "Sec-Websocket-Protocol": {"bearer.xyz"}}, "", false, "", "", ErrMultipleTokens},
		{"empty", http.Header{"Authorization": {"Bearer "}}, "", false, "", "", ErrInvalidToken},
	} {
		r := httptest.NewRequest("GET", "http://x/ws"+tc.query, nil)
		for k, v := range tc.header {
			r.Header[k] = v
		}
		tok, where, err := TokenFromRequest(r, tc.allowQuery)
		if tok != tc.token || where != tc.where || !errors.Is(err, tc.err) || (tc.err == nil && err != nil) {
			t.Errorf("%s: (%q, %q, %v), want (%q, %q, %v)", tc.name, tok, where, err, tc.token, tc.where, tc.err)
		}
	}
}

// A handler of your own authenticates as the server layer does, and a
// refused Dial says why.
func TestAuthenticateRequestCustomHandler(t *testing.T) {
	auth, err := NewSimpleHS256TokenAuth(authTestSecret)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		user, err := AuthenticateRequest(r, auth, false)
		if err != nil {
			WriteUnauthorized(w, err)
			return
		}
		c, err := Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.CloseNow()
		_ = c.WriteMessage(TextMessage, []byte("hello "+user.ID))
		_ = c.Close(CloseNormalClosure, "")
	}))
	defer srv.Close()
	url := "ws" + strings.TrimPrefix(srv.URL, "http")
	good, _ := auth.Sign(map[string]any{"sub": "dave", "exp": time.Now().Add(time.Hour).Unix()})
	expired, _ := auth.Sign(map[string]any{"sub": "dave", "exp": time.Now().Add(-time.Hour).Unix()})

	c, _, err := Dial(context.Background(), url, &DialOptions{Subprotocols: []string{"bearer." + good}})
	if err != nil {
		t.Fatal(err)
	}
	if _, p, err := c.ReadMessage(); err != nil || string(p) != "hello dave" {
		t.Fatalf("read %q %v", p, err)
	}
	c.CloseNow()
	_, resp, err := Dial(context.Background(), url, &DialOptions{Header: http.Header{"Authorization": {"Bearer " + expired}}})
	if err == nil || resp.StatusCode != http.StatusUnauthorized || !strings.Contains(err.Error(), "invalid_token (token expired)") {
		t.Fatalf("Dial with an expired token: %v", err)
	}
	_, _, err = Dial(context.Background(), url, nil)
	if err == nil || !strings.HasSuffix(err.Error(), "got 401 Unauthorized: Unauthorized") {
		t.Fatalf("Dial without a token: %v", err)
	}
}
