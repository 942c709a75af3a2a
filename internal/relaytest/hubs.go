package relaytest

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/rfc6455/websocket"
	"github.com/rfc6455/websocket/internal/brokertest"
)

// Hubs is several hubs in this process, each served on 127.0.0.1, each
// with its own relay to one broker (or none), and members spread over
// them.
type Hubs struct {
	Hubs     []*websocket.Hub
	urls     []string
	members  []*Member
	received atomic.Int64 // messages read by all members
}

// Member is a client connection reading what its hub sends.
type Member struct {
	Hub  int
	conn *websocket.Conn
	keep bool
	mu   sync.Mutex
	msgs []string
	done chan struct{}
}

// Messages returns what the member read (when it keeps them).
func (m *Member) Messages() []string {
	m.mu.Lock()
	defer m.mu.Unlock()
	return append([]string(nil), m.msgs...)
}

// NewHubs starts n hubs; relay(i) makes hub i's relay (nil relay: no
// relay).
func NewHubs(tb testing.TB, n int, relay func(i int) websocket.Relay, o websocket.RelayOptions) *Hubs {
	tb.Helper()
	hs := &Hubs{}
	for i := range n {
		cfg := websocket.HubConfig{SendQueueSize: 1024, SendTimeout: 10 * time.Second, RelayOptions: o}
		if relay != nil {
			cfg.Relay = relay(i)
			cfg.RelayOptions.NodeID = fmt.Sprint("node", i)
		}
		h, err := websocket.NewHubWithConfig(cfg)
		if err != nil {
			tb.Fatal(err)
		}
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			websocket.ServeWSWithConfig(w, r, websocket.ServerConfig{Hub: h, AllowUnauthenticated: true})
		}))
		tb.Cleanup(func() {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = h.Shutdown(ctx)
			srv.Close()
		})
		hs.Hubs = append(hs.Hubs, h)
		hs.urls = append(hs.urls, "ws"+strings.TrimPrefix(srv.URL, "http"))
	}
	return hs
}

// AddMembers connects k members to room, member i to hub i%n; keep makes
// them record the messages (else they only count them). It waits until
// the hubs have them.
func (hs *Hubs) AddMembers(tb testing.TB, k int, room string, keep bool) []*Member {
	tb.Helper()
	var out []*Member
	want := make([]int, len(hs.Hubs))
	for i := range hs.Hubs {
		want[i] = hs.Hubs[i].GetActiveConnectionCount()
	}
	for i := range k {
		h := i % len(hs.Hubs)
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		c, _, err := websocket.Dial(ctx, hs.urls[h]+"/?room="+room, nil)
		cancel()
		if err != nil {
			tb.Fatal(err)
		}
		m := &Member{Hub: h, conn: c, keep: keep, done: make(chan struct{})}
		tb.Cleanup(func() { c.CloseNow(); <-m.done })
		go hs.read(m)
		want[h]++
		out = append(out, m)
	}
	hs.members = append(hs.members, out...)
	deadline := time.Now().Add(20 * time.Second)
	for i, h := range hs.Hubs {
		for h.GetActiveConnectionCount() != want[i] {
			if time.Now().After(deadline) {
				tb.Fatalf("hub %d has %d members, want %d", i, h.GetActiveConnectionCount(), want[i])
			}
			time.Sleep(2 * time.Millisecond)
		}
	}
	return out
}

func (hs *Hubs) read(m *Member) {
	defer close(m.done)
	for {
		if !m.keep {
			_, r, err := m.conn.NextReader()
			if err != nil {
				return
			}
			_, _ = io.Copy(io.Discard, r)
		} else {
			_, p, err := m.conn.ReadMessage()
			if err != nil {
				return
			}
			m.mu.Lock()
			m.msgs = append(m.msgs, string(p))
			m.mu.Unlock()
		}
		hs.received.Add(1)
	}
}

// Received returns the number of messages all members read.
func (hs *Hubs) Received() int64 { return hs.received.Load() }

// WaitReceived waits until members read n messages in all.
func (hs *Hubs) WaitReceived(tb testing.TB, n int64, d time.Duration) {
	tb.Helper()
	deadline := time.Now().Add(d)
	for hs.received.Load() < n {
		if time.Now().After(deadline) {
			var ms []string
			for i, h := range hs.Hubs {
				m := h.Metrics()
				ms = append(ms, fmt.Sprintf("hub %d: members %d out %d dropped %d (full %d, closed %d, write errors %d) relay %+v", i, m.ActiveConnections, m.MessagesOut, m.MessagesDropped, m.BroadcastDropped, m.SlowConsumerCloses, m.WriteErrors, m.Relay))
			}
			tb.Fatalf("members read %d messages, want %d\n%s", hs.received.Load(), n, strings.Join(ms, "\n"))
		}
		time.Sleep(100 * time.Microsecond)
	}
}

// HubsShareRooms runs three hubs on relays made by relay, each
// broadcasting to a room and to all, and checks that every member gets
// every message once, in each publisher's order, and that the broker took
// exactly one message per broadcast.
func HubsShareRooms(t *testing.T, b *brokertest.Server, relay func(i int) websocket.Relay) {
	const nodes, perNode, rounds = 3, 10, 100
	hs := NewHubs(t, nodes, relay, websocket.RelayOptions{Heartbeat: websocket.NoLimit})
	in := hs.AddMembers(t, nodes*perNode, "r", true)
	out := hs.AddMembers(t, nodes*2, "elsewhere", true)
	hs.waitPeers(t) // the hellos have gone through: every node knows the others
	before, err := b.PublishCount()
	if err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for i, h := range hs.Hubs {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := range rounds {
				if k%5 == 4 {
					h.BroadcastAll(websocket.TextMessage, fmt.Appendf(nil, "%d all %d", i, k))
				} else {
					h.BroadcastRoom("r", websocket.TextMessage, fmt.Appendf(nil, "%d r %d", i, k))
				}
			}
		}()
	}
	wg.Wait()
	allPer := rounds / 5
	hs.WaitReceived(t, int64(len(in)*nodes*rounds+len(out)*nodes*allPer), 30*time.Second)
	for _, m := range append(in, out...) {
		got := m.Messages()
		inRoom := len(got) == nodes*rounds
		for pub := range nodes {
			var mine []string
			for _, s := range got {
				if strings.HasPrefix(s, fmt.Sprint(pub, " ")) {
					mine = append(mine, s)
				}
			}
			var want []string
			for k := range rounds {
				if k%5 == 4 {
					want = append(want, fmt.Sprintf("%d all %d", pub, k))
				} else if inRoom {
					want = append(want, fmt.Sprintf("%d r %d", pub, k))
				}
			}
			if strings.Join(mine, "|") != strings.Join(want, "|") {
				t.Fatalf("member of hub %d, from hub %d:\n got %q\nwant %q", m.Hub, pub, mine, want)
			}
		}
	}
	after, err := b.PublishCount()
	if err != nil {
		t.Fatal(err)
	}
	if after-before != nodes*rounds {
		t.Fatalf("the broker took %d messages for %d broadcasts", after-before, nodes*rounds)
	}
	for i, h := range hs.Hubs {
		r := h.Metrics().Relay
		if r.Published != rounds || r.Echoes != rounds || r.Received != (nodes-1)*rounds || r.Lost != 0 {
			t.Fatalf("hub %d: %+v", i, r)
		}
	}
}

// waitPeers waits until every hub sees all the others through the relay
// (10 s at most).
func (hs *Hubs) waitPeers(tb testing.TB) {
	tb.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for _, h := range hs.Hubs {
		for h.Metrics().Relay.Peers != len(hs.Hubs)-1 {
			if time.Now().After(deadline) {
				tb.Fatalf("peers: %+v", h.Metrics().Relay)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

// Broadcast is the cross-node broadcast benchmark: members (1 KiB
// messages) spread over nodes hubs, node 0 broadcasting; relay nil means
// one hub without a relay (nodes must be 1). At most 256 broadcasts are in
// flight. It reports deliveries/s, this process's CPU per delivery (the
// hubs and the reading members), the broker's CPU per broadcast and the
// messages the broker took per broadcast.
func Broadcast(b *testing.B, b0 *brokertest.Server, nodes, members int, relay func(i int) websocket.Relay) {
	hs := NewHubs(b, nodes, relay, websocket.RelayOptions{Heartbeat: websocket.NoLimit, QueueSize: 1 << 14})
	hs.AddMembers(b, members, "bench", false)
	if relay != nil {
		hs.waitPeers(b)
	}
	pm, err := websocket.NewPreparedMessage(websocket.BinaryMessage, make([]byte, 1024))
	if err != nil {
		b.Fatal(err)
	}
	var pub0 uint64
	if b0 != nil {
		if pub0, err = b0.PublishCount(); err != nil {
			b.Fatal(err)
		}
	}
	brokerPid := 0
	if b0 != nil {
		brokerPid = b0.Pid()
	}
	cpu0, bcpu0 := brokertest.CPU(0), brokertest.CPU(brokerPid)
	base := hs.Received()
	const window = 256
	b.SetBytes(int64(1024 * members))
	b.ReportAllocs()
	var sent int64
	start := time.Now()
	for b.Loop() {
		for (sent-window)*int64(members) > hs.Received()-base {
			time.Sleep(20 * time.Microsecond)
		}
		hs.Hubs[0].BroadcastPrepared("bench", pm)
		sent++
	}
	hs.WaitReceived(b, base+sent*int64(members), 60*time.Second)
	elapsed := time.Since(start)
	cpu := brokertest.CPU(0) - cpu0
	deliveries := float64(sent * int64(members))
	b.ReportMetric(deliveries/elapsed.Seconds(), "deliveries/s")
	b.ReportMetric(float64(cpu.Microseconds())/deliveries, "cpu-µs/delivery")
	if b0 != nil {
		pub1, err := b0.PublishCount()
		if err != nil {
			b.Fatal(err)
		}
		b.ReportMetric(float64(pub1-pub0)/float64(sent), "publishes/broadcast")
		b.ReportMetric(float64((brokertest.CPU(brokerPid)-bcpu0).Microseconds())/float64(sent), "broker-cpu-µs/broadcast")
	}
}

// Publish is the broker-path benchmark: three hubs without members, node 0
// broadcasting 1 KiB messages that the two others receive, at most 1024 in
// flight. It reports broadcasts/s received by every other node, the
// messages the broker took per broadcast, the broker's CPU per broadcast
// and this process's CPU per broadcast (the three hubs and their broker
// clients).
func Publish(b *testing.B, b0 *brokertest.Server, relay func(i int) websocket.Relay) {
	const nodes, window = 3, 1024
	hs := NewHubs(b, nodes, relay, websocket.RelayOptions{Heartbeat: websocket.NoLimit, QueueSize: 1 << 14})
	hs.waitPeers(b)
	pm, err := websocket.NewPreparedMessage(websocket.BinaryMessage, make([]byte, 1024))
	if err != nil {
		b.Fatal(err)
	}
	received := func() uint64 {
		lo := ^uint64(0)
		for _, h := range hs.Hubs[1:] {
			r := h.Metrics().Relay
			lo = min(lo, r.Received+r.Lost)
		}
		return lo
	}
	pub0, err := b0.PublishCount()
	if err != nil {
		b.Fatal(err)
	}
	cpu0, bcpu0 := brokertest.CPU(0), brokertest.CPU(b0.Pid())
	b.SetBytes(1024)
	var sent uint64
	start := time.Now()
	for b.Loop() {
		for sent >= window && sent-window > received() {
			time.Sleep(20 * time.Microsecond)
		}
		hs.Hubs[0].BroadcastPrepared("nobody", pm)
		sent++
	}
	for received() < sent {
		if time.Since(start) > 2*time.Minute {
			b.Fatalf("received %d of %d", received(), sent)
		}
		time.Sleep(100 * time.Microsecond)
	}
	elapsed := time.Since(start)
	pub1, err := b0.PublishCount()
	if err != nil {
		b.Fatal(err)
	}
	var lost uint64
	for _, h := range hs.Hubs[1:] {
		lost += h.Metrics().Relay.Lost
	}
	b.ReportMetric(float64(sent)/elapsed.Seconds(), "broadcasts/s")
	b.ReportMetric(float64(pub1-pub0)/float64(sent), "publishes/broadcast")
	b.ReportMetric(float64((brokertest.CPU(b0.Pid())-bcpu0).Microseconds())/float64(sent), "broker-cpu-µs/broadcast")
	b.ReportMetric(float64((brokertest.CPU(0)-cpu0).Microseconds())/float64(sent), "cpu-µs/broadcast")
	b.ReportMetric(float64(lost), "lost")
}
