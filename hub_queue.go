// hub_queue.go owns a member's state (hubMember), its bounded send queue
// and the writer goroutine that empties it: enqueueing (at once, or
// waiting for room), the writer's batches of vectored writes, and closing
// a member's queue. A member's queue fields are guarded by hubMember.mu;
// its writer is the only goroutine writing hub messages to its Conn.

package websocket

import (
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// hubMember is the hub's state for one connection.
type hubMember struct {
	// Set at join, read-only afterwards.
	h    *Hub
	c    *Conn
	pol  *hubPolicy
	user *UserInfo

	rooms []string // the rooms m is in; guarded by h.mu

	// The queue and its writer: guarded by mu, except gone (atomic).
	mu       sync.Mutex
	q        []*PreparedMessage // ring buffer, grown up to pol.queueCap
	head, n  int
	draining bool          // a writer goroutine runs
	closed   bool          // no longer takes messages
	gone     atomic.Bool   // closed, for the writer between messages
	owned    bool          // closed, and a closer owns the connection
	space    chan struct{} // closed when a slot frees up; made by waiters
}

// enqueue outcomes.
const (
	hubQueued = iota
	hubFull
	hubGone
)

// tryEnqueue queues pm if there is room, starting the writer if none runs.
func (m *hubMember) tryEnqueue(pm *PreparedMessage) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.pushLocked(pm)
}

func (m *hubMember) pushLocked(pm *PreparedMessage) int {
	if m.closed {
		return hubGone
	}
	if m.n == m.pol.queueCap {
		return hubFull
	}
	if m.n == len(m.q) {
		// Grow the ring (unwrapping it), up to the queue's capacity.
		size := min(max(4, 2*len(m.q)), m.pol.queueCap)
		q := make([]*PreparedMessage, size)
		for i := 0; i < m.n; i++ {
			q[i] = m.q[(m.head+i)%len(m.q)]
		}
		m.q, m.head = q, 0
	}
	m.q[(m.head+m.n)%len(m.q)] = pm
	m.n++
	m.h.queued.Add(1)
	if !m.draining {
		m.draining = true
		m.h.wg.Add(1)
		go m.drain()
	}
	return hubQueued
}

// enqueueWait waits for room in m's queue until deadline fires (or has
// fired: *expired), then queues pm.
func (m *hubMember) enqueueWait(pm *PreparedMessage, deadline <-chan time.Time, expired *bool) int {
	for {
		m.mu.Lock()
		r := m.pushLocked(pm)
		if r != hubFull || *expired {
			m.mu.Unlock()
			return r
		}
		if m.space == nil {
			m.space = make(chan struct{})
		}
		space := m.space
		m.mu.Unlock()
		select {
		case <-space:
		case <-deadline:
			*expired = true
		}
	}
}

// drain writes m's queue until it is empty or m is closed. One runs per
// member at most, so m's messages go out in queue order.
func (m *hubMember) drain() {
	h := m.h
	defer h.wg.Done()
	for {
		m.mu.Lock()
		if m.closed || m.n == 0 {
			m.draining = false
			if len(m.q) > 8 {
				m.q, m.head = nil, 0 // give back a grown queue
			}
			if !m.owned {
				// The deadline was ours; a closer's is the closer's.
				_ = m.c.SetWriteDeadline(time.Time{})
			}
			m.mu.Unlock()
			return
		}
		// Take what is queued (up to hubBatch messages) in one go.
		var batch [hubBatch]*PreparedMessage
		k := 0
		for m.n > 0 && k < hubBatch {
			batch[k] = m.q[m.head]
			m.q[m.head] = nil
			m.head = (m.head + 1) % len(m.q)
			m.n--
			k++
		}
		h.queued.Add(-int64(k))
		if m.space != nil {
			close(m.space)
			m.space = nil
		}
		m.mu.Unlock()

		_ = m.c.SetWriteDeadline(time.Now().Add(h.writeTimeout))
		n, err := m.writeBatch(batch[:k])
		h.msgsOut.Add(uint64(n))
		for _, pm := range batch[:n] {
			h.bytesOut.Add(uint64(len(pm.Data())))
		}
		h.msgsDropped.Add(uint64(k - n))
		if err != nil {
			h.writeFailed(m, err)
			// m is closed now: the loop ends.
		}
	}
}

// hubBatch is the most messages a member's writer takes from its queue at
// once.
const hubBatch = 64

// writeBatch writes pms to m's connection in order with one vectored
// write (Conn.WritePreparedMessages), unless m was closed meanwhile, and
// returns how many were written (all or none).
func (m *hubMember) writeBatch(pms []*PreparedMessage) (int, error) {
	if m.gone.Load() {
		return 0, nil
	}
	if err := m.c.WritePreparedMessages(pms...); err != nil {
		return 0, err
	}
	return len(pms), nil
}

// shut marks m closed and discards its queue (counted as dropped). It
// reports whether this call closed it.
func (m *hubMember) shut() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.shutLocked()
}

func (m *hubMember) shutLocked() bool {
	if m.closed {
		return false
	}
	m.closed = true
	m.gone.Store(true)
	if m.n > 0 {
		m.h.msgsDropped.Add(uint64(m.n))
		m.h.queued.Add(-int64(m.n))
	}
	clear(m.q)
	m.q, m.head, m.n = nil, 0, 0
	if m.space != nil {
		close(m.space)
		m.space = nil
	}
	return true
}

// writeFailed removes a member whose write failed and closes its
// connection (it cannot take frames any more).
func (h *Hub) writeFailed(m *hubMember, err error) {
	m.mu.Lock()
	closed := m.shutLocked()
	m.owned = true
	m.mu.Unlock()
	if !closed {
		return
	}
	h.writeErrors.Add(1)
	h.unlink(m)
	h.log(slog.LevelWarn, "websocket hub: write failed, member removed", "remote", m.c.RemoteAddr(), "err", err)
	_ = m.c.CloseNow()
}
