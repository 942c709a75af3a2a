package redisrelay

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
	"github.com/rfc6455/websocket"
	"github.com/rfc6455/websocket/internal/brokertest"
	"github.com/rfc6455/websocket/internal/relaytest"
)

func client(addr string) *redis.Client {
	return redis.NewClient(&redis.Options{
		Addr:                     addr,
		DialTimeout:              time.Second,
		MaxRetries:               -1,
		DisableIdentity:          true,
		MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
	})
}

func factory(url, prefix string, retry bool) (websocket.Relay, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
	defer cancel()
	c := client(url)
	r, err := New(ctx, c, &Options{Prefix: prefix, RetryOnFailedConnect: retry, ReconnectWait: 50 * time.Millisecond, HealthCheck: time.Second})
	if err != nil {
		c.Close()
	}
	return r, err
}

func TestContract(t *testing.T) {
	relaytest.Contract(t, brokertest.StartRedis, factory, "redisrelay.", "go-redis/v9")
}

func TestInvalidPrefix(t *testing.T) {
	for _, p := range []string{"a*", "a?", "a[b]", "a\\b", "a b", "ä"} {
		if _, err := New(context.Background(), client("127.0.0.1:1"), &Options{Prefix: p}); !errors.Is(err, ErrInvalidPrefix) {
			t.Errorf("prefix %q: %v", p, err)
		}
	}
}

func TestHubsShareRooms(t *testing.T) {
	b := brokertest.StartRedis(t)
	relaytest.HubsShareRooms(t, b, relaytest.Nodes(t, factory, b, "hubs"))
}

// BenchmarkBroadcast: 1 KiB broadcasts to 1,000 members, on one hub
// without a relay and spread over three hubs on Redis pub/sub.
func BenchmarkBroadcast(b *testing.B) {
	b.Run("single-node", func(b *testing.B) { relaytest.Broadcast(b, nil, 1, 1000, nil) })
	b.Run("3-nodes-redis", func(b *testing.B) {
		s := brokertest.StartRedis(b)
		relaytest.Broadcast(b, s, 3, 1000, relaytest.Nodes(b, factory, s, "bench"))
	})
}

// BenchmarkPublish: the broker path alone, 1 KiB broadcasts from one of
// three member-less hubs to the two others.
func BenchmarkPublish(b *testing.B) {
	s := brokertest.StartRedis(b)
	relaytest.Publish(b, s, relaytest.Nodes(b, factory, s, "bench"))
}
