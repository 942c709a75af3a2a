package natsrelay

import (
	"errors"
	"testing"
	"time"

	"github.com/rfc6455/websocket"
	"github.com/rfc6455/websocket/internal/brokertest"
	"github.com/rfc6455/websocket/internal/relaytest"
)

func factory(url, prefix string, retry bool) (websocket.Relay, error) {
	return Connect(url, &Options{Prefix: prefix, RetryOnFailedConnect: retry, ReconnectWait: 50 * time.Millisecond, ConnectTimeout: time.Second})
}

func TestContract(t *testing.T) {
	relaytest.Contract(t, brokertest.StartNATS, factory, "natsrelay.", "nats-io/nats.go")
}

func TestInvalidPrefix(t *testing.T) {
	for _, p := range []string{"a..b", ".a", "a.", "a.*", "a.>", "a b", "a\tb", "ä"} {
		if _, err := Connect("nats://127.0.0.1:1", &Options{Prefix: p}); !errors.Is(err, ErrInvalidPrefix) {
			t.Errorf("prefix %q: %v", p, err)
		}
	}
}

func TestHubsShareRooms(t *testing.T) {
	b := brokertest.StartNATS(t)
	relaytest.HubsShareRooms(t, b, relaytest.Nodes(t, factory, b, "hubs"))
}

// BenchmarkBroadcast: 1 KiB broadcasts to 1,000 members, on one hub
// without a relay and spread over three hubs on NATS.
func BenchmarkBroadcast(b *testing.B) {
	b.Run("single-node", func(b *testing.B) { relaytest.Broadcast(b, nil, 1, 1000, nil) })
	b.Run("3-nodes-nats", func(b *testing.B) {
		s := brokertest.StartNATS(b)
		relaytest.Broadcast(b, s, 3, 1000, relaytest.Nodes(b, factory, s, "bench"))
	})
}

// BenchmarkPublish: the broker path alone, 1 KiB broadcasts from one of
// three member-less hubs to the two others.
func BenchmarkPublish(b *testing.B) {
	s := brokertest.StartNATS(b)
	relaytest.Publish(b, s, relaytest.Nodes(b, factory, s, "bench"))
}
