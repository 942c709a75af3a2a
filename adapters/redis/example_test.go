package redisrelay_test

import (
	"context"
	"log"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rfc6455/websocket"
	redisrelay "github.com/rfc6455/websocket/adapters/redis"
)

// Hubs in several processes, each with a relay on the same Redis and
// prefix, share their rooms.
func ExampleNew() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
	relay, err := redisrelay.New(ctx, client, &redisrelay.Options{Prefix: "chat"})
	if err != nil {
		log.Fatal(err) // Redis is down (RetryOnFailedConnect would keep trying)
	}
	hub, err := websocket.NewHubWithConfig(websocket.HubConfig{Relay: relay})
	if err != nil {
		log.Fatal(err)
	}
	// Reaches every member of every node.
	hub.BroadcastAll(websocket.TextMessage, []byte("maintenance in 5 minutes"))
	if err := hub.Shutdown(ctx); err != nil {
		log.Print(err)
	}
}
