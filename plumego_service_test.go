package websocket_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rfc6455/websocket"
)

// chatEvent is the JSON a Plumego-style chat service exchanges.
type chatEvent struct {
	Type string `json:"type"`
	Room string `json:"room,omitempty"`
	From string `json:"from,omitempty"`
	Text string `json:"text,omitempty"`
}

// TestPlumegoStyleService compiles a service written the way Plumego's
// x/websocket is used (New with a WebSocketConfig, routes registered on a
// mux, token auth and room auth from one SecureRoomAuth, broadcasts
// through the hub, the Conn helpers), changed only where README.md's
// migration table says, and runs it over loopback: behind an http.Server,
// and behind an UpgradeServer with the same mux as Upgrades and Fallback.
func TestPlumegoStyleService(t *testing.T) {
	t.Run("http.Server", func(t *testing.T) {
		plumegoStyleService(t, func(h http.Handler) string {
			hs := httptest.NewServer(h)
			t.Cleanup(hs.Close)
			return hs.Listener.Addr().String()
		})
	})
	t.Run("UpgradeServer", func(t *testing.T) {
		plumegoStyleService(t, func(h http.Handler) string {
			us := &websocket.UpgradeServer{Upgrades: h, Fallback: h}
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			go us.Serve(ln)
			t.Cleanup(func() { us.Close() })
			return ln.Addr().String()
		})
	})
}

// plumegoStyleService is TestPlumegoStyleService with serve serving the
// service's mux on loopback and returning its address.
func plumegoStyleService(t *testing.T, serve func(http.Handler) string) {
	secret, err := websocket.GenerateSecureSecret(32)
	if err != nil {
		t.Fatal(err)
	}
	if err := websocket.ValidateSecurityConfig(websocket.SecurityConfig{JWTSecret: secret}); err != nil {
		t.Fatal(err)
	}
	auth, err := websocket.NewSecureRoomAuth(secret, websocket.SecurityConfig{EnforcePasswordStrength: true})
	if err != nil {
		t.Fatal(err)
	}
	if err := auth.SetRoomPassword("vip", "weak"); !errors.Is(err, websocket.ErrWeakRoomPassword) {
		t.Fatalf("weak room password accepted: %v", err)
	}
	if err := auth.SetRoomPassword("vip", "Str0ngPassw0rd"); err != nil {
		t.Fatal(err)
	}

	var hub *websocket.Hub // the handler reaches the hub through this
	validation := websocket.DefaultMessageValidationConfig()
	cfg := websocket.DefaultWebSocketConfig()
	cfg.WorkerCount, cfg.JobQueueSize = 16, 4096 // Plumego's pool: accepted, no effect
	cfg.SendBehavior = websocket.SendDrop
	cfg.TokenAuth = auth
	cfg.RoomAuth = auth
	cfg.ReadLimit = auth.MaxMessageSize()
	cfg.OnMessage = func(c *websocket.Conn, msg websocket.Message) {
		if err := websocket.ValidateTextMessage(msg.Data, validation); err != nil {
			_ = c.WriteJSON(chatEvent{Type: "error", Text: err.Error()})
			return
		}
		n, _ := c.GetMetadata("messages")
		count, _ := n.(int)
		c.SetMetadata("messages", count+1)
		switch string(msg.Data) {
		case "whoami":
			_ = c.WriteText(msg.User.ID)
		case "keepalive":
			err := errors.Join(c.SetPingPeriod(20*time.Second), c.SetPongWait(10*time.Second), c.SetWriteTimeout(5*time.Second))
			if last := c.GetLastPong(); err == nil && time.Since(last) < time.Minute {
				_ = c.WriteText("keepalive ok")
			} else {
				_ = c.WriteText(fmt.Sprintf("keepalive: %v, last %v", err, last))
			}
		case "count":
			_ = c.WriteBinary([]byte{byte(count + 1)})
		default:
			hub.TryBroadcastRoom(msg.Room, websocket.OpcodeText, msg.Data)
		}
	}
	srv, err := websocket.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hub = srv.Hub()
	mux := http.NewServeMux()
	if err := srv.RegisterRoutes(mux); err != nil {
		t.Fatal(err)
	}
	addr := serve(mux)
	if name, st := srv.Health(); name != "websocket" || st.Status != "healthy" {
		t.Fatalf("Health = %s %+v", name, st)
	}

	signer, _ := websocket.NewSimpleHS256TokenAuth(secret)
	dial := func(user, room, password string) (*websocket.Conn, *http.Response, error) {
		tok, _ := signer.Sign(map[string]any{"sub": user, "exp": time.Now().Add(time.Hour).Unix()})
		h := http.Header{"Authorization": {"Bearer " + tok}}
		if password != "" {
			h.Set(websocket.RoomPasswordHeader, password)
		}
		url := "ws://" + addr + "/ws?room=" + room
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		return websocket.Dial(ctx, url, &websocket.DialOptions{Header: h})
	}
	waitRoom := func(room string, n int) {
		deadline := time.Now().Add(5 * time.Second)
		for hub.GetRoomCount(room) != n {
			if time.Now().After(deadline) {
				t.Fatalf("room %s has %d members, want %d", room, hub.GetRoomCount(room), n)
			}
			time.Sleep(time.Millisecond)
		}
	}

	// Room auth: the wrong password is refused before the upgrade.
	if _, resp, err := dial("eve", "vip", "guess"); err == nil || resp == nil || resp.StatusCode != http.StatusForbidden {
		t.Fatalf("wrong room password: %v %v", resp, err)
	}
	if m := auth.GetMetrics(); m.SuccessfulAuthentications == 0 || m.WeakRoomPasswords != 1 {
		t.Fatalf("security metrics %+v", m)
	}
	ada, _, err := dial("ada", "vip", "Str0ngPassw0rd")
	if err != nil {
		t.Fatal(err)
	}
	defer ada.CloseNow()
	bob, _, err := dial("bob", "vip", "Str0ngPassw0rd")
	if err != nil {
		t.Fatal(err)
	}
	defer bob.CloseNow()
	lee, _, err := dial("lee", "lobby", "")
	if err != nil {
		t.Fatal(err)
	}
	defer lee.CloseNow()
	waitRoom("vip", 2)
	waitRoom("lobby", 1)

	readText := func(c *websocket.Conn) string {
		t.Helper()
		op, r, err := c.ReadMessageReader()
		if err != nil {
			t.Fatal(err)
		}
		defer r.Close()
		p, err := io.ReadAll(r)
		if err != nil {
			t.Fatal(err)
		}
		if op != websocket.OpcodeText {
			t.Fatalf("opcode %v", op)
		}
		return string(p)
	}

	// Fan-out to the sender's room, the sender included.
	if err := ada.WriteText("hello vip"); err != nil {
		t.Fatal(err)
	}
	for _, c := range []*websocket.Conn{ada, bob} {
		if got := readText(c); got != "hello vip" {
			t.Fatalf("room message %q", got)
		}
	}
	// Replies through the Conn helpers, with the user and the metadata.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := bob.WriteMessageContext(ctx, websocket.OpcodeText, []byte("whoami")); err != nil {
		t.Fatal(err)
	}
	if got := readText(bob); got != "bob" {
		t.Fatalf("whoami = %q", got)
	}
	if err := bob.WriteText("count"); err != nil {
		t.Fatal(err)
	}
	if mt, p, err := bob.ReadMessage(); err != nil || mt != websocket.OpcodeBinary || len(p) != 1 || p[0] != 2 {
		t.Fatalf("count = %v %v %v", mt, p, err)
	}
	// The keepalive setters, on the server's side of the connection.
	if err := bob.WriteText("keepalive"); err != nil {
		t.Fatal(err)
	}
	if got := readText(bob); got != "keepalive ok" {
		t.Fatalf("keepalive reply %q", got)
	}
	// Validation refusals come back as JSON.
	if err := lee.WriteText("bell\a"); err != nil {
		t.Fatal(err)
	}
	var ev chatEvent
	if err := lee.ReadJSON(&ev); err != nil || ev.Type != "error" || !strings.Contains(ev.Text, "control characters") {
		t.Fatalf("validation reply %+v %v", ev, err)
	}

	// Server-side broadcasts: a room, everyone, JSON.
	if res := hub.BroadcastRoom("lobby", websocket.OpcodeText, []byte("to lobby")); res.Enqueued != 1 {
		t.Fatalf("BroadcastRoom %+v", res)
	}
	if got := readText(lee); got != "to lobby" {
		t.Fatalf("lobby got %q", got)
	}
	if res := hub.TryBroadcastAll(websocket.OpcodeText, []byte("to all")); res.Enqueued != 3 {
		t.Fatalf("TryBroadcastAll %+v", res)
	}
	if res, err := hub.BroadcastRoomJSON("vip", chatEvent{Type: "notice", Room: "vip", Text: "json"}); err != nil || res.Enqueued != 2 {
		t.Fatalf("BroadcastRoomJSON %+v %v", res, err)
	}
	for _, c := range []*websocket.Conn{ada, bob, lee} {
		if got := readText(c); got != "to all" {
			t.Fatalf("all got %q", got)
		}
	}
	for _, c := range []*websocket.Conn{ada, bob} {
		if err := c.ReadJSON(&ev); err != nil || ev.Text != "json" {
			t.Fatalf("JSON broadcast %+v %v", ev, err)
		}
	}

	// The client closes with WriteClose: a full close handshake.
	var wg sync.WaitGroup
	if err := lee.WriteClose(websocket.CloseNormalClosure, "bye"); err != nil {
		t.Fatalf("WriteClose: %v", err)
	}
	if !lee.IsClosed() {
		t.Fatal("IsClosed false after WriteClose")
	}
	if err := lee.WriteText("late"); !errors.Is(err, websocket.ErrConnClosed) {
		t.Fatalf("write after WriteClose: %v", err)
	}
	waitRoom("lobby", 0)

	// Shutdown: 1001 to everyone; Health turns unhealthy.
	for _, c := range []*websocket.Conn{ada, bob} {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				if _, _, err := c.ReadMessage(); err != nil {
					if !websocket.IsCloseError(err, websocket.CloseGoingAway) {
						t.Errorf("read at shutdown: %v", err)
					}
					return
				}
			}
		}()
	}
	if err := srv.Shutdown(ctx); err != nil {
		t.Fatalf("Shutdown: %v", err)
	}
	wg.Wait()
	if _, st := srv.Health(); st.Status != "unhealthy" {
		t.Fatalf("Health after Shutdown: %+v", st)
	}
}
