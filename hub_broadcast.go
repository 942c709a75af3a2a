// hub_broadcast.go owns what a Hub does with a message: the broadcasts
// (to a room, to every member, prepared or not), Send to one member, the
// send policy for a full queue (SendBehavior, hubPolicy), the fan-out of
// one message over many members, and closing slow consumers.

package websocket

import (
	"fmt"
	"log/slog"
	"time"
)

// SendBehavior decides what a Hub does with a message for a member whose
// send queue is full. The values and names are those of Plumego's
// x/websocket.
type SendBehavior int

const (
	// SendBlock makes the sender wait up to the send timeout for room in
	// the member's queue; if none frees up, the message is dropped for that
	// member and counted in BroadcastResult.Dropped. All the full members of
	// one broadcast share a single deadline, so a broadcast waits at most
	// one send timeout whatever the number of slow members.
	SendBlock SendBehavior = iota
	// SendDrop drops the message for that member at once and counts it in
	// BroadcastResult.Dropped; the member stays connected and later
	// messages are delivered when its queue has room again.
	SendDrop
	// SendClose closes the member as a slow consumer: it is removed from
	// the hub, the messages still queued for it are discarded (and counted
	// in HubMetrics.MessagesDropped), and the connection is closed with
	// SlowConsumerCloseCode. The broadcast counts it in
	// BroadcastResult.Closed.
	SendClose
)

// String returns "block", "drop" or "close".
func (b SendBehavior) String() string {
	switch b {
	case SendBlock:
		return "block"
	case SendDrop:
		return "drop"
	case SendClose:
		return "close"
	}
	return fmt.Sprintf("SendBehavior(%d)", int(b))
}

// hubPolicy is a member's send policy; members share one value.
type hubPolicy struct {
	queueCap int
	timeout  time.Duration
	behavior SendBehavior
}

func hubPolicyFrom(queue int, timeout time.Duration, b SendBehavior) (*hubPolicy, error) {
	if queue < 0 {
		return nil, configErr(ErrNegativeQueueSize, "SendQueueSize is %d", queue)
	}
	if timeout < 0 {
		return nil, configErr(ErrNegativeSendTimeout, "SendTimeout is %v", timeout)
	}
	if b < SendBlock || b > SendClose {
		return nil, configErr(ErrInvalidSendBehavior, "SendBehavior is %d", int(b))
	}
	if queue == 0 {
		queue = DefaultSendQueueSize
	}
	if timeout == 0 {
		timeout = DefaultSendTimeout
	}
	return &hubPolicy{queueCap: queue, timeout: timeout, behavior: b}, nil
}

// BroadcastResult counts what one broadcast (or Send) did with each
// member it targeted: Attempted = Enqueued + Dropped + Closed + Skipped.
//
// Enqueued messages are written later, in order, by the member's writer;
// one that is still lost afterwards (the member is removed, closed, or
// its write fails) is counted in HubMetrics.MessagesDropped, never
// silently.
type BroadcastResult struct {
	// Attempted is the number of members targeted.
	Attempted int `json:"attempted"`
	// Enqueued is the number of members the message was queued for.
	Enqueued int `json:"enqueued"`
	// Dropped is the number of members whose queue was full, so that this
	// message was dropped for them (SendDrop, or SendBlock after the send
	// timeout).
	Dropped int `json:"dropped"`
	// Closed is the number of members closed as slow consumers by this
	// broadcast (SendClose); they did not get the message.
	Closed int `json:"closed"`
	// Skipped is the number of members found closed or being removed.
	Skipped int `json:"skipped"`
	// Stopped reports that the hub was stopped: nothing was attempted.
	Stopped bool `json:"stopped,omitempty"`
	// Invalid reports an invalid room name or message type: nothing was
	// attempted.
	Invalid bool `json:"invalid,omitempty"`
}

// Rejected reports whether the broadcast targeted members but queued the
// message for none of them.
func (r BroadcastResult) Rejected() bool { return r.Attempted > 0 && r.Enqueued == 0 }

// BroadcastRoom sends a message of type mt (TextMessage or BinaryMessage)
// with payload data to every member of room, and returns what it did for
// each. data is copied: the caller may reuse it when BroadcastRoom
// returns. The message is encoded once for all members. BroadcastRoom
// returns once the message is queued, dropped or refused for every member;
// with SendBlock that can take up to the send timeout, never longer.
func (h *Hub) BroadcastRoom(room string, mt MessageType, data []byte) BroadcastResult {
	if h.validRoom(room) != nil {
		return BroadcastResult{Invalid: true}
	}
	pm, err := NewPreparedMessage(mt, data)
	if err != nil {
		return BroadcastResult{Invalid: true}
	}
	return h.BroadcastPrepared(room, pm)
}

// BroadcastAll is BroadcastRoom to every member of the hub, each once
// whatever the number of rooms it is in.
func (h *Hub) BroadcastAll(mt MessageType, data []byte) BroadcastResult {
	pm, err := NewPreparedMessage(mt, data)
	if err != nil {
		return BroadcastResult{Invalid: true}
	}
	return h.BroadcastAllPrepared(pm)
}

// BroadcastPrepared is BroadcastRoom with a message prepared by the
// caller, which may then be broadcast again without encoding it anew.
func (h *Hub) BroadcastPrepared(room string, pm *PreparedMessage) BroadcastResult {
	if h.stopFlag.Load() {
		return BroadcastResult{Stopped: true}
	}
	h.relayPublish(room, false, pm)
	snap := h.snapshot(room, false)
	defer h.putSnapshot(snap)
	return h.fanOut(*snap, pm)
}

// BroadcastAllPrepared is BroadcastAll with a prepared message.
func (h *Hub) BroadcastAllPrepared(pm *PreparedMessage) BroadcastResult {
	if h.stopFlag.Load() {
		return BroadcastResult{Stopped: true}
	}
	h.relayPublish("", true, pm)
	snap := h.snapshot("", true)
	defer h.putSnapshot(snap)
	return h.fanOut(*snap, pm)
}

// BroadcastPreparedMessages is BroadcastPrepared for several messages at
// once: each member of room gets pms in order, and every count of the
// result is of (member, message) pairs (Attempted is the number of
// members times len(pms)). It is for a broadcaster that has several
// messages at hand, such as all those its input has buffered: each
// member's queue is locked once for all of them, and its writer is woken
// once and writes them together, where broadcasting them one by one could
// wake it, and make it write, once for each. With SendBlock, the whole
// call waits at most one send timeout. A nil message makes the result
// Invalid, with nothing attempted.
func (h *Hub) BroadcastPreparedMessages(room string, pms ...*PreparedMessage) BroadcastResult {
	return h.broadcastBatch(room, false, pms)
}

// BroadcastAllPreparedMessages is BroadcastPreparedMessages to every
// member of the hub, each once whatever the number of rooms it is in.
func (h *Hub) BroadcastAllPreparedMessages(pms ...*PreparedMessage) BroadcastResult {
	return h.broadcastBatch("", true, pms)
}

func (h *Hub) broadcastBatch(room string, all bool, pms []*PreparedMessage) BroadcastResult {
	if h.stopFlag.Load() {
		return BroadcastResult{Stopped: true}
	}
	for _, pm := range pms {
		if pm == nil {
			return BroadcastResult{Invalid: true}
		}
	}
	if len(pms) == 0 {
		return BroadcastResult{}
	}
	for _, pm := range pms {
		h.relayPublish(room, all, pm)
	}
	snap := h.snapshot(room, all)
	defer h.putSnapshot(snap)
	return h.fanOutBatch(*snap, pms)
}

// Send queues a message for member c alone, in order with the broadcasts
// it receives, under the same send policy. It returns nil once the
// message is queued, or ErrNotMember, ErrHubStopped, ErrBadMessageType,
// ErrSendQueueFull (dropped) or ErrSlowConsumer (the member was closed).
// Send is counted in the Broadcast* metrics as a broadcast to one member.
func (h *Hub) Send(c *Conn, mt MessageType, data []byte) error {
	if h.stopFlag.Load() {
		return ErrHubStopped
	}
	pm, err := NewPreparedMessage(mt, data)
	if err != nil {
		return err
	}
	h.mu.RLock()
	m := h.members[c]
	h.mu.RUnlock()
	if m == nil {
		return ErrNotMember
	}
	r := h.fanOut([]*hubMember{m}, pm)
	switch {
	case r.Enqueued == 1:
		return nil
	case r.Dropped == 1:
		return ErrSendQueueFull
	case r.Closed == 1:
		return ErrSlowConsumer
	}
	return ErrNotMember
}

// fanOut queues pm for every member of ms following their policies.
func (h *Hub) fanOut(ms []*hubMember, pm *PreparedMessage) BroadcastResult {
	one := [1]*PreparedMessage{pm}
	return h.fanOutBatch(ms, one[:])
}

// fanOutBatch queues pms, in order, for every member of ms following
// their policies. A member's mutex is taken once for all of pms when its
// queue has room, and its writer is started or woken once, after every
// member has been served. The result counts (member, message) pairs.
func (h *Hub) fanOutBatch(ms []*hubMember, pms []*PreparedMessage) BroadcastResult {
	total := len(ms) * len(pms)
	res := BroadcastResult{Attempted: total}
	if total == 0 {
		return res
	}
	// Count the messages queued in one go, ahead (writers subtract what
	// they take, so the gauge never goes below zero), and correct it for
	// the members that did not take them at the end.
	h.queued.Add(int64(total))
	type waiter struct {
		m    *hubMember
		from int // the first message of pms not queued for m
	}
	deferred := len(ms) >= hubDeferMin
	if deferred {
		h.beginDeferred()
	}
	var waiting []waiter // full members with SendBlock
	var starts *[]*hubMember
	var wakes *[]chan struct{}
	for _, m := range ms {
		m.mu.Lock()
		i, r, kick := 0, hubQueued, hubNoKick
		for i < len(pms) {
			var k int
			if r, k = m.pushLocked(pms[i]); k != hubNoKick {
				kick = k
			}
			if r != hubQueued {
				break
			}
			i++
		}
		var wake chan struct{}
		if kick == hubWakeKick {
			wake = m.wake
		}
		m.mu.Unlock()
		switch kick {
		case hubStartKick:
			if starts == nil {
				starts = h.getMemberSlice()
			}
			*starts = append(*starts, m)
		case hubWakeKick:
			if wakes == nil {
				wakes = getWakeSlice()
			}
			*wakes = append(*wakes, wake)
		}
		res.Enqueued += i
		rest := len(pms) - i
		if rest == 0 {
			continue
		}
		switch r {
		case hubGone:
			res.Skipped += rest
		case hubFull:
			// The queue has no room for pms[i], so none for those after it.
			switch m.pol.behavior {
			case SendDrop:
				res.Dropped += rest
			case SendClose:
				if h.closeSlow(m) {
					res.Closed += rest
				} else {
					res.Skipped += rest
				}
			default:
				waiting = append(waiting, waiter{m, i})
			}
		}
	}
	switch {
	case deferred:
		var st []*hubMember
		var wk []chan struct{}
		if starts != nil {
			st = *starts
		}
		if wakes != nil {
			wk = *wakes
		}
		h.endDeferred(st, wk)
	default:
		if starts != nil {
			for _, m := range *starts {
				m.kick(hubStartKick)
			}
		}
		if wakes != nil {
			for _, w := range *wakes {
				wakeChan(w)
			}
		}
	}
	if starts != nil {
		h.putSnapshot(starts)
	}
	if wakes != nil {
		putWakeSlice(wakes)
	}
	if len(waiting) > 0 {
		if deferred {
			h.flushDeferred() // the writers of the full members must run
		}
		// One deadline for the whole broadcast: the longest timeout among
		// the waiting members' policies.
		var d time.Duration
		for _, w := range waiting {
			d = max(d, w.m.pol.timeout)
		}
		deadline := time.NewTimer(d)
		expired := false
		for _, w := range waiting {
			for i := w.from; i < len(pms); i++ {
				r := w.m.enqueueWait(pms[i], deadline.C, &expired)
				if r == hubGone {
					res.Skipped += len(pms) - i
					break
				}
				if r == hubQueued {
					res.Enqueued++
				} else {
					res.Dropped++
				}
			}
		}
		deadline.Stop()
	}
	if res.Enqueued < total {
		h.queued.Add(-int64(total - res.Enqueued))
	}
	h.bAttempted.Add(uint64(res.Attempted))
	h.bEnqueued.Add(uint64(res.Enqueued))
	h.bSkipped.Add(uint64(res.Skipped))
	h.bDropped.Add(uint64(res.Dropped))
	h.bClosed.Add(uint64(res.Closed))
	h.msgsDropped.Add(uint64(res.Dropped + res.Closed))
	return res
}

// closeSlow closes m as a slow consumer, unless something else closed it
// first. The close handshake runs on its own goroutine: it waits for the
// frame being written (bounded by the write timeout), then sends
// SlowConsumerCloseCode.
func (h *Hub) closeSlow(m *hubMember) bool {
	m.mu.Lock()
	if !m.shutLocked() {
		m.mu.Unlock()
		return false
	}
	m.owned = true
	h.wg.Add(1)
	m.mu.Unlock()
	h.slowCloses.Add(1)
	h.unlink(m)
	h.log(slog.LevelWarn, "websocket hub: slow consumer closed", "remote", m.c.RemoteAddr(), "queue", m.pol.queueCap)
	h.closingMu.Lock()
	h.closing[m.c] = struct{}{}
	h.closingMu.Unlock()
	go func() {
		defer h.wg.Done()
		_ = m.c.SetWriteDeadline(time.Now().Add(h.writeTimeout))
		_ = m.c.Close(SlowConsumerCloseCode, "slow consumer")
		h.closingMu.Lock()
		delete(h.closing, m.c)
		h.closingMu.Unlock()
	}()
	return true
}
