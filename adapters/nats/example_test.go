package natsrelay_test

import (
	"context"
	"log"
	"time"

	"github.com/rfc6455/websocket"
	natsrelay "github.com/rfc6455/websocket/adapters/nats"
)

// Hubs in several processes, each with a relay on the same NATS server
// and prefix, share their rooms.
func ExampleConnect() {
	relay, err := natsrelay.Connect("nats://127.0.0.1:4222", &natsrelay.Options{Prefix: "chat"})
	if err != nil {
		log.Fatal(err) // the server is down (RetryOnFailedConnect would keep trying)
	}
	hub, err := websocket.NewHubWithConfig(websocket.HubConfig{
		Relay:        relay,
		RelayOptions: websocket.RelayOptions{NodeID: "web-1"},
	})
	if err != nil {
		log.Fatal(err) // errors.Is(err, websocket.ErrRelayUnavailable)
	}
	// Reaches the members of "lobby" on every node.
	hub.BroadcastRoom("lobby", websocket.TextMessage, []byte("hello"))

	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := hub.Shutdown(ctx); err != nil {
		log.Print(err) // errors.Is(err, websocket.ErrRelayUnsent): some broadcasts were not published
	}
}
