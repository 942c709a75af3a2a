// Package relaytest checks that a websocket.Relay adapter keeps the
// contract the Hub relies on, against a real broker: every node receives
// every message (its own included) in publication order with its topic
// intact, prefixes separate hub clusters, a broker down at start is an
// error (or retried when asked), a broker restart is reported and
// survived, and Close stops delivery.
package relaytest

import (
	"context"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rfc6455/websocket"
	"github.com/rfc6455/websocket/internal/brokertest"
)

// Factory makes a relay for broker at url with the given prefix; retry
// asks the adapter to keep connecting in the background when the broker
// is down.
type Factory func(url, prefix string, retry bool) (websocket.Relay, error)

// Nodes returns the relay maker NewHubs, HubsShareRooms, Broadcast and
// Publish take: every node's relay made by f on broker s with prefix,
// failing tb if it cannot be.
func Nodes(tb testing.TB, f Factory, s *brokertest.Server, prefix string) func(int) websocket.Relay {
	return func(int) websocket.Relay {
		r, err := f(s.URL(), prefix, false)
		if err != nil {
			tb.Fatal(err)
		}
		return r
	}
}

// Recorder is a RelayHandler that records what it is given.
type Recorder struct {
	mu     sync.Mutex
	msgs   []websocket.RelayMessage
	events []websocket.RelayEvent
	signal chan struct{}
}

// NewRecorder returns an empty Recorder.
func NewRecorder() *Recorder { return &Recorder{signal: make(chan struct{}, 1)} }

// Handler returns the RelayHandler to Start a relay with.
func (r *Recorder) Handler() websocket.RelayHandler {
	return websocket.RelayHandler{
		Deliver: func(m websocket.RelayMessage) {
			r.mu.Lock()
			r.msgs = append(r.msgs, websocket.RelayMessage{Topic: m.Topic, Data: append([]byte(nil), m.Data...)})
			r.mu.Unlock()
			r.poke()
		},
		Event: func(ev websocket.RelayEvent) {
			r.mu.Lock()
			r.events = append(r.events, ev)
			r.mu.Unlock()
			r.poke()
		},
	}
}

func (r *Recorder) poke() {
	select {
	case r.signal <- struct{}{}:
	default:
	}
}

// Messages returns a copy of what was delivered.
func (r *Recorder) Messages() []websocket.RelayMessage {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]websocket.RelayMessage(nil), r.msgs...)
}

// Count returns the number of events of kind k.
func (r *Recorder) Count(k websocket.RelayEventKind) int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for _, ev := range r.events {
		if ev.Kind == k {
			n++
		}
	}
	return n
}

// Wait waits until cond holds, failing t after d.
func (r *Recorder) Wait(t testing.TB, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.NewTimer(d)
	defer deadline.Stop()
	for !cond() {
		select {
		case <-r.signal:
		case <-time.After(10 * time.Millisecond):
		case <-deadline.C:
			t.Fatalf("after %v: %s", d, what)
		}
	}
}

// Topics are room topics whose names would be broker syntax if they were
// not encoded, and the fixed topics.
var Topics = []string{
	websocket.RelayTopicAll,
	websocket.RelayTopicControl,
	websocket.RelayRoomTopic("lobby"),
	websocket.RelayRoomTopic("a.b"),
	websocket.RelayRoomTopic("*"),
	websocket.RelayRoomTopic(">"),
	websocket.RelayRoomTopic("a b\r\nPUB x 1"),
	websocket.RelayRoomTopic("room.*"),
	websocket.RelayRoomTopic("[ab]?\\"),
	websocket.RelayRoomTopic(""),
}

func start(t testing.TB, f Factory, url, prefix string, retry bool) (websocket.Relay, *Recorder) {
	t.Helper()
	r, err := f(url, prefix, retry)
	if err != nil {
		t.Fatalf("new relay: %v", err)
	}
	rec := NewRecorder()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := r.Start(ctx, rec.Handler()); err != nil {
		t.Fatalf("Start: %v", err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = r.Close(ctx)
	})
	return r, rec
}

func publish(t testing.TB, r websocket.Relay, msgs []websocket.RelayMessage) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	n, err := r.Publish(ctx, msgs)
	if err != nil || n != len(msgs) {
		t.Fatalf("Publish: %d of %d, %v", n, len(msgs), err)
	}
}

// Contract runs the contract tests against brokers started by startBroker.
// goroutinePrefixes name the functions of the adapter and its client
// library whose goroutines must be gone after Close.
func Contract(t *testing.T, startBroker func(testing.TB) *brokertest.Server, f Factory, goroutinePrefixes ...string) {
	t.Run("OrderTopicsAndEcho", func(t *testing.T) {
		b := startBroker(t)
		a, ra := start(t, f, b.URL(), "t1", false)
		_, rb := start(t, f, b.URL(), "t1", false)
		_, other := start(t, f, b.URL(), "t2", false)
		const n = 2000
		var want []websocket.RelayMessage
		var batch []websocket.RelayMessage
		for i := range n {
			m := websocket.RelayMessage{Topic: Topics[i%len(Topics)], Data: fmt.Appendf(nil, "message %d", i)}
			want = append(want, m)
			batch = append(batch, m)
			if len(batch) == 1+i%64 { // batches of 1 to 64
				publish(t, a, batch)
				batch = batch[:0]
			}
		}
		publish(t, a, batch)
		for _, rec := range []*Recorder{ra, rb} {
			rec.Wait(t, 20*time.Second, "messages missing", func() bool { return len(rec.Messages()) >= n })
			got := rec.Messages()
			if len(got) != n {
				t.Fatalf("got %d messages, want %d", len(got), n)
			}
			for i := range got {
				if got[i].Topic != want[i].Topic || string(got[i].Data) != string(want[i].Data) {
					t.Fatalf("message %d: got %q on %q, want %q on %q", i, got[i].Data, got[i].Topic, want[i].Data, want[i].Topic)
				}
			}
		}
		// A hub cluster with another prefix hears nothing.
		time.Sleep(50 * time.Millisecond)
		if got := other.Messages(); len(got) != 0 {
			t.Fatalf("relay with another prefix received %d messages, first on %q", len(got), got[0].Topic)
		}
	})

	t.Run("DownAtStart", func(t *testing.T) {
		b := startBroker(t)
		url := b.URL()
		b.Kill()
		r, err := f(url, "t1", false)
		if err == nil {
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Second)
			err = r.Start(ctx, NewRecorder().Handler())
			cancel()
			_ = r.Close(context.Background())
		}
		if err == nil {
			t.Fatal("no error with the broker down")
		}
		t.Logf("broker down: %v", err)
	})

	t.Run("RetryAtStart", func(t *testing.T) {
		b := startBroker(t)
		url := b.URL()
		b.Kill()
		a, ra := start(t, f, url, "t1", true)
		if err := b.Restart(); err != nil {
			t.Fatal(err)
		}
		_, rb := start(t, f, url, "t1", false)
		// Publish until both receive: the first publications may be lost
		// while a connects.
		probe(t, a, []*Recorder{ra, rb})
	})

	t.Run("BrokerRestart", func(t *testing.T) {
		b := startBroker(t)
		a, ra := start(t, f, b.URL(), "t1", false)
		bb, rb := start(t, f, b.URL(), "t1", false)
		publish(t, a, []websocket.RelayMessage{{Topic: "all", Data: []byte("before")}})
		rb.Wait(t, 10*time.Second, "first message", func() bool { return len(rb.Messages()) == 1 })
		b.Kill()
		for _, rec := range []*Recorder{ra, rb} {
			rec.Wait(t, 15*time.Second, "no disconnection reported", func() bool { return rec.Count(websocket.RelayDisconnected) > 0 })
		}
		// Publishing while the broker is down fails or is buffered; it
		// never blocks past its context.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		start := time.Now()
		_, _ = bb.Publish(ctx, []websocket.RelayMessage{{Topic: "all", Data: []byte("during")}})
		cancel()
		if d := time.Since(start); d > 3*time.Second {
			t.Fatalf("Publish with the broker down took %v", d)
		}
		if err := b.Restart(); err != nil {
			t.Fatal(err)
		}
		for _, rec := range []*Recorder{ra, rb} {
			rec.Wait(t, 15*time.Second, "no reconnection reported", func() bool { return rec.Count(websocket.RelayReconnected) > 0 })
		}
		probe(t, a, []*Recorder{ra, rb})
		probe(t, bb, []*Recorder{ra, rb})
	})

	t.Run("CloseStopsDelivery", func(t *testing.T) {
		b := startBroker(t)
		before := goroutines(goroutinePrefixes)
		a, ra := start(t, f, b.URL(), "t1", false)
		c, rc := start(t, f, b.URL(), "t1", false)
		publish(t, a, []websocket.RelayMessage{{Topic: "all", Data: []byte("1")}})
		rc.Wait(t, 10*time.Second, "first message", func() bool { return len(rc.Messages()) == 1 })
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := c.Close(ctx); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if err := c.Close(ctx); err != nil {
			t.Fatalf("second Close: %v", err)
		}
		publish(t, a, []websocket.RelayMessage{{Topic: "all", Data: []byte("2")}})
		ra.Wait(t, 10*time.Second, "second message", func() bool { return len(ra.Messages()) == 2 })
		time.Sleep(50 * time.Millisecond)
		if n := len(rc.Messages()); n != 1 {
			t.Fatalf("closed relay received %d messages", n)
		}
		if n, err := c.Publish(ctx, []websocket.RelayMessage{{Topic: "all", Data: []byte("3")}}); err == nil || n != 0 {
			t.Fatalf("Publish after Close: %d, %v", n, err)
		}
		if err := a.Close(ctx); err != nil {
			t.Fatalf("Close: %v", err)
		}
		deadline := time.Now().Add(5 * time.Second)
		for {
			after := goroutines(goroutinePrefixes)
			if after <= before {
				break
			}
			if time.Now().After(deadline) {
				buf := make([]byte, 1<<20)
				t.Fatalf("%d adapter goroutines before, %d after Close:\n%s", before, after, buf[:runtime.Stack(buf, true)])
			}
			time.Sleep(10 * time.Millisecond)
		}
	})
}

// probe publishes from r every 50ms until every recorder has a probe.
func probe(t testing.TB, r websocket.Relay, recs []*Recorder) {
	t.Helper()
	tag := fmt.Sprintf("probe-%p-%d", r, time.Now().UnixNano())
	has := func(rec *Recorder) bool {
		for _, m := range rec.Messages() {
			if strings.HasPrefix(string(m.Data), tag) {
				return true
			}
		}
		return false
	}
	deadline := time.Now().Add(20 * time.Second)
	for i := 0; ; i++ {
		ctx, cancel := context.WithTimeout(context.Background(), time.Second)
		_, _ = r.Publish(ctx, []websocket.RelayMessage{{Topic: "all", Data: fmt.Appendf(nil, "%s %d", tag, i)}})
		cancel()
		all := true
		for _, rec := range recs {
			all = all && has(rec)
		}
		if all {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no probe delivered after 20s")
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// goroutines counts the goroutines whose stack mentions one of prefixes.
func goroutines(prefixes []string) int {
	buf := make([]byte, 4<<20)
	buf = buf[:runtime.Stack(buf, true)]
	n := 0
	for _, g := range strings.Split(string(buf), "\n\n") {
		for _, p := range prefixes {
			if strings.Contains(g, p) {
				n++
				break
			}
		}
	}
	return n
}
