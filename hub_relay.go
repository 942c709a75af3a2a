// This file owns the hub's publishing side of its Relay (relay.go): the
// publish queue and its goroutine, heartbeats, and stopping. What other
// nodes publish is received in hub_relay_recv.go.

package websocket

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// hubRelay is a hub's side of its Relay: the publish queue and its
// goroutine, and the sequence tracking of what other nodes published.
type hubRelay struct {
	h        *Hub
	r        Relay
	node     string
	stream   uint64
	queueCap int
	policy   RelayQueuePolicy
	pubTO    time.Duration
	hbEvery  time.Duration

	// The publish queue: a ring grown up to queueCap. seq is the last
	// sequence number given out; queue order is sequence order.
	mu       sync.Mutex
	q        []relayItem
	head, n  int
	seq      uint64
	closing  bool // no more broadcasts are queued
	draining bool // the publisher ends once the queue is empty
	wake     chan struct{}
	hbNow    chan struct{} // a hello was heard: answer with a heartbeat
	abort    chan struct{} // closed: drop what is queued and end
	ctx      context.Context
	cancel   context.CancelFunc // cancels a Publish in flight
	done     chan struct{}      // closed when the publisher ended
	aborted  sync.Once

	// handled is the last sequence number the publisher is done with
	// (published or dropped); heartbeats carry it. Publisher only.
	handled uint64

	// Receive side. peers is touched by Deliver (one goroutine) and
	// Metrics.
	pmu   sync.Mutex
	peers map[uint64]*relayPeer

	closeOnce sync.Once
	closeErr  error
	endOnce   sync.Once // Stop or Shutdown, whichever comes first
	endErr    error

	published, pubDropped, received, lost atomic.Uint64
	dups, echoes, invalid, brokerErrs     atomic.Uint64
	disconnects, reconnects               atomic.Uint64
	errLogged                             atomic.Bool // a publish error was logged since the last success
}

type relayItem struct {
	kind byte
	room string
	pm   *PreparedMessage
	seq  uint64
}

// relayPeer is what a node knows of another node's stream.
type relayPeer struct {
	node     string
	next     uint64 // the sequence number expected next
	lastSeen time.Time
	presence relayPresence // from its last heartbeat
	presAt   time.Time
}

// relayMaxPeers bounds the streams a node tracks; beyond it the one heard
// from least recently is forgotten.
const relayMaxPeers = 1024

// relayBatch is the most messages one Publish call carries.
const relayBatch = 64

// startRelay validates o, starts r and the publisher. On error nothing is
// left running.
func (h *Hub) startRelay(r Relay, o RelayOptions) error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: RelayOptions."+format, append([]any{ErrInvalidConfig}, args...)...)
	}
	switch {
	case len(o.NodeID) > MaxRelayNodeIDLength:
		return bad("NodeID is longer than %d bytes", MaxRelayNodeIDLength)
	case o.QueueSize < 0:
		return bad("QueueSize is %d", o.QueueSize)
	case o.QueuePolicy != RelayDropNewest && o.QueuePolicy != RelayDropOldest:
		return bad("QueuePolicy is %d", int(o.QueuePolicy))
	case o.PublishTimeout < 0:
		return bad("PublishTimeout is %v", o.PublishTimeout)
	case o.StartTimeout < 0:
		return bad("StartTimeout is %v", o.StartTimeout)
	case o.Heartbeat < 0 && o.Heartbeat != NoLimit:
		return bad("Heartbeat is %v (use NoLimit to turn heartbeats off)", o.Heartbeat)
	}
	var rnd [16]byte
	_, _ = rand.Read(rnd[:])
	hr := &hubRelay{
		h:        h,
		r:        r,
		node:     o.NodeID,
		stream:   binary.BigEndian.Uint64(rnd[:8]),
		queueCap: o.QueueSize,
		policy:   o.QueuePolicy,
		pubTO:    o.PublishTimeout,
		hbEvery:  o.Heartbeat,
		wake:     make(chan struct{}, 1),
		hbNow:    make(chan struct{}, 1),
		abort:    make(chan struct{}),
		done:     make(chan struct{}),
		peers:    make(map[uint64]*relayPeer),
	}
	if hr.node == "" {
		hr.node = hex.EncodeToString(rnd[8:])
	}
	if hr.queueCap == 0 {
		hr.queueCap = DefaultRelayQueueSize
	}
	if hr.pubTO == 0 {
		hr.pubTO = DefaultRelayPublishTimeout
	}
	switch hr.hbEvery {
	case 0:
		hr.hbEvery = DefaultRelayHeartbeat
	case NoLimit:
		hr.hbEvery = 0
	}
	startTO := o.StartTimeout
	if startTO == 0 {
		startTO = DefaultRelayStartTimeout
	}
	hr.ctx, hr.cancel = context.WithCancel(context.Background())
	ctx, cancel := context.WithTimeout(hr.ctx, startTO)
	err := r.Start(ctx, RelayHandler{Deliver: hr.deliver, Event: hr.event})
	cancel()
	if err != nil {
		hr.cancel()
		cctx, ccancel := context.WithTimeout(context.Background(), hr.pubTO)
		_ = r.Close(cctx)
		ccancel()
		return fmt.Errorf("%w: %w", ErrRelayUnavailable, err)
	}
	h.relay = hr
	go hr.run()
	h.log(slog.LevelInfo, "websocket hub: relay started", "node", hr.node)
	return nil
}

// ---- publishing ----

// relayPublish queues a broadcast for the broker (room "" and all for
// BroadcastAll). It never blocks on the broker.
func (h *Hub) relayPublish(room string, all bool, pm *PreparedMessage) {
	if h.relay == nil {
		return
	}
	if len(room) > relayMaxRoomLen {
		// Too long for the envelope (only a custom validator allows it).
		h.relay.pubDropped.Add(1)
		return
	}
	it := relayItem{kind: relayKindRoom, room: room, pm: pm}
	if all {
		it.kind, it.room = relayKindAll, ""
	}
	h.relay.enqueue(it)
}

func (r *hubRelay) enqueue(it relayItem) {
	r.mu.Lock()
	if r.closing {
		r.mu.Unlock()
		r.pubDropped.Add(1)
		return
	}
	r.seq++
	it.seq = r.seq
	if r.n == r.queueCap {
		r.pubDropped.Add(1)
		if r.policy == RelayDropNewest {
			// Its sequence number is used: the other nodes count the gap.
			r.mu.Unlock()
			return
		}
		r.q[r.head] = relayItem{}
		r.head = (r.head + 1) % len(r.q)
		r.n--
	}
	if r.n == len(r.q) {
		size := min(max(16, 2*len(r.q)), r.queueCap)
		q := make([]relayItem, size)
		for i := 0; i < r.n; i++ {
			q[i] = r.q[(r.head+i)%len(r.q)]
		}
		r.q, r.head = q, 0
	}
	r.q[(r.head+r.n)%len(r.q)] = it
	r.n++
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
}

// take moves up to relayBatch queued items into batch. It reports false
// when the publisher should end: aborted, or draining and empty.
func (r *hubRelay) take(batch []relayItem) ([]relayItem, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for r.n > 0 && len(batch) < relayBatch {
		batch = append(batch, r.q[r.head])
		r.q[r.head] = relayItem{}
		r.head = (r.head + 1) % len(r.q)
		r.n--
	}
	if r.n == 0 && len(r.q) > 64 {
		r.q, r.head = nil, 0 // give back a grown queue
	}
	return batch, !(r.draining && len(batch) == 0)
}

// run is the publisher: it publishes the queue in order, and heartbeats.
func (r *hubRelay) run() {
	defer close(r.done)
	var tick <-chan time.Time
	if r.hbEvery > 0 {
		t := time.NewTicker(r.hbEvery)
		defer t.Stop()
		tick = t.C
	}
	var (
		batch []relayItem
		msgs  []RelayMessage
		buf   []byte
		ok    bool
	)
	// Hello: the nodes up now learn this stream before its first
	// broadcast, so that they count the loss of that one too.
	r.heartbeat(relayKindHello, &buf)
	for {
		select {
		case <-r.abort:
			r.dropQueued()
			return
		default:
		}
		batch, ok = r.take(batch[:0])
		if !ok {
			return
		}
		if len(batch) == 0 {
			select {
			case <-r.wake:
			case <-tick:
				r.heartbeat(relayKindHeartbeat, &buf)
			case <-r.hbNow:
				r.heartbeat(relayKindHeartbeat, &buf)
			case <-r.abort:
			}
			continue
		}
		msgs, buf = r.publish(batch, msgs, buf)
		clear(batch)
		select {
		case <-tick:
			r.heartbeat(relayKindHeartbeat, &buf)
		case <-r.hbNow:
			r.heartbeat(relayKindHeartbeat, &buf)
		default:
		}
	}
}

// publish encodes batch and hands it to the relay, counting the outcome.
func (r *hubRelay) publish(batch []relayItem, msgs []RelayMessage, buf []byte) ([]RelayMessage, []byte) {
	buf = buf[:0]
	ends := make([]int, 0, relayBatch)
	env := relayEnvelope{stream: r.stream, node: r.node}
	for _, it := range batch {
		env.kind, env.mt, env.seq, env.room, env.payload = it.kind, it.pm.mt, it.seq, it.room, it.pm.data
		buf = appendEnvelope(buf, &env)
		ends = append(ends, len(buf))
	}
	msgs = msgs[:0]
	start := 0
	for i, it := range batch {
		topic := RelayTopicAll
		if it.kind == relayKindRoom {
			topic = RelayRoomTopic(it.room)
		}
		msgs = append(msgs, RelayMessage{Topic: topic, Data: buf[start:ends[i]:ends[i]]})
		start = ends[i]
	}
	ctx, cancel := context.WithTimeout(r.ctx, r.pubTO)
	n, err := r.r.Publish(ctx, msgs)
	cancel()
	n = max(0, min(n, len(msgs)))
	if err == nil && n < len(msgs) {
		err = fmt.Errorf("published %d of %d", n, len(msgs))
	}
	r.published.Add(uint64(n))
	r.pubDropped.Add(uint64(len(msgs) - n))
	r.handled = batch[len(batch)-1].seq
	if err != nil {
		r.brokerErrs.Add(1)
		if !r.errLogged.Swap(true) {
			r.h.log(slog.LevelWarn, "websocket hub: relay publish failed (logged once until a publish succeeds)", "node", r.node, "dropped", len(msgs)-n, "err", err)
		}
	} else {
		r.errLogged.Store(false)
	}
	clear(msgs)
	return msgs[:0], buf
}

// heartbeat publishes a heartbeat or a goodbye carrying the last sequence
// number settled: every one given out when the queue is empty (a
// broadcast dropped by RelayDropNewest never enters it), else the last
// one the publisher took. Publisher only.
func (r *hubRelay) heartbeat(kind byte, buf *[]byte) error {
	r.mu.Lock()
	seq := r.handled
	if r.n == 0 {
		seq = r.seq
	}
	r.mu.Unlock()
	*buf = appendEnvelope((*buf)[:0], &relayEnvelope{kind: kind, stream: r.stream, seq: seq, node: r.node})
	if kind != relayKindBye {
		h := r.h
		h.mu.RLock()
		counts := make(map[string]int, len(h.rooms))
		for room, set := range h.rooms {
			counts[room] = len(set)
		}
		members := len(h.members)
		h.mu.RUnlock()
		*buf = appendPresence(*buf, members, counts)
	}
	ctx, cancel := context.WithTimeout(r.ctx, r.pubTO)
	_, err := r.r.Publish(ctx, []RelayMessage{{Topic: RelayTopicControl, Data: *buf}})
	cancel()
	if err != nil {
		r.brokerErrs.Add(1)
	}
	return err
}

// dropQueued discards the queue, counted.
func (r *hubRelay) dropQueued() {
	r.mu.Lock()
	r.pubDropped.Add(uint64(r.n))
	clear(r.q)
	r.q, r.head, r.n = nil, 0, 0
	r.mu.Unlock()
}

func (r *hubRelay) doAbort() {
	r.aborted.Do(func() {
		close(r.abort)
		r.cancel()
	})
}

// stopRelay ends the relay at once: the queue is dropped (counted), the
// relay closed within its publish timeout. For Stop.
func (h *Hub) stopRelay() {
	r := h.relay
	if r == nil {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), r.pubTO)
	defer cancel()
	r.endOnce.Do(func() {
		r.mu.Lock()
		r.closing = true
		r.mu.Unlock()
		r.doAbort()
		<-r.done
		r.endErr = r.close(ctx)
	})
}

// shutdownRelay publishes what is queued, then a goodbye, and closes the
// relay, all bounded by ctx. It returns an error matching ErrRelayUnsent
// when broadcasts were not published (counted in PublishDropped), or the
// relay's Close error. For Shutdown; after Stop or another Shutdown it
// returns what the first returned.
func (h *Hub) shutdownRelay(ctx context.Context) error {
	r := h.relay
	if r == nil {
		return nil
	}
	r.endOnce.Do(func() { r.endErr = r.drainAndClose(ctx) })
	return r.endErr
}

func (r *hubRelay) drainAndClose(ctx context.Context) error {
	before := r.pubDropped.Load()
	r.mu.Lock()
	r.closing, r.draining = true, true
	r.mu.Unlock()
	select {
	case r.wake <- struct{}{}:
	default:
	}
	stop := context.AfterFunc(ctx, r.doAbort)
	<-r.done
	stop()
	var errs []error
	if ctx.Err() == nil {
		var buf []byte
		if err := r.heartbeat(relayKindBye, &buf); err != nil {
			errs = append(errs, fmt.Errorf("websocket: relay: goodbye: %w", err))
		}
	}
	if n := r.pubDropped.Load() - before; n > 0 {
		errs = append(errs, fmt.Errorf("%w: %d", ErrRelayUnsent, n))
	}
	r.doAbort()
	if err := r.close(ctx); err != nil {
		errs = append(errs, fmt.Errorf("websocket: relay: close: %w", err))
	}
	return errors.Join(errs...)
}

func (r *hubRelay) close(ctx context.Context) error {
	r.closeOnce.Do(func() { r.closeErr = r.r.Close(ctx) })
	return r.closeErr
}
