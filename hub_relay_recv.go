// This file owns the hub's receiving side of its Relay: delivering what
// other nodes published to local members, per-publisher sequence tracking
// (losses and duplicates counted), relay metrics and cluster presence.

package websocket

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// deliver takes a message from the broker (one at a time).
func (r *hubRelay) deliver(m RelayMessage) {
	var env relayEnvelope
	e := &env
	if parseEnvelope(m.Data, e) != nil || e.topic() != m.Topic {
		r.invalid.Add(1)
		return
	}
	if e.stream == r.stream {
		if e.kind == relayKindRoom || e.kind == relayKindAll {
			r.echoes.Add(1)
		}
		return
	}
	if !r.track(e) {
		return
	}
	if e.kind == relayKindHello {
		select {
		case r.hbNow <- struct{}{}:
		default:
		}
		return
	}
	if e.kind != relayKindRoom && e.kind != relayKindAll {
		return
	}
	h := r.h
	if e.kind == relayKindRoom && h.validRoom(e.room) != nil {
		r.invalid.Add(1)
		return
	}
	r.received.Add(1)
	if h.stopFlag.Load() {
		return
	}
	pm, err := NewPreparedMessage(e.mt, e.payload) // a copy: Data is the adapter's
	if err != nil {
		r.invalid.Add(1)
		return
	}
	snap := h.snapshot(e.room, e.kind == relayKindAll)
	h.fanOut(*snap, pm)
	h.putSnapshot(snap)
}

// track checks e's sequence number against its stream's and counts gaps.
// It reports whether e is new (not late, not a duplicate).
func (r *hubRelay) track(e *relayEnvelope) bool {
	now := time.Now()
	r.pmu.Lock()
	defer r.pmu.Unlock()
	p := r.peers[e.stream]
	if p == nil {
		if e.kind == relayKindBye {
			return false
		}
		if len(r.peers) >= relayMaxPeers {
			r.forgetOldestLocked()
		}
		// What came before we heard of the stream is not counted.
		p = &relayPeer{node: e.node, next: e.seq + 1, lastSeen: now}
		r.peers[e.stream] = p
		if e.kind == relayKindHeartbeat || e.kind == relayKindHello {
			r.presenceLocked(p, e, now)
		}
		return true
	}
	p.lastSeen = now
	switch e.kind {
	case relayKindRoom, relayKindAll:
		if e.seq < p.next {
			r.dups.Add(1)
			return false
		}
		r.lost.Add(e.seq - p.next)
		p.next = e.seq + 1
	default: // heartbeat, hello, bye: everything up to seq was sent
		if e.seq >= p.next {
			r.lost.Add(e.seq - p.next + 1)
			p.next = e.seq + 1
		}
		if e.kind != relayKindBye {
			r.presenceLocked(p, e, now)
		}
		if e.kind == relayKindBye {
			delete(r.peers, e.stream)
		}
	}
	return true
}

func (r *hubRelay) forgetOldestLocked() {
	var oldest uint64
	var t time.Time
	for s, p := range r.peers {
		if t.IsZero() || p.lastSeen.Before(t) {
			oldest, t = s, p.lastSeen
		}
	}
	delete(r.peers, oldest)
}

// event counts and logs a relay event.
func (r *hubRelay) event(ev RelayEvent) {
	switch ev.Kind {
	case RelayDisconnected:
		r.disconnects.Add(1)
		r.h.log(slog.LevelWarn, "websocket hub: relay disconnected", "node", r.node, "err", ev.Err)
	case RelayReconnected:
		r.reconnects.Add(1)
		r.h.log(slog.LevelInfo, "websocket hub: relay reconnected", "node", r.node)
	default:
		r.brokerErrs.Add(1)
		r.h.log(slog.LevelWarn, "websocket hub: relay error", "node", r.node, "err", ev.Err)
	}
}

// relayMetrics returns the relay's metrics, nil without a relay.
func (h *Hub) relayMetrics() *RelayMetrics {
	r := h.relay
	if r == nil {
		return nil
	}
	m := &RelayMetrics{
		NodeID:         r.node,
		Published:      r.published.Load(),
		PublishDropped: r.pubDropped.Load(),
		Received:       r.received.Load(),
		Lost:           r.lost.Load(),
		Duplicates:     r.dups.Load(),
		Echoes:         r.echoes.Load(),
		Invalid:        r.invalid.Load(),
		BrokerErrors:   r.brokerErrs.Load(),
		Disconnects:    r.disconnects.Load(),
		Reconnects:     r.reconnects.Load(),
	}
	r.mu.Lock()
	m.Queued = r.n
	r.mu.Unlock()
	alive := 3 * r.hbEvery
	now := time.Now()
	r.pmu.Lock()
	for _, p := range r.peers {
		if alive == 0 || now.Sub(p.lastSeen) <= alive {
			m.Peers++
		}
	}
	r.pmu.Unlock()
	return m
}

// shutdownRelayAsync runs shutdownRelay alongside the members' closes;
// the returned func waits for it and returns its error.
func (h *Hub) shutdownRelayAsync(ctx context.Context) func() error {
	if h.relay == nil {
		return func() error { return nil }
	}
	errc := make(chan error, 1)
	go func() { errc <- h.shutdownRelay(ctx) }()
	var once sync.Once
	var err error
	return func() error {
		once.Do(func() { err = <-errc })
		return err
	}
}

// presenceLocked records the member counts a heartbeat carries (pmu
// held); a malformed presence is counted invalid and ignored.
func (r *hubRelay) presenceLocked(p *relayPeer, e *relayEnvelope, now time.Time) {
	pr, err := parsePresence(e.payload)
	if err != nil {
		r.invalid.Add(1)
		return
	}
	p.presence, p.presAt = pr, now
}

// ClusterRoomCount returns the members of room on every node: this hub's
// plus what each other node reported in its latest heartbeat (so up to
// one heartbeat old; nodes silent for three heartbeats are not counted).
// Without a relay, or with heartbeats off, it is GetRoomCount.
func (h *Hub) ClusterRoomCount(room string) int {
	n := h.GetRoomCount(room)
	h.rangePresence(func(p *relayPresence) { n += p.rooms[room] })
	return n
}

// ClusterConnectionCount is ClusterRoomCount for the members of every
// node (GetActiveConnectionCount summed over the nodes).
func (h *Hub) ClusterConnectionCount() int {
	n := h.GetActiveConnectionCount()
	h.rangePresence(func(p *relayPresence) { n += p.members })
	return n
}

func (h *Hub) rangePresence(fn func(*relayPresence)) {
	r := h.relay
	if r == nil || r.hbEvery == 0 {
		return
	}
	now := time.Now()
	r.pmu.Lock()
	defer r.pmu.Unlock()
	for _, p := range r.peers {
		if !p.presAt.IsZero() && now.Sub(p.presAt) <= 3*r.hbEvery {
			fn(&p.presence)
		}
	}
}
