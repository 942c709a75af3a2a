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
