package websocket

import (
	"bytes"
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

// ---- an in-memory broker ----

// memBroker connects memRelays in one process, the way a broker connects
// nodes: each relay receives every message published (its own included)
// in publication order, from one goroutine of its own.
type memBroker struct {
	mu     sync.Mutex
	relays []*memRelay

	publishes atomic.Int64 // messages published (not calls)
	calls     atomic.Int64 // Publish calls
	// drop, when set, decides whether message (topic, data) is lost on
	// its way to relay to; dup delivers every message twice.
	drop func(to *memRelay, m RelayMessage) bool
	dup  bool
}

type memRelay struct {
	b       *memBroker
	name    string
	in      chan RelayMessage
	h       RelayHandler
	done    chan struct{}
	closed  atomic.Bool
	startFn func() error // replaces Start's success when set
	// block, when set, makes Publish wait for it or for ctx.
	block chan struct{}
	fail  atomic.Pointer[error]
}

func (b *memBroker) relay(name string) *memRelay {
	return &memRelay{b: b, name: name, in: make(chan RelayMessage, 1<<16), done: make(chan struct{})}
}

func (r *memRelay) Start(ctx context.Context, h RelayHandler) error {
	if r.startFn != nil {
		if err := r.startFn(); err != nil {
			return err
		}
	}
	r.h = h
	r.b.mu.Lock()
	r.b.relays = append(r.b.relays, r)
	r.b.mu.Unlock()
	go func() {
		defer close(r.done)
		for m := range r.in {
			h.Deliver(m)
		}
	}()
	return nil
}

func (r *memRelay) Publish(ctx context.Context, msgs []RelayMessage) (int, error) {
	r.b.calls.Add(1)
	if r.closed.Load() {
		return 0, errors.New("memrelay: closed")
	}
	if r.block != nil {
		select {
		case <-r.block:
		case <-ctx.Done():
			return 0, ctx.Err()
		}
	}
	if err := r.fail.Load(); err != nil {
		return 0, *err
	}
	r.b.mu.Lock()
	defer r.b.mu.Unlock()
	for _, m := range msgs {
		if m.Topic != RelayTopicControl {
			r.b.publishes.Add(1)
		}
		for _, to := range r.b.relays {
			if to.closed.Load() || r.b.drop != nil && r.b.drop(to, m) {
				continue
			}
			for range 1 + btoi(r.b.dup) {
				to.in <- RelayMessage{Topic: m.Topic, Data: bytes.Clone(m.Data)}
			}
		}
	}
	return len(msgs), nil
}

func btoi(b bool) int {
	if b {
		return 1
	}
	return 0
}

func (r *memRelay) Close(ctx context.Context) error {
	r.b.mu.Lock()
	defer r.b.mu.Unlock()
	if r.closed.Swap(true) {
		return nil
	}
	for i, x := range r.b.relays {
		if x == r {
			r.b.relays = append(r.b.relays[:i], r.b.relays[i+1:]...)
			break
		}
	}
	if r.h.Deliver != nil {
		close(r.in)
		<-r.done
	}
	return nil
}

// relayHubs returns n hubs joined by b, each with a server URL.
func relayHubs(t *testing.T, b *memBroker, n int, o RelayOptions) ([]*Hub, []string, []*memRelay) {
	t.Helper()
	var hubs []*Hub
	var urls []string
	var relays []*memRelay
	for i := range n {
		r := b.relay(fmt.Sprint("node", i))
		opts := o
		opts.NodeID = r.name
		h, err := NewHubWithConfig(HubConfig{SendQueueSize: 4096, SendTimeout: 5 * time.Second, Relay: r, RelayOptions: opts})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(h.Stop)
		hubs = append(hubs, h)
		urls = append(urls, hubServe(t, h, map[string]ServerConfig{"/ws": {}}))
		relays = append(relays, r)
	}
	return hubs, urls, relays
}

// relayNoGoroutines fails t if goroutines of a hub relay remain.
func relayNoGoroutines(t *testing.T) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		buf := make([]byte, 1<<20)
		s := string(buf[:runtime.Stack(buf, true)])
		if !strings.Contains(s, "websocket.(*hubRelay)") && !strings.Contains(s, "shutdownRelayAsync") {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("relay goroutines left:\n%s", s)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// relayReader reads c until it closes, recording the text messages.
type relayReader struct {
	mu   sync.Mutex
	msgs []string
	done chan struct{}
}

func relayRead(c *Conn) *relayReader {
	rr := &relayReader{done: make(chan struct{})}
	go func() {
		defer close(rr.done)
		for {
			_, p, err := c.ReadMessage()
			if err != nil {
				return
			}
			rr.mu.Lock()
			rr.msgs = append(rr.msgs, string(p))
			rr.mu.Unlock()
		}
	}()
	return rr
}

func (rr *relayReader) get() []string {
	rr.mu.Lock()
	defer rr.mu.Unlock()
	return append([]string(nil), rr.msgs...)
}

func relayWait(t *testing.T, what string, cond func() bool, show ...func() any) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			var s []any
			for _, f := range show {
				s = append(s, f())
			}
			t.Fatalf("timed out waiting for %s %v", what, s)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// ---- topics and envelope ----

func TestRelayRoomTopicIsSafe(t *testing.T) {
	names := []string{"", "_", "lobby", "a.b", "a.b.c", "*", ">", "a.*", "a.>", " ", "a b", "a\tb", "a\r\nPUB x 1\r\n",
		"room.", "all", "ctl", "ä", "\x00", "[ab]", "?", "\\", "a:b", strings.Repeat("x", 128), "-", "--", "a_b"}
	seen := map[string]string{}
	for _, n := range names {
		topic := RelayRoomTopic(n)
		tok, ok := strings.CutPrefix(topic, "room.")
		if !ok || tok == "" {
			t.Fatalf("RelayRoomTopic(%q) = %q", n, topic)
		}
		for i := 0; i < len(tok); i++ {
			c := tok[i]
			if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || c == '-' || c == '_') {
				t.Fatalf("RelayRoomTopic(%q) = %q: byte %q", n, topic, c)
			}
		}
		if prev, dup := seen[topic]; dup {
			t.Fatalf("rooms %q and %q share topic %q", prev, n, topic)
		}
		seen[topic] = n
		if n != "" {
			back, err := base64.RawURLEncoding.DecodeString(tok)
			if err != nil || string(back) != n {
				t.Fatalf("topic %q decodes to %q, %v", topic, back, err)
			}
		}
	}
}

func TestRelayEnvelopeRoundTrip(t *testing.T) {
	cases := []relayEnvelope{
		{kind: relayKindRoom, mt: TextMessage, stream: 1, seq: 2, node: "n", room: "a.b", payload: []byte("hi")},
		{kind: relayKindAll, mt: BinaryMessage, stream: 1<<64 - 1, seq: 1<<64 - 1, node: strings.Repeat("x", 64), payload: []byte{}},
		{kind: relayKindHeartbeat, stream: 7, seq: 0, node: "", payload: []byte{}},
		{kind: relayKindHello, stream: 8, seq: 0, node: "x", payload: []byte{}},
		{kind: relayKindBye, stream: 7, seq: 9, payload: []byte{}},
		{kind: relayKindRoom, mt: TextMessage, room: strings.Repeat("r", 300), payload: bytes.Repeat([]byte{1}, 5000)},
	}
	for _, e := range cases {
		b := appendEnvelope(nil, &e)
		var got relayEnvelope
		if err := parseEnvelope(b, &got); err != nil {
			t.Fatalf("%+v: %v", e, err)
		}
		if diff := cmp.Diff(e, got, cmp.AllowUnexported(relayEnvelope{})); diff != "" {
			t.Fatalf("round trip (-want +got):\n%s", diff)
		}
	}
	bad := [][]byte{
		nil,
		{2, relayKindRoom, 1}, // version
		append([]byte{1, 9, 1}, make([]byte, 17)...),                             // kind
		append([]byte{1, relayKindRoom, 0}, make([]byte, 17)...),                 // type
		append([]byte{1, relayKindHeartbeat, 1}, make([]byte, 17)...),            // type on a heartbeat
		append(append([]byte{1, relayKindRoom, 1}, make([]byte, 16)...), 65),     // node too long
		append(append([]byte{1, relayKindRoom, 1}, make([]byte, 16)...), 3, 'a'), // node short
		append(append([]byte{1, relayKindRoom, 1}, make([]byte, 17)...), 5, 'a'), // room short
		append(append([]byte{1, relayKindRoom, 1}, make([]byte, 17)...), 0x80),   // bad uvarint
		append(append([]byte{1, relayKindAll, 1}, make([]byte, 17)...), 1, 'a'),  // room on "all"
		append(append([]byte{1, relayKindBye, 0}, make([]byte, 17)...), 0, 1),    // payload on a goodbye
	}
	for i, b := range bad {
		var e relayEnvelope
		if err := parseEnvelope(b, &e); err == nil {
			t.Errorf("bad envelope %d (%x) parsed: %+v", i, b, e)
		}
	}
}

func FuzzRelayEnvelope(f *testing.F) {
	f.Add(appendEnvelope(nil, &relayEnvelope{kind: relayKindRoom, mt: TextMessage, stream: 1, seq: 2, node: "n", room: "a", payload: []byte("x")}))
	f.Add(appendEnvelope(nil, &relayEnvelope{kind: relayKindBye, seq: 3}))
	f.Add(appendPresence(appendEnvelope(nil, &relayEnvelope{kind: relayKindHeartbeat, seq: 3}), 5, map[string]int{"a": 2, "b": 3}))
	f.Fuzz(func(t *testing.T, b []byte) {
		var e relayEnvelope
		if parseEnvelope(b, &e) != nil {
			return
		}
		again := appendEnvelope(nil, &e)
		var e2 relayEnvelope
		if err := parseEnvelope(again, &e2); err != nil {
			t.Fatalf("re-encoded envelope does not parse: %v", err)
		}
		if diff := cmp.Diff(e, e2, cmp.AllowUnexported(relayEnvelope{})); diff != "" {
			t.Fatalf("(-first +second):\n%s", diff)
		}
		if p, err := parsePresence(e.payload); err == nil && p.rooms != nil {
			p2, err := parsePresence(appendPresence(nil, p.members, p.rooms))
			if err != nil || p2.members != p.members || !cmp.Equal(p.rooms, p2.rooms) {
				t.Fatalf("presence %+v re-encoded: %+v, %v", p, p2, err)
			}
		}
	})
}

// ---- hubs sharing rooms ----

// TestRelayHubsShareRooms: three hubs, members in two rooms and outside
// any; every hub broadcasts to a room and to all. Every member gets every
// message meant for it exactly once, in each publisher's order; one
// broker message per broadcast; own messages skipped as echoes.
func TestRelayHubsShareRooms(t *testing.T) {
	b := &memBroker{}
	hubs, urls, _ := relayHubs(t, b, 3, RelayOptions{})
	type member struct {
		hub  int
		room string // "" registered only
		rr   *relayReader
	}
	var members []member
	for i, u := range urls {
		for _, room := range []string{"r1", "r1", "r2", ""} {
			q := "?room=" + room
			if room == "" {
				q = "?room=other"
			}
			members = append(members, member{i, room, relayRead(hubDial(t, u+"/ws"+q, nil))})
		}
	}
	for _, h := range hubs {
		hubWaitMembers(t, h, 4)
	}
	const rounds = 50
	var wg sync.WaitGroup
	for i, h := range hubs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range rounds {
				h.BroadcastRoom("r1", TextMessage, fmt.Appendf(nil, "r1 %d %d", i, k))
				h.BroadcastRoom("r2", TextMessage, fmt.Appendf(nil, "r2 %d %d", i, k))
				h.BroadcastAll(TextMessage, fmt.Appendf(nil, "all %d %d", i, k))
				h.BroadcastRoom("nobody", TextMessage, []byte("x")) // no member anywhere
			}
		}()
	}
	wg.Wait()
	want := func(room string) []string {
		var out []string
		for k := range rounds {
			for _, r := range []string{"r1", "r2", "all"} {
				if r == room || r == "all" {
					out = append(out, fmt.Sprintf("%s %%d %d", r, k))
				}
			}
		}
		return out
	}
	for _, m := range members {
		n := rounds * 3 * (1 + btoi(m.room != ""))
		relayWait(t, "deliveries", func() bool { return len(m.rr.get()) >= n })
		got := m.rr.get()
		if len(got) != n {
			t.Fatalf("member of %q on hub %d: %d messages, want %d", m.room, m.hub, len(got), n)
		}
		// Per publisher: exactly the expected sequence, in order.
		for pub := range hubs {
			var mine []string
			for _, s := range got {
				var kind string
				var p, k int
				fmt.Sscanf(s, "%s %d %d", &kind, &p, &k)
				if p == pub {
					mine = append(mine, fmt.Sprintf("%s %%d %d", kind, k))
				}
			}
			if diff := cmp.Diff(want(m.room), mine); diff != "" {
				t.Fatalf("member of %q on hub %d, from hub %d (-want +got):\n%s", m.room, m.hub, pub, diff)
			}
		}
	}
	perHub := uint64(rounds * 4)
	for i, h := range hubs {
		m := h.Metrics()
		r := m.Relay
		if r == nil || r.NodeID != fmt.Sprint("node", i) || r.Published != perHub || r.Echoes != perHub ||
			r.Received != 2*perHub || r.Lost != 0 || r.PublishDropped != 0 || r.Duplicates != 0 || r.Invalid != 0 {
			t.Fatalf("hub %d relay metrics %+v", i, r)
		}
		if r.Peers != 2 {
			t.Errorf("hub %d: %d peers, want 2", i, r.Peers)
		}
	}
	if got, want := b.publishes.Load(), int64(len(hubs))*int64(perHub); got != want {
		t.Fatalf("broker got %d publishes, want one per broadcast: %d", got, want)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	for _, h := range hubs {
		if err := h.Shutdown(ctx); err != nil {
			t.Fatal(err)
		}
	}
	relayNoGoroutines(t)
}

// TestRelayLossCounted: what the broker loses on the way to a node is
// counted there, in the middle of a stream (the next message shows the
// gap) and at its end (the heartbeat does); duplicates are discarded.
func TestRelayLossCounted(t *testing.T) {
	b := &memBroker{}
	var lose atomic.Bool
	hubs, urls, relays := relayHubs(t, b, 2, RelayOptions{Heartbeat: 10 * time.Millisecond})
	b.mu.Lock()
	b.drop = func(to *memRelay, m RelayMessage) bool {
		return to == relays[1] && m.Topic != RelayTopicControl && lose.Load()
	}
	b.mu.Unlock()
	rr := relayRead(hubDial(t, urls[1]+"/ws?room=r", nil))
	hubWaitMembers(t, hubs[1], 1)
	send := func(k int) { hubs[0].BroadcastRoom("r", TextMessage, fmt.Appendf(nil, "%d", k)) }
	send(0)
	relayWait(t, "message 0", func() bool { return len(rr.get()) == 1 })
	lose.Store(true)
	for k := 1; k <= 5; k++ {
		send(k)
	}
	// The publisher must have published them before losses stop.
	relayWait(t, "publishes", func() bool { return hubs[0].Metrics().Relay.Published == 6 })
	lose.Store(false)
	send(6)
	relayWait(t, "message 6", func() bool { return len(rr.get()) == 2 }, func() any { return rr.get() }, func() any { return *hubs[1].Metrics().Relay })
	if r := hubs[1].Metrics().Relay; r.Lost != 5 {
		t.Fatalf("mid-stream: lost %d, want 5 (%+v)", r.Lost, r)
	}
	// Trailing losses: counted by the next heartbeat.
	lose.Store(true)
	send(7)
	send(8)
	relayWait(t, "publishes", func() bool { return hubs[0].Metrics().Relay.Published == 9 })
	lose.Store(false)
	relayWait(t, "heartbeat", func() bool { return hubs[1].Metrics().Relay.Lost == 7 })
	if diff := cmp.Diff([]string{"0", "6"}, rr.get()); diff != "" {
		t.Fatalf("member got (-want +got):\n%s", diff)
	}
	// Duplicates.
	b.mu.Lock()
	b.dup = true
	b.mu.Unlock()
	send(9)
	relayWait(t, "message 9", func() bool { return len(rr.get()) == 3 })
	relayWait(t, "duplicate", func() bool { return hubs[1].Metrics().Relay.Duplicates == 1 })
	time.Sleep(20 * time.Millisecond)
	if got := rr.get(); len(got) != 3 {
		t.Fatalf("member got %q", got)
	}
	if r := hubs[1].Metrics().Relay; r.Received != 3 || r.Lost != 7 {
		t.Fatalf("%+v", r)
	}
}

// TestRelaySlowBrokerNeverBlocksLocalDelivery: with Publish stuck, every
// broadcast still reaches the local members at once; the publish queue
// stays within its size and the rest is dropped, counted; what was queued
// is published once the broker is back. Both policies.
func TestRelaySlowBrokerNeverBlocksLocalDelivery(t *testing.T) {
	for _, policy := range []RelayQueuePolicy{RelayDropNewest, RelayDropOldest} {
		t.Run(fmt.Sprint(policy), func(t *testing.T) {
			b := &memBroker{}
			r := b.relay("slow")
			r.block = make(chan struct{})
			h, err := NewHubWithConfig(HubConfig{Relay: r, RelayOptions: RelayOptions{QueueSize: 4, QueuePolicy: policy, PublishTimeout: time.Minute, Heartbeat: NoLimit}})
			if err != nil {
				t.Fatal(err)
			}
			watcher := b.relay("watcher")
			rec := make(chan string, 1000)
			if err := watcher.Start(context.Background(), RelayHandler{Deliver: func(m RelayMessage) {
				var e relayEnvelope
				if parseEnvelope(m.Data, &e) == nil && e.kind == relayKindRoom {
					rec <- string(e.payload)
				}
			}}); err != nil {
				t.Fatal(err)
			}
			defer watcher.Close(context.Background())
			url := hubServe(t, h, map[string]ServerConfig{"/ws": {}})
			rr := relayRead(hubDial(t, url+"/ws?room=r", nil))
			hubWaitMembers(t, h, 1)
			const n = 100
			for k := range n {
				if res := h.BroadcastRoom("r", TextMessage, fmt.Appendf(nil, "%d", k)); res.Enqueued != 1 {
					t.Fatalf("broadcast %d: %+v", k, res)
				}
			}
			relayWait(t, "local deliveries", func() bool { return len(rr.get()) == n })
			m := h.Metrics().Relay
			if m.Queued > 4 || m.Published != 0 {
				t.Fatalf("while stuck: %+v", m)
			}
			close(r.block)
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			if err := h.Shutdown(ctx); err != nil {
				t.Fatal(err)
			}
			m = h.Metrics().Relay
			if m.Published+m.PublishDropped != n || m.PublishDropped < n-4-relayBatch || m.Queued != 0 {
				t.Fatalf("after: %+v", m)
			}
			relayWait(t, "published messages", func() bool { return uint64(len(rec)) == m.Published })
			var got []string
			for range m.Published {
				got = append(got, <-rec)
			}
			if policy == RelayDropOldest {
				// The newest survive.
				tail := got[len(got)-4:]
				if diff := cmp.Diff([]string{"96", "97", "98", "99"}, tail); diff != "" {
					t.Fatalf("published tail (-want +got):\n%s", diff)
				}
			} else if got[len(got)-1] == "99" && m.PublishDropped > 0 {
				t.Fatalf("drop-newest published the newest: %q", got)
			}
			relayNoGoroutines(t)
		})
	}
}

// TestRelayHelloAnswered: with heartbeats off, nodes started one after the
// other know each other at once (the hello is answered), so the first
// broadcast of each is tracked and its loss would be counted.
func TestRelayHelloAnswered(t *testing.T) {
	b := &memBroker{}
	hubs, _, _ := relayHubs(t, b, 3, RelayOptions{Heartbeat: NoLimit})
	for i, h := range hubs {
		relayWait(t, fmt.Sprint("hub ", i, " peers"), func() bool { return h.Metrics().Relay.Peers == 2 })
	}
}

// TestRelayClusterCounts: heartbeats carry each node's member counts.
func TestRelayClusterCounts(t *testing.T) {
	b := &memBroker{}
	hubs, urls, _ := relayHubs(t, b, 3, RelayOptions{Heartbeat: 20 * time.Millisecond})
	for i, u := range urls {
		for range i + 1 {
			relayRead(hubDial(t, u+"/ws?room=shared", nil))
		}
		relayRead(hubDial(t, u+"/ws?room="+fmt.Sprint("own", i), nil))
	}
	for i, h := range hubs {
		hubWaitMembers(t, h, i+2)
	}
	for i, h := range hubs {
		relayWait(t, fmt.Sprint("hub ", i, " counts"), func() bool {
			return h.ClusterRoomCount("shared") == 6 && h.ClusterRoomCount("own2") == 1 &&
				h.ClusterConnectionCount() == 9 && h.ClusterRoomCount("none") == 0
		}, func() any {
			return fmt.Sprint(h.ClusterRoomCount("shared"), h.ClusterRoomCount("own2"), h.ClusterConnectionCount())
		})
	}
	// A node gone (goodbye) is no longer counted.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := hubs[2].Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	relayWait(t, "counts after a node left", func() bool { return hubs[0].ClusterRoomCount("shared") == 3 && hubs[0].ClusterConnectionCount() == 5 })
	// Without a relay: the local counts.
	h, _ := NewHubWithConfig(HubConfig{})
	if h.ClusterRoomCount("shared") != 0 || h.ClusterConnectionCount() != 0 {
		t.Fatal("counts without a relay")
	}
}

func TestRelayPresenceCodec(t *testing.T) {
	rooms := map[string]int{"a": 1, "b.c": 300, "": 2}
	b := appendPresence(nil, 7, rooms)
	p, err := parsePresence(b)
	if err != nil || p.members != 7 || !cmp.Equal(p.rooms, rooms) {
		t.Fatalf("%+v, %v", p, err)
	}
	for _, bad := range [][]byte{{0x80}, {1, 5}, {1, 1, 200, 'a'}, append(b, 0)} {
		if _, err := parsePresence(bad); err == nil {
			t.Errorf("%x parsed", bad)
		}
	}
	// Too many rooms for one heartbeat: some listed, the total right.
	many := map[string]int{}
	for i := range 20000 {
		many[fmt.Sprintf("%s-%d", strings.Repeat("r", 100), i)] = 1
	}
	b = appendPresence(nil, 20000, many)
	p, err = parsePresence(b)
	if err != nil || p.members != 20000 || len(p.rooms) == 0 || len(p.rooms) >= 20000 || len(b) > relayPresenceMax+64 {
		t.Fatalf("%d rooms listed in %d bytes, %v", len(p.rooms), len(b), err)
	}
}

// TestRelaySendPolicyPerNode: a member of a receiving node that does not
// read is handled by that node's send policy (here SendDrop) for relayed
// broadcasts as for local ones; the other members, and the other nodes,
// get everything.
func TestRelaySendPolicyPerNode(t *testing.T) {
	b := &memBroker{}
	var hubs []*Hub
	var urls []string
	for i := range 2 {
		h, err := NewHubWithConfig(HubConfig{SendQueueSize: 4, SendBehavior: SendDrop, Relay: b.relay(fmt.Sprint(i)), RelayOptions: RelayOptions{Heartbeat: NoLimit}})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(h.Stop)
		hubs = append(hubs, h)
		urls = append(urls, hubServe(t, h, map[string]ServerConfig{"/ws": {}}))
	}
	relayWait(t, "peers", func() bool { return hubs[0].Metrics().Relay.Peers == 1 && hubs[1].Metrics().Relay.Peers == 1 })
	fast0 := relayRead(hubDial(t, urls[0]+"/ws?room=r", nil))
	fast1 := relayRead(hubDial(t, urls[1]+"/ws?room=r", nil))
	slow := hubDialRaw(t, urls[1]+"/ws?room=r") // never reads
	_ = slow
	hubWaitMembers(t, hubs[0], 1)
	hubWaitMembers(t, hubs[1], 2)
	const n = 60
	payload := make([]byte, 16<<10)
	for k := range n {
		copy(payload, fmt.Sprintf("%03d", k))
		hubs[0].BroadcastRoom("r", BinaryMessage, payload)
		// Paced by the fast members, so that only the slow one falls behind.
		relayWait(t, "fast members", func() bool { return len(fast0.get()) == k+1 && len(fast1.get()) == k+1 })
	}
	m1 := hubs[1].Metrics()
	if m1.Relay.Received != n || m1.Relay.Lost != 0 || m1.BroadcastDropped == 0 || m1.BroadcastDropped >= n {
		t.Fatalf("receiving node: dropped %d, relay %+v", m1.BroadcastDropped, *m1.Relay)
	}
	if m0 := hubs[0].Metrics(); m0.BroadcastDropped != 0 {
		t.Fatalf("publishing node dropped %d", m0.BroadcastDropped)
	}
	for i, rr := range []*relayReader{fast0, fast1} {
		for k, s := range rr.get() {
			if s[:3] != fmt.Sprintf("%03d", k) {
				t.Fatalf("fast member %d: message %d is %q", i, k, s[:3])
			}
		}
	}
}

// TestRelayStartFails: a relay that cannot start makes NewHubWithConfig
// fail with ErrRelayUnavailable, the relay closed, nothing left running.
func TestRelayStartFails(t *testing.T) {
	b := &memBroker{}
	r := b.relay("down")
	down := errors.New("connection refused")
	r.startFn = func() error { return down }
	h, err := NewHubWithConfig(HubConfig{Relay: r})
	if !errors.Is(err, ErrRelayUnavailable) || !errors.Is(err, down) || h != nil {
		t.Fatalf("NewHubWithConfig: %v, %v", h, err)
	}
	if !r.closed.Load() {
		t.Fatal("relay not closed")
	}
	relayNoGoroutines(t)
}

func TestRelayOptionsErrors(t *testing.T) {
	for _, o := range []RelayOptions{
		{NodeID: strings.Repeat("x", MaxRelayNodeIDLength+1)},
		{QueueSize: -1},
		{QueuePolicy: 7},
		{PublishTimeout: -1},
		{StartTimeout: -1},
		{Heartbeat: -2},
	} {
		b := &memBroker{}
		if _, err := NewHubWithConfig(HubConfig{Relay: b.relay("x"), RelayOptions: o}); !errors.Is(err, ErrInvalidConfig) {
			t.Errorf("%+v: %v", o, err)
		}
	}
	h, err := NewHubWithConfig(HubConfig{})
	if err != nil || h.Metrics().Relay != nil {
		t.Fatalf("hub without relay: %v, %+v", err, h.Metrics().Relay)
	}
}

// TestRelayShutdown: Shutdown publishes what is queued and says goodbye
// (the other node counts the gap up to the last message and forgets the
// stream); with the broker stuck it reports what was not sent.
func TestRelayShutdown(t *testing.T) {
	b := &memBroker{}
	hubs, _, relays := relayHubs(t, b, 2, RelayOptions{Heartbeat: NoLimit})
	hubs[0].BroadcastAll(TextMessage, []byte("1"))
	relayWait(t, "first", func() bool { return hubs[1].Metrics().Relay.Received == 1 })
	b.mu.Lock()
	b.drop = func(to *memRelay, m RelayMessage) bool { return to == relays[1] && m.Topic != RelayTopicControl }
	b.mu.Unlock()
	hubs[0].BroadcastAll(TextMessage, []byte("2")) // lost on the way, counted at goodbye
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := hubs[0].Shutdown(ctx); err != nil {
		t.Fatal(err)
	}
	relayWait(t, "goodbye", func() bool { return hubs[1].Metrics().Relay.Lost == 1 })
	if m := hubs[1].Metrics().Relay; m.Peers != 0 {
		t.Fatalf("peer kept after goodbye: %+v", m)
	}
	if err := hubs[0].Shutdown(ctx); err != nil {
		t.Fatalf("second Shutdown: %v", err)
	}
	hubs[1].Stop()

	// Stuck broker: Shutdown's context ends with broadcasts unsent.
	r := b.relay("stuck")
	r.block = make(chan struct{})
	h, err := NewHubWithConfig(HubConfig{Relay: r})
	if err != nil {
		t.Fatal(err)
	}
	for range 10 {
		h.BroadcastAll(TextMessage, []byte("x"))
	}
	sctx, scancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer scancel()
	err = h.Shutdown(sctx)
	if !errors.Is(err, ErrRelayUnsent) || !strings.Contains(err.Error(), ": 10") {
		t.Fatalf("Shutdown with the broker stuck: %v", err)
	}
	if m := h.Metrics().Relay; m.PublishDropped != 10 || m.Published != 0 {
		t.Fatalf("%+v", m)
	}
	relayNoGoroutines(t)
}

// TestRelayPublishErrorsCounted: a failing broker drops and counts; local
// delivery goes on; publishing resumes when the broker does.
func TestRelayPublishErrorsCounted(t *testing.T) {
	b := &memBroker{}
	hubs, urls, relays := relayHubs(t, b, 2, RelayOptions{Heartbeat: NoLimit})
	local := relayRead(hubDial(t, urls[0]+"/ws?room=r", nil))
	remote := relayRead(hubDial(t, urls[1]+"/ws?room=r", nil))
	hubWaitMembers(t, hubs[0], 1)
	hubWaitMembers(t, hubs[1], 1)
	hubs[0].BroadcastRoom("r", TextMessage, []byte("warm-up"))
	relayWait(t, "warm-up", func() bool { return len(remote.get()) == 1 })
	down := errors.New("broker down")
	relays[0].fail.Store(&down)
	for k := range 3 {
		hubs[0].BroadcastRoom("r", TextMessage, fmt.Appendf(nil, "%d", k))
	}
	relayWait(t, "drops", func() bool { return hubs[0].Metrics().Relay.PublishDropped == 3 })
	relays[0].fail.Store(nil)
	hubs[0].BroadcastRoom("r", TextMessage, []byte("3"))
	relayWait(t, "remote", func() bool { return len(remote.get()) == 2 })
	relayWait(t, "local", func() bool { return len(local.get()) == 5 })
	if m := hubs[0].Metrics().Relay; m.BrokerErrors == 0 || m.Published != 2 {
		t.Fatalf("publisher: %+v", m)
	}
	if m := hubs[1].Metrics().Relay; m.Lost != 3 || m.Received != 2 {
		t.Fatalf("receiver: %+v", m)
	}
}

// TestRelayRejectsBadInput: garbage, a wrong topic, a room the hub's
// policy rejects: counted Invalid, nothing delivered, no panic.
func TestRelayRejectsBadInput(t *testing.T) {
	b := &memBroker{}
	hubs, urls, relays := relayHubs(t, b, 1, RelayOptions{})
	rr := relayRead(hubDial(t, urls[0]+"/ws?room=r", nil))
	hubWaitMembers(t, hubs[0], 1)
	seq := uint64(0)
	good := func(room string) []byte {
		seq++
		return appendEnvelope(nil, &relayEnvelope{kind: relayKindRoom, mt: TextMessage, stream: 42, seq: seq, node: "evil", room: room, payload: []byte("x")})
	}
	ctx := context.Background()
	inject := []RelayMessage{
		{Topic: RelayRoomTopic("r"), Data: []byte("garbage")},
		{Topic: RelayTopicAll, Data: good("r")},                  // wrong topic
		{Topic: RelayRoomTopic("a b"), Data: good("a b")},        // not a valid room
		{Topic: RelayRoomTopic("r"), Data: append(good("r"), 0)}, // fine: a longer payload
	}
	if _, err := relays[0].Publish(ctx, inject); err != nil {
		t.Fatal(err)
	}
	relayWait(t, "counts", func() bool { m := hubs[0].Metrics().Relay; return m.Invalid == 3 && m.Received == 1 }, func() any { return *hubs[0].Metrics().Relay })
	relayWait(t, "delivery", func() bool { return len(rr.get()) == 1 })
	hubs[0].relay.event(RelayEvent{Kind: RelayDisconnected, Err: errors.New("x")})
	hubs[0].relay.event(RelayEvent{Kind: RelayReconnected})
	hubs[0].relay.event(RelayEvent{Kind: RelayError, Err: errors.New("slow consumer")})
	if m := hubs[0].Metrics().Relay; m.Disconnects != 1 || m.Reconnects != 1 || m.BrokerErrors != 1 {
		t.Fatalf("%+v", m)
	}
}

func BenchmarkRelayEnvelope(b *testing.B) {
	payload := make([]byte, 1024)
	e := relayEnvelope{kind: relayKindRoom, mt: BinaryMessage, stream: 1, node: "node-1", room: "room-1", payload: payload}
	var buf []byte
	var d relayEnvelope
	b.SetBytes(1024)
	b.ReportAllocs()
	for b.Loop() {
		e.seq++
		buf = appendEnvelope(buf[:0], &e)
		if err := parseEnvelope(buf, &d); err != nil {
			b.Fatal(err)
		}
	}
}

// New passes WebSocketConfig.Relay to its hub: a broadcast on one
// server's hub reaches a member of another's.
func TestNewWithRelay(t *testing.T) {
	b := &memBroker{}
	var servers []*Server
	for _, name := range []string{"a", "b"} {
		cfg := DefaultWebSocketConfig()
		cfg.Secret = bytes.Repeat([]byte(name), MinSecretLength)
		cfg.Relay = b.relay(name)
		cfg.RelayOptions = RelayOptions{NodeID: name}
		s, err := New(cfg)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(s.Hub().Stop)
		servers = append(servers, s)
	}
	u := hubServe(t, servers[1].Hub(), map[string]ServerConfig{"/ws": {}})
	rr := relayRead(hubDial(t, u+"/ws", nil))
	hubWaitMembers(t, servers[1].Hub(), 1)
	servers[0].Hub().BroadcastAll(TextMessage, []byte("from a"))
	relayWait(t, "the broadcast from server a", func() bool { return len(rr.get()) == 1 }, func() any { return rr.get() })
	if got := rr.get(); got[0] != "from a" {
		t.Fatalf("member of b got %q", got)
	}
}
