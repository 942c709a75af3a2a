package main

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/rfc6455/websocket"
)

func TestChat(t *testing.T) {
	auth, err := websocket.NewSimpleHS256TokenAuth([]byte("test secret, at least 32 bytes long"))
	if err != nil {
		t.Fatal(err)
	}
	srv, handler, err := newChat(auth, nil)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(handler)
	defer hs.Close()

	resp, err := http.Get(hs.URL + "/")
	if err != nil {
		t.Fatal(err)
	}
	page, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != 200 || !strings.Contains(string(page), `"bearer." + token`) {
		t.Fatalf("GET / = %d, %d bytes", resp.StatusCode, len(page))
	}

	dial := func(user, room string) *websocket.Conn {
		tok, _ := auth.Sign(map[string]any{"sub": user, "name": user})
		c, resp, err := websocket.Dial(context.Background(), "ws"+strings.TrimPrefix(hs.URL, "http")+"/ws?room="+room,
			&websocket.DialOptions{Subprotocols: []string{"chat.v1", "bearer." + tok}})
		if err != nil {
			t.Fatalf("Dial: %v (%v)", err, resp)
		}
		if c.Subprotocol() != "chat.v1" {
			t.Fatalf("subprotocol %q", c.Subprotocol())
		}
		return c
	}
	alice, bob, carol := dial("alice", "lobby"), dial("bob", "lobby"), dial("carol", "other")
	for srv.Hub().GetActiveConnectionCount() < 3 {
		time.Sleep(time.Millisecond)
	}
	if err := alice.WriteMessage(websocket.TextMessage, []byte("hi <b>bob</b>")); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*websocket.Conn{alice, bob} {
		_, p, err := c.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		var m chatMessage
		if err := json.Unmarshal(p, &m); err != nil || m.User != "alice" || m.Room != "lobby" || m.Text != "hi <b>bob</b>" {
			t.Errorf("got %s (%v)", p, err)
		}
	}
	// Too long: closed with 1009.
	if err := carol.WriteMessage(websocket.TextMessage, make([]byte, maxText+1)); err != nil {
		t.Fatal(err)
	}
	if _, _, err := carol.ReadMessage(); !websocket.IsCloseError(err, websocket.CloseMessageTooBig) {
		t.Errorf("oversized message: %v", err)
	}
	go func() { _, _, _ = alice.ReadMessage() }()
	go func() { _, _, _ = bob.ReadMessage() }()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := srv.Shutdown(ctx); err != nil {
		t.Error(err)
	}
}
