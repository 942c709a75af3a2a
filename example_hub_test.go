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

// A chat server: tokens required, rooms from ?room=, each message fanned
// out to the sender's room. A browser sends its token as a subprotocol
// entry next to the real protocol, which is the one chosen.
func ExampleNew() {
	secret := []byte("an example secret of 32+ bytes!!")
	srv, err := websocket.New(websocket.WebSocketConfig{
		Secret:       secret,
		Subprotocols: []string{"chat.v1"},
	})
	if err != nil {
		log.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	defer hs.Close()

	auth, _ := websocket.NewSimpleHS256TokenAuth(secret)
	token, _ := auth.Sign(map[string]any{"sub": "ada", "exp": time.Now().Add(time.Hour).Unix()})

	// In JavaScript: new WebSocket(url, ["chat.v1", "bearer." + token]).
	url := "ws" + strings.TrimPrefix(hs.URL, "http") + "/ws?room=lobby"
	c, _, err := websocket.Dial(context.Background(), url, &websocket.DialOptions{
		Subprotocols: []string{"chat.v1", websocket.TokenSubprotocolPrefix + token},
	})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("subprotocol:", c.Subprotocol())

	// Wait until the server has joined us to the room, then talk.
	for srv.Hub().GetRoomCount("lobby") == 0 {
		time.Sleep(time.Millisecond)
	}
	_ = c.WriteMessage(websocket.TextMessage, []byte("hello, lobby"))
	_, msg, _ := c.ReadMessage()
	fmt.Println("echoed by the room:", string(msg))

	// Without a token: 401 before any upgrade.
	_, resp, err := websocket.Dial(context.Background(), url, nil)
	fmt.Println("no token:", resp.StatusCode, resp.Header.Get("WWW-Authenticate"), err != nil)

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	go func() { _, _, _ = c.ReadMessage() }() // answers the close handshake
	fmt.Println("shutdown:", srv.Shutdown(ctx))
	// Output:
	// subprotocol: chat.v1
	// echoed by the room: hello, lobby
	// no token: 401 Bearer realm="websocket" true
	// shutdown: <nil>
}

// Broadcasting to a room with a Hub of your own, served by
// ServeWSWithConfig.
func ExampleHub() {
	hub, err := websocket.NewHubWithConfig(websocket.HubConfig{
		SendQueueSize: 64,
		SendBehavior:  websocket.SendDrop, // a member that falls behind misses messages
	})
	if err != nil {
		log.Fatal(err)
	}
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		websocket.ServeWSWithConfig(w, r, websocket.ServerConfig{
			Hub:                  hub,
			AllowUnauthenticated: true, // for the example only
		})
	}))
	defer hs.Close()
	url := "ws" + strings.TrimPrefix(hs.URL, "http") + "/?room=news"
	var clients []*websocket.Conn
	for range 2 {
		c, _, err := websocket.Dial(context.Background(), url, nil)
		if err != nil {
			log.Fatal(err)
		}
		defer c.CloseNow()
		clients = append(clients, c)
	}
	for hub.GetRoomCount("news") < 2 {
		time.Sleep(time.Millisecond)
	}

	res := hub.BroadcastRoom("news", websocket.TextMessage, []byte("extra! extra!"))
	fmt.Printf("%+v\n", res)
	for _, c := range clients {
		_, msg, _ := c.ReadMessage()
		fmt.Println(string(msg))
	}
	m := hub.Metrics()
	fmt.Println("members:", m.ActiveConnections, "rooms:", m.Rooms)
	// Output:
	// {Attempted:2 Enqueued:2 Dropped:0 Closed:0 Skipped:0 Stopped:false Invalid:false}
	// extra! extra!
	// extra! extra!
	// members: 2 rooms: 1
}

// A broadcaster fed by a channel sends, in one call, every message its
// input already holds: each member's writer is woken once for them all and
// writes them with one system call.
func ExampleHub_BroadcastAllPreparedMessages() {
	hub := websocket.NewHub(0, 0)
	hs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		websocket.ServeWSWithConfig(w, r, websocket.ServerConfig{
			Hub:                  hub,
			AllowUnauthenticated: true, // for the example only
		})
	}))
	defer hs.Close()
	c, _, err := websocket.Dial(context.Background(), "ws"+strings.TrimPrefix(hs.URL, "http")+"/?room=ticker", nil)
	if err != nil {
		log.Fatal(err)
	}
	defer c.CloseNow()
	for hub.GetActiveConnectionCount() < 1 {
		time.Sleep(time.Millisecond)
	}

	input := make(chan string, 16)
	for _, s := range []string{"AAPL 1", "MSFT 2", "GOOG 3"} {
		input <- s
	}
	close(input)
	var batch []*websocket.PreparedMessage
	for s := range input {
		pm, err := websocket.NewPreparedMessage(websocket.TextMessage, []byte(s))
		if err != nil {
			log.Fatal(err)
		}
		batch = append(batch, pm)
		if len(input) > 0 {
			continue // more is waiting: take it too
		}
		fmt.Printf("%+v\n", hub.BroadcastAllPreparedMessages(batch...))
		batch = batch[:0]
	}
	for range 3 {
		_, msg, _ := c.ReadMessage()
		fmt.Println(string(msg))
	}
	// Output:
	// {Attempted:3 Enqueued:3 Dropped:0 Closed:0 Skipped:0 Stopped:false Invalid:false}
	// AAPL 1
	// MSFT 2
	// GOOG 3
}

func ExampleSimpleHS256TokenAuth() {
	auth, err := websocket.NewSimpleHS256TokenAuth([]byte("an example secret of 32+ bytes!!"))
	if err != nil {
		log.Fatal(err)
	}
	token, _ := auth.Sign(map[string]any{"sub": "42", "name": "Ada", "roles": []string{"admin"}})

	claims, err := auth.AuthenticateToken(token)
	if err != nil {
		log.Fatal(err)
	}
	u := websocket.ExtractUserInfo(claims)
	fmt.Println(u.ID, u.Name, u.Roles)

	_, err = auth.AuthenticateToken(token + "x")
	fmt.Println(errors.Is(err, websocket.ErrInvalidToken))

	expired, _ := auth.Sign(map[string]any{"sub": "42", "exp": time.Now().Add(-time.Hour).Unix()})
	_, err = auth.AuthenticateToken(expired)
	fmt.Println(errors.Is(err, websocket.ErrTokenExpired))

	_, err = websocket.NewSimpleHS256TokenAuth([]byte("too short"))
	fmt.Println(errors.Is(err, websocket.ErrWeakJWTSecret))
	// Output:
	// 42 Ada [admin]
	// true
	// true
	// true
}

func ExampleSimpleRoomAuth() {
	rooms := websocket.NewSimpleRoomAuth()
	if err := rooms.SetRoomPassword("staff", "correct horse"); err != nil {
		log.Fatal(err)
	}
	fmt.Println(rooms.AuthorizeRoom("staff", "correct horse"))
	fmt.Println(rooms.AuthorizeRoom("staff", "battery staple"))
	fmt.Println(rooms.AuthorizeRoom("lobby", "")) // no password set
	// Output:
	// true
	// false
	// true
}

func ExampleValidateRoomName() {
	for _, room := range []string{"lobby", "team:eng.backend-1", "has space", ""} {
		err := websocket.ValidateRoomName(room)
		fmt.Printf("%q %v\n", room, err == nil)
	}
	// Output:
	// "lobby" true
	// "team:eng.backend-1" true
	// "has space" false
	// "" false
}
