// Package natsrelay is a websocket.Relay on NATS (core NATS publish and
// subscribe, through github.com/nats-io/nats.go): hubs in several
// processes that use relays with the same Prefix share their rooms.
//
//	relay, err := natsrelay.Connect("nats://127.0.0.1:4222", nil)
//	if err != nil {
//		return err // the server is down, and RetryOnFailedConnect is off
//	}
//	hub, err := websocket.NewHubWithConfig(websocket.HubConfig{Relay: relay})
//
// The hub owns the relay from then on: it starts it, and Stop or Shutdown
// closes it (and its NATS connection).
//
// Each broadcast is one NATS message on subject Prefix + "." + topic
// (see websocket.Relay), and each node subscribes to Prefix + ".>". Core
// NATS keeps the order of one connection's messages and delivers at most
// once: what is published while a node is disconnected is lost to it, and
// counted by the hub (websocket.RelayMetrics.Lost). While disconnected,
// nats.go buffers publications (up to its ReconnectBufSize, 8 MiB by
// default) and sends them after reconnecting; beyond that Publish fails
// and the hub counts the drops. The client reconnects and resubscribes by
// itself, forever unless Options.MaxReconnects says otherwise; each
// disconnection and reconnection is reported to the hub.
//
// The subscription's pending limits bound what a slow node buffers; past
// them nats.go drops messages, reports a slow-consumer error (counted in
// RelayMetrics.BrokerErrors) and the hub counts the gap.
package natsrelay

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/rfc6455/websocket"
)

// DefaultPrefix is the subject prefix when Options.Prefix is empty.
const DefaultPrefix = "websocket.hub"

// Options configures Connect. The zero value (or nil) is usable.
type Options struct {
	// Prefix starts every subject (default DefaultPrefix): dot-separated
	// tokens of ASCII letters, digits, '-', '_' and ':'. Hubs with the
	// same prefix on the same NATS system share their rooms.
	Prefix string
	// Name is the NATS connection name (default "websocket-hub").
	Name string
	// RetryOnFailedConnect makes Connect return at once when the server
	// is down and keep connecting in the background (publications are
	// buffered meanwhile, see the package doc). Off by default: Connect
	// then fails with the connection error.
	RetryOnFailedConnect bool
	// ConnectTimeout bounds each connection attempt (default 2s).
	ConnectTimeout time.Duration
	// ReconnectWait is the pause between reconnection attempts to one
	// server (default 250ms).
	ReconnectWait time.Duration
	// MaxReconnects is how many reconnection attempts are made before the
	// connection is given up (default: no limit).
	MaxReconnects int
	// PendingMsgs and PendingBytes bound what the subscription buffers
	// before the hub takes it (defaults: nats.go's, 512k messages and
	// 64 MiB).
	PendingMsgs  int
	PendingBytes int
	// NATSOptions are applied after the ones above; they may replace
	// them, except the connection event handlers, which the relay sets.
	NATSOptions []nats.Option
}

// Relay is a websocket.Relay on one NATS connection. Its methods are
// called by the hub; see websocket.Relay for their contract.
type Relay struct {
	nc      *nats.Conn
	prefix  string // with the trailing '.'
	pending [2]int

	handler atomic.Pointer[websocket.RelayHandler]
	mu      sync.Mutex
	sub     *nats.Subscription
	closed  bool
}

// ErrInvalidPrefix reports an Options.Prefix that is not a plain NATS
// subject (empty token, wildcard, space...).
var ErrInvalidPrefix = errors.New("natsrelay: invalid subject prefix")

// Connect connects to the NATS server(s) at url (comma-separated, as
// nats.Connect takes them) and returns the relay, not yet subscribed (the
// hub calls Start). It fails when the servers cannot be reached, unless
// o.RetryOnFailedConnect.
func Connect(url string, o *Options) (*Relay, error) {
	if o == nil {
		o = &Options{}
	}
	prefix := o.Prefix
	if prefix == "" {
		prefix = DefaultPrefix
	}
	if err := checkPrefix(prefix); err != nil {
		return nil, err
	}
	r := &Relay{prefix: prefix + ".", pending: [2]int{o.PendingMsgs, o.PendingBytes}}
	name := o.Name
	if name == "" {
		name = "websocket-hub"
	}
	timeout := o.ConnectTimeout
	if timeout <= 0 {
		timeout = 2 * time.Second
	}
	wait := o.ReconnectWait
	if wait <= 0 {
		wait = 250 * time.Millisecond
	}
	maxRe := o.MaxReconnects
	if maxRe == 0 {
		maxRe = -1
	}
	opts := []nats.Option{
		nats.Name(name),
		nats.Timeout(timeout),
		nats.ReconnectWait(wait),
		nats.MaxReconnects(maxRe),
		nats.RetryOnFailedConnect(o.RetryOnFailedConnect),
	}
	opts = append(opts, o.NATSOptions...)
	opts = append(opts,
		nats.DisconnectErrHandler(func(_ *nats.Conn, err error) {
			r.event(websocket.RelayEvent{Kind: websocket.RelayDisconnected, Err: err})
		}),
		nats.ReconnectHandler(func(*nats.Conn) {
			r.event(websocket.RelayEvent{Kind: websocket.RelayReconnected})
		}),
		nats.ErrorHandler(func(_ *nats.Conn, _ *nats.Subscription, err error) {
			r.event(websocket.RelayEvent{Kind: websocket.RelayError, Err: err})
		}),
	)
	nc, err := nats.Connect(url, opts...)
	if err != nil {
		return nil, fmt.Errorf("natsrelay: connect %s: %w", url, err)
	}
	r.nc = nc
	return r, nil
}

// checkPrefix accepts dot-separated non-empty tokens of letters, digits,
// '-', '_' and ':'.
func checkPrefix(p string) error {
	for _, tok := range strings.Split(p, ".") {
		if tok == "" {
			return fmt.Errorf("%w: %q has an empty token", ErrInvalidPrefix, p)
		}
		for i := 0; i < len(tok); i++ {
			c := tok[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_' || c == ':') {
				return fmt.Errorf("%w: %q has byte %#02x", ErrInvalidPrefix, p, c)
			}
		}
	}
	return nil
}

// Conn returns the relay's NATS connection (for its statistics; closing
// it ends the relay).
func (r *Relay) Conn() *nats.Conn { return r.nc }

// Subject returns the NATS subject a topic is published on.
func (r *Relay) Subject(topic string) string { return r.prefix + topic }

func (r *Relay) event(ev websocket.RelayEvent) {
	if h := r.handler.Load(); h != nil && h.Event != nil {
		h.Event(ev)
	}
}

// Start subscribes to Prefix + ".>" and, when connected, waits (bounded
// by ctx) until the server has the subscription. Messages are delivered
// to h.Deliver from the subscription's goroutine, in order.
func (r *Relay) Start(ctx context.Context, h websocket.RelayHandler) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.closed {
		return nats.ErrConnectionClosed
	}
	if r.sub != nil {
		return errors.New("natsrelay: already started")
	}
	r.handler.Store(&h)
	prefix := r.prefix
	sub, err := r.nc.Subscribe(prefix+">", func(m *nats.Msg) {
		topic, ok := strings.CutPrefix(m.Subject, prefix)
		if !ok {
			return
		}
		h.Deliver(websocket.RelayMessage{Topic: topic, Data: m.Data})
	})
	if err != nil {
		return fmt.Errorf("natsrelay: subscribe: %w", err)
	}
	if r.pending[0] != 0 || r.pending[1] != 0 {
		msgs, bytes := r.pending[0], r.pending[1]
		if msgs == 0 {
			msgs = nats.DefaultSubPendingMsgsLimit
		}
		if bytes == 0 {
			bytes = nats.DefaultSubPendingBytesLimit
		}
		if err := sub.SetPendingLimits(msgs, bytes); err != nil {
			_ = sub.Unsubscribe()
			return fmt.Errorf("natsrelay: pending limits: %w", err)
		}
	}
	r.sub = sub
	if r.nc.IsConnected() {
		if err := r.nc.FlushWithContext(ctx); err != nil {
			return fmt.Errorf("natsrelay: subscribe: flush: %w", err)
		}
	}
	return nil
}

// Publish publishes msgs in order. nats.go copies each message into its
// write buffer at once and sends it in the background, so a nil error
// means the client took them (buffering them while reconnecting).
func (r *Relay) Publish(ctx context.Context, msgs []websocket.RelayMessage) (int, error) {
	for i, m := range msgs {
		if err := ctx.Err(); err != nil {
			return i, err
		}
		if err := r.nc.Publish(r.prefix+m.Topic, m.Data); err != nil {
			return i, fmt.Errorf("natsrelay: publish: %w", err)
		}
	}
	return len(msgs), nil
}

// Close flushes what was published (bounded by ctx, and only when
// connected), unsubscribes and closes the connection. After Close no
// message is delivered.
func (r *Relay) Close(ctx context.Context) error {
	r.mu.Lock()
	if r.closed {
		r.mu.Unlock()
		return nil
	}
	r.closed = true
	r.mu.Unlock()
	var err error
	if r.nc.IsConnected() {
		if ferr := r.nc.FlushWithContext(ctx); ferr != nil {
			err = fmt.Errorf("natsrelay: flush: %w", ferr)
		}
	}
	// Close waits for nothing, but the subscription's handler may be
	// running; nats.go stops delivering once the connection is closed.
	r.nc.Close()
	return err
}
