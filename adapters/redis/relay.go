// Package redisrelay is a websocket.Relay on Redis pub/sub (PUBLISH and
// PSUBSCRIBE, through github.com/redis/go-redis/v9): hubs in several
// processes that use relays with the same Prefix on the same Redis share
// their rooms.
//
//	client := redis.NewClient(&redis.Options{Addr: "127.0.0.1:6379"})
//	relay, err := redisrelay.New(ctx, client, nil)
//	if err != nil {
//		return err // Redis is down, and RetryOnFailedConnect is off
//	}
//	hub, err := websocket.NewHubWithConfig(websocket.HubConfig{Relay: relay})
//
// The relay takes the client; the hub owns the relay from then on: it
// starts it, and Stop or Shutdown closes it and the client.
//
// Each broadcast is one PUBLISH on channel Prefix + "." + topic (see
// websocket.Relay); a batch of broadcasts is one pipeline, in order. Each
// node holds one PSUBSCRIBE Prefix + ".*" connection. Redis pub/sub is at
// most once: what is published while a node's subscription is down is
// lost to it, and counted by the hub (websocket.RelayMetrics.Lost); a
// PUBLISH that fails (Redis down) is dropped and counted on the
// publishing node. When the subscription's connection fails the relay
// reports the disconnection, reconnects with a backoff (Options
// ReconnectWait to MaxReconnectWait), resubscribes, and reports the
// reconnection. Redis closes a subscriber that lets its output buffer
// grow past client-output-buffer-limit; that is a disconnection like any
// other, with its losses counted.
package redisrelay

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/rfc6455/websocket"
)

// DefaultPrefix is the channel prefix when Options.Prefix is empty.
const DefaultPrefix = "websocket.hub"

// Options configures New. The zero value (or nil) is usable.
type Options struct {
	// Prefix starts every channel (default DefaultPrefix): ASCII letters,
	// digits, '.', '-', '_' and ':', so that it is no glob pattern.
	Prefix string
	// RetryOnFailedConnect makes New and Start succeed when Redis is down
	// and keep subscribing in the background (publications fail and are
	// counted until it is up). Off by default: New then fails.
	RetryOnFailedConnect bool
	// ReconnectWait is the first pause after the subscription fails
	// (default 100ms); it doubles up to MaxReconnectWait (default 2s).
	ReconnectWait    time.Duration
	MaxReconnectWait time.Duration
	// HealthCheck is how long the subscription may stay silent before the
	// relay pings Redis on it (default 5s), so that a dead connection is
	// noticed.
	HealthCheck time.Duration
}

// Relay is a websocket.Relay on a go-redis client. Its methods are called
// by the hub; see websocket.Relay for their contract.
type Relay struct {
	client redis.UniversalClient
	prefix string // with the trailing '.'
	o      Options

	mu      sync.Mutex
	ps      *redis.PubSub
	closed  bool
	stop    chan struct{}
	done    chan struct{}
	started atomic.Bool
}

// ErrInvalidPrefix reports an Options.Prefix with glob characters or
// other bytes outside the allowed set.
var ErrInvalidPrefix = errors.New("redisrelay: invalid channel prefix")

// New returns a relay publishing and subscribing with client, which it
// takes over (Close closes it). It pings Redis (bounded by ctx) and fails
// when Redis cannot be reached, unless o.RetryOnFailedConnect.
func New(ctx context.Context, client redis.UniversalClient, o *Options) (*Relay, error) {
	if o == nil {
		o = &Options{}
	}
	r := &Relay{client: client, o: *o, stop: make(chan struct{}), done: make(chan struct{})}
	prefix := o.Prefix
	if prefix == "" {
		prefix = DefaultPrefix
	}
	for i := 0; i < len(prefix); i++ {
		c := prefix[i]
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '.' || c == '-' || c == '_' || c == ':') {
			return nil, fmt.Errorf("%w: %q has byte %#02x", ErrInvalidPrefix, prefix, c)
		}
	}
	r.prefix = prefix + "."
	if r.o.ReconnectWait <= 0 {
		r.o.ReconnectWait = 100 * time.Millisecond
	}
	if r.o.MaxReconnectWait < r.o.ReconnectWait {
		r.o.MaxReconnectWait = max(2*time.Second, r.o.ReconnectWait)
	}
	if r.o.HealthCheck <= 0 {
		r.o.HealthCheck = 5 * time.Second
	}
	if !o.RetryOnFailedConnect {
		if err := client.Ping(ctx).Err(); err != nil {
			return nil, fmt.Errorf("redisrelay: ping: %w", err)
		}
	}
	return r, nil
}

// Channel returns the Redis channel a topic is published on.
func (r *Relay) Channel(topic string) string { return r.prefix + topic }

// Start subscribes (PSUBSCRIBE Prefix + ".*") and waits, bounded by ctx,
// for Redis to confirm, then delivers messages to h.Deliver from one
// goroutine until Close. With RetryOnFailedConnect a failed subscription
// is reported (RelayDisconnected) and retried in the background.
func (r *Relay) Start(ctx context.Context, h websocket.RelayHandler) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return errors.New("redisrelay: closed")
	}
	if !r.started.CompareAndSwap(false, true) {
		return errors.New("redisrelay: already started")
	}
	ps := r.client.PSubscribe(ctx)
	connected := true
	err := ps.PSubscribe(ctx, r.prefix+"*")
	if err == nil {
		// The confirmation, so that nothing published after Start
		// returns is missed.
		var v any
		v, err = ps.ReceiveTimeout(ctx, 0)
		if err == nil {
			if _, ok := v.(*redis.Subscription); !ok {
				err = fmt.Errorf("unexpected %T before the subscription", v)
			}
		}
	}
	if err != nil {
		if !r.o.RetryOnFailedConnect {
			_ = ps.Close()
			r.started.Store(false)
			return fmt.Errorf("redisrelay: psubscribe: %w", err)
		}
		connected = false
		if h.Event != nil {
			h.Event(websocket.RelayEvent{Kind: websocket.RelayDisconnected, Err: err})
		}
	}
	r.ps = ps
	go r.receive(ps, h, connected)
	return nil
}

// receive is the subscription loop.
func (r *Relay) receive(ps *redis.PubSub, h websocket.RelayHandler, connected bool) {
	defer close(r.done)
	event := func(k websocket.RelayEventKind, err error) {
		if h.Event != nil {
			h.Event(websocket.RelayEvent{Kind: k, Err: err})
		}
	}
	ctx := context.Background()
	wait := r.o.ReconnectWait
	pinged := false
	for {
		v, err := ps.ReceiveTimeout(ctx, r.o.HealthCheck)
		select {
		case <-r.stop:
			return
		default:
		}
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() && connected && !pinged {
				// Silent for HealthCheck: ask for a pong; a second
				// timeout without one is a dead connection.
				pinged = true
				if perr := ps.Ping(ctx); perr == nil {
					continue
				}
			}
			if connected {
				connected = false
				event(websocket.RelayDisconnected, err)
			}
			if pinged {
				// No pong: go-redis keeps a connection that only timed
				// out, so start over on a new one.
				if ps = r.renew(ps); ps == nil {
					return
				}
			}
			pinged = false
			// go-redis dials and resubscribes on the next receive.
			select {
			case <-r.stop:
				return
			case <-time.After(wait):
			}
			wait = min(2*wait, r.o.MaxReconnectWait)
			continue
		}
		pinged = false
		switch m := v.(type) {
		case *redis.Message:
			topic, ok := strings.CutPrefix(m.Channel, r.prefix)
			if ok {
				h.Deliver(websocket.RelayMessage{Topic: topic, Data: []byte(m.Payload)})
			}
		case *redis.Subscription:
			if !connected {
				connected = true
				wait = r.o.ReconnectWait
				event(websocket.RelayReconnected, nil)
			}
		}
	}
}

// renew replaces a silent subscription with a new one (subscribing on
// the next receive), or returns nil when the relay is closed.
func (r *Relay) renew(old *redis.PubSub) *redis.PubSub {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nil
	}
	_ = old.Close()
	ps := r.client.PSubscribe(context.Background())
	// A failure here is retried by the next receive: the pattern is kept.
	ctx, cancel := context.WithTimeout(context.Background(), r.o.HealthCheck)
	_ = ps.PSubscribe(ctx, r.prefix+"*")
	cancel()
	r.ps = ps
	return ps
}

// Publish publishes msgs in order: one PUBLISH, or one pipeline for
// several. It returns how many Redis accepted before the first failure.
func (r *Relay) Publish(ctx context.Context, msgs []websocket.RelayMessage) (int, error) {
	if len(msgs) == 1 {
		if err := r.client.Publish(ctx, r.prefix+msgs[0].Topic, msgs[0].Data).Err(); err != nil {
			return 0, fmt.Errorf("redisrelay: publish: %w", err)
		}
		return 1, nil
	}
	pipe := r.client.Pipeline()
	cmds := make([]*redis.IntCmd, len(msgs))
	for i, m := range msgs {
		cmds[i] = pipe.Publish(ctx, r.prefix+m.Topic, m.Data)
	}
	_, err := pipe.Exec(ctx)
	if err == nil {
		return len(msgs), nil
	}
	for i, c := range cmds {
		if c.Err() != nil {
			return i, fmt.Errorf("redisrelay: publish: %w", c.Err())
		}
	}
	return 0, fmt.Errorf("redisrelay: publish: %w", err)
}

// Close ends the subscription, waits for its goroutine (no Deliver runs
// afterwards) and closes the client. PUBLISH is synchronous, so there is
// nothing to flush; ctx bounds the wait.
func (r *Relay) Close(ctx context.Context) error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	ps := r.ps
	r.mu.Unlock()
	close(r.stop)
	var errs []error
	if ps != nil {
		if err := ps.Close(); err != nil && !errors.Is(err, redis.ErrClosed) {
			errs = append(errs, err)
		}
		select {
		case <-r.done:
		case <-ctx.Done():
			errs = append(errs, fmt.Errorf("waiting for the subscription: %w", ctx.Err()))
		}
	}
	if err := r.client.Close(); err != nil && !errors.Is(err, redis.ErrClosed) {
		errs = append(errs, err)
	}
	if len(errs) > 0 {
		return fmt.Errorf("redisrelay: close: %w", errors.Join(errs...))
	}
	return nil
}
