package websocket_test

import (
	"context"
	"fmt"
	"log"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/rfc6455/websocket"
)

type greeting struct {
	From string `json:"from"`
	Text string `json:"text"`
}

// JSON in both directions: the server decodes each message and answers
// with another.
func ExampleConn_ReadJSON() {
	srv := httptest.NewServer(websocket.Handler(nil, func(c *websocket.Conn, r *http.Request) {
		for {
			var g greeting
			if err := c.ReadJSON(&g); err != nil {
				return
			}
			if err := c.WriteJSON(greeting{From: "server", Text: "hello, " + g.From}); err != nil {
				return
			}
		}
	}))
	defer srv.Close()

	c, _, err := websocket.Dial(context.Background(), "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.CloseNow()
	if err := c.WriteJSON(greeting{From: "ada", Text: "hi"}); err != nil {
		log.Fatal(err)
	}
	var reply greeting
	if err := c.ReadJSON(&reply); err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%+v\n", reply)
	// Output: {From:server Text:hello, ada}
}

// The Context variants bound one read or write; when the context ends
// first, the connection is closed.
func ExampleConn_ReadJSONContext() {
	srv := httptest.NewServer(websocket.Handler(nil, func(c *websocket.Conn, r *http.Request) {
		_ = c.WriteJSON(greeting{From: "server", Text: "one message, then silence"})
		_, _, _ = c.ReadMessage()
	}))
	defer srv.Close()

	c, _, err := websocket.Dial(context.Background(), "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.CloseNow()
	for {
		ctx, cancel := context.WithTimeout(context.Background(), 100*time.Millisecond)
		var g greeting
		err := c.ReadJSONContext(ctx, &g)
		cancel()
		if err != nil {
			fmt.Println("error:", err)
			return
		}
		fmt.Println(g.Text)
	}
	// Output:
	// one message, then silence
	// error: context deadline exceeded
}

// A Hub broadcast of a JSON value: encoded once, sent to every member of
// the room.
func ExampleHub_BroadcastRoomJSON() {
	hub := websocket.NewHub(0, 0)
	defer hub.Stop()
	srv := httptest.NewServer(websocket.Handler(nil, func(c *websocket.Conn, r *http.Request) {
		if err := hub.Join("news", c); err != nil {
			return
		}
		defer hub.RemoveConn(c)
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				return
			}
		}
	}))
	defer srv.Close()

	c, _, err := websocket.Dial(context.Background(), "ws"+strings.TrimPrefix(srv.URL, "http"), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.CloseNow()
	for hub.GetRoomCount("news") == 0 {
		time.Sleep(time.Millisecond)
	}
	res, err := hub.BroadcastRoomJSON("news", greeting{From: "desk", Text: "extra!"})
	if err != nil {
		log.Fatal(err)
	}
	var g greeting
	if err := c.ReadJSON(&g); err != nil {
		log.Fatal(err)
	}
	fmt.Println(res.Enqueued, g.Text)
	// Output: 1 extra!
}
