package websocket_test

import (
	"context"
	"errors"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/rfc6455/websocket"
)

// Keepalive: the server pings a connection that has been silent for
// PingInterval and fails it when nothing comes within PongTimeout more.
// A peer answers pings only while something reads its connection; this
// client never reads, so the server gives up on it.
func ExampleOptions_keepalive() {
	cfg := websocket.DefaultConfig()
	cfg.PingInterval = 50 * time.Millisecond // production: tens of seconds
	cfg.PongTimeout = 50 * time.Millisecond  // default: PingInterval
	done := make(chan error, 1)
	srv := httptest.NewServer(websocket.Handler(cfg, func(c *websocket.Conn, r *http.Request) {
		_, _, err := c.ReadMessage()
		done <- err
	}))
	defer srv.Close()

	c, _, err := websocket.Dial(context.Background(), "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.CloseNow()
	err = <-done
	fmt.Println(errors.Is(err, websocket.ErrKeepaliveTimeout))
	// Output: true
}

// Read and Write take a context: a read that must not wait forever.
func ExampleConn_Read() {
	srv := httptest.NewServer(websocket.Handler(nil, func(c *websocket.Conn, r *http.Request) {
		mt, p, err := c.Read(r.Context()) // r's context lives as long as the connection
		if err != nil {
			return
		}
		_ = c.Write(r.Context(), mt, p) // one echo, then silence
		_, _, _ = c.Read(r.Context())
	}))
	defer srv.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, _, err := websocket.Dial(ctx, "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.CloseNow()
	if err := c.Write(ctx, websocket.TextMessage, []byte("ping?")); err != nil {
		log.Fatal(err)
	}
	_, p, err := c.Read(ctx)
	fmt.Println(string(p), err)

	short, cancel2 := context.WithTimeout(ctx, 20*time.Millisecond)
	defer cancel2()
	_, _, err = c.Read(short) // the server says nothing more
	fmt.Println(err)
	// Output:
	// ping? <nil>
	// context deadline exceeded
}

// Handler upgrades each request and runs serve on a goroutine of its
// own; the request is there for its URL, headers and context.
func ExampleHandler() {
	cfg := websocket.DefaultConfig()
	cfg.ReadLimit = 64 << 10
	h := websocket.Handler(cfg, func(c *websocket.Conn, r *http.Request) {
		name := r.URL.Query().Get("name")
		for {
			_, msg, err := c.ReadMessage()
			if err != nil {
				return // closed by the peer, or failed; Handler closes c
			}
			if err := c.WriteMessage(websocket.TextMessage, []byte(name+": "+string(msg))); err != nil {
				return
			}
		}
	})
	srv := httptest.NewServer(h)
	defer srv.Close()

	c, _, err := websocket.Dial(context.Background(), "ws"+strings.TrimPrefix(srv.URL, "http")+"/?name=ann", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.Close(websocket.CloseNormalClosure, "")
	c.WriteMessage(websocket.TextMessage, []byte("hi"))
	_, msg, _ := c.ReadMessage()
	fmt.Println(string(msg))
	// Output: ann: hi
}

// ServeWSWithConfig with hooks: OnConnect greets, OnHubMessage gets the
// hub (no package variable needed), OnDisconnect sees why a connection
// ended.
func ExampleServeWSWithConfig() {
	hub, err := websocket.NewHubWithConfig(websocket.DefaultHubConfig())
	if err != nil {
		log.Fatal(err)
	}
	left := make(chan string, 1)
	cfg := websocket.ServerConfig{
		Hub:                  hub,
		AllowUnauthenticated: true, // for the example only: use TokenAuth
		OnConnect: func(c *websocket.Conn, user *websocket.UserInfo, hub *websocket.Hub) {
			rooms, _ := hub.RoomsOf(c)
			c.WriteMessage(websocket.TextMessage, []byte(fmt.Sprint("welcome to ", rooms)))
		},
		OnHubMessage: func(hub *websocket.Hub, c *websocket.Conn, msg websocket.Message) {
			hub.BroadcastRoom(msg.Room, msg.Opcode, []byte(strings.ToUpper(string(msg.Data))))
		},
		OnDisconnect: func(c *websocket.Conn, user *websocket.UserInfo, hub *websocket.Hub, err error) {
			left <- fmt.Sprint("left: ", websocket.CloseStatus(err))
		},
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		websocket.ServeWSWithConfig(w, r, cfg)
	}))
	defer srv.Close()

	c, _, err := websocket.Dial(context.Background(), "ws"+strings.TrimPrefix(srv.URL, "http")+"/?room=lobby", nil)
	if err != nil {
		log.Fatal(err)
	}
	_, msg, _ := c.ReadMessage()
	fmt.Println(string(msg))
	c.WriteMessage(websocket.TextMessage, []byte("hello"))
	_, msg, _ = c.ReadMessage()
	fmt.Println(string(msg))
	c.Close(websocket.CloseGoingAway, "")
	fmt.Println(<-left)
	// Output:
	// welcome to [lobby]
	// HELLO
	// left: 1001
}

// A Hub with your own read loop: Upgrade (here through Handler), join,
// read, broadcast; the hub delivers through each member's bounded queue.
func ExampleHub_TryJoin() {
	hub, err := websocket.NewHubWithConfig(websocket.DefaultHubConfig())
	if err != nil {
		log.Fatal(err)
	}
	srv := httptest.NewServer(websocket.Handler(nil, func(c *websocket.Conn, r *http.Request) {
		room := r.URL.Query().Get("room")
		if err := hub.TryJoin(room, c); err != nil {
			c.Close(websocket.CloseTryAgainLater, err.Error())
			return
		}
		defer hub.RemoveConn(c)
		for {
			mt, msg, err := c.ReadMessage()
			if err != nil {
				return
			}
			hub.BroadcastRoom(room, mt, msg)
		}
	}))
	defer srv.Close()

	url := "ws" + strings.TrimPrefix(srv.URL, "http") + "/?room=kitchen"
	a, _, err := websocket.Dial(context.Background(), url, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer a.CloseNow()
	b, _, err := websocket.Dial(context.Background(), url, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer b.CloseNow()
	for hub.GetRoomCount("kitchen") < 2 {
		time.Sleep(time.Millisecond)
	}
	a.WriteMessage(websocket.TextMessage, []byte("dinner is ready"))
	_, msg, _ := b.ReadMessage()
	fmt.Println("b got:", string(msg))
	_, msg, _ = a.ReadMessage()
	fmt.Println("a got:", string(msg))
	// Output:
	// b got: dinner is ready
	// a got: dinner is ready
}
