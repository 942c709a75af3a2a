// hub_queue.go owns a member's state (hubMember), its bounded send queue
// and the writer goroutine that empties it: enqueueing (at once, or
// waiting for room), the writer's batches of vectored writes, and closing
// a member's queue. A member's queue fields are guarded by hubMember.mu;
// its writer is the only goroutine writing hub messages to its Conn.

package websocket

import (
	"errors"
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
	draining bool          // a writer goroutine runs (writing or lingering)
	linger   bool          // the writer waits on wake for more work
	retired  bool          // the hub's retire sweep told the writer to exit
	idleFrom uint64        // h.epoch when the writer began to linger
	wake     chan struct{} // cap 1: wakes the lingering writer; exists with it
	closed   bool          // no longer takes messages
	gone     atomic.Bool   // closed, for the writer between messages
	owned    bool          // closed, and a closer owns the connection
	space    chan struct{} // closed when a slot frees up; made by waiters

	// armed is when the writer last set the connection's write deadline,
	// in nanoseconds since h.born (0: it has none set). Only the running
	// writer touches it; writers follow one another through mu.
	armed int64
}

// enqueue outcomes.
const (
	hubQueued = iota
	hubFull
	hubGone
)

// What the caller of pushLocked must do once it has unlocked m.mu.
const (
	hubNoKick    = iota
	hubStartKick // start the writer: m.kick
	hubWakeKick  // wake the lingering writer: m.kick
)

// tryEnqueue queues pm if there is room. It returns what m's writer needs
// (see pushLocked); the caller must then call m.kick.
func (m *hubMember) tryEnqueue(pm *PreparedMessage) (int, int) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.pushLocked(pm)
}

// pushLocked queues pm if there is room. When no writer runs, it marks
// one as running (and counts it in h.wg, under m.mu while m is open, as
// Stop and Shutdown require) and returns hubStartKick; when the writer
// lingers, it returns hubWakeKick. The caller then calls m.kick after
// unlocking. A broadcast kicks the writers it needs only after queuing for
// every member, so a long fan-out is not slowed down by goroutine starts
// and wake-ups, and the writers it kicks find more of the messages that
// follow already queued.
func (m *hubMember) pushLocked(pm *PreparedMessage) (r, kick int) {
	if m.closed {
		return hubGone, hubNoKick
	}
	if m.n == m.pol.queueCap {
		return hubFull, hubNoKick
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
	m.n++ // h.queued was counted by fanOut
	switch {
	case !m.draining:
		m.draining = true
		m.h.wg.Add(1)
		m.h.writers.Add(1)
		kick = hubStartKick
	case m.linger:
		m.linger = false
		kick = hubWakeKick
	}
	return hubQueued, kick
}

// kick starts m's writer or wakes it, as pushLocked said.
func (m *hubMember) kick(kick int) {
	switch kick {
	case hubStartKick:
		h := m.h
		h.liveMu.Lock()
		h.live[m] = struct{}{}
		h.liveMu.Unlock()
		h.armRetire()
		go m.drain()
	case hubWakeKick:
		m.mu.Lock()
		m.wakeLocked()
		m.mu.Unlock()
	}
}

// wakeLocked wakes the lingering writer, if there is one (it then
// rechecks m's state).
func (m *hubMember) wakeLocked() {
	wakeChan(m.wake)
}

// wakeChan sends a wake-up on a writer's wake channel unless one is
// pending (nil: no writer, nothing to do). A broadcast takes the channel
// under m.mu when it ends the writer's lingering (so no other wake-up
// can be pending) and sends after unlocking: the writer waits on that
// channel until the wake-up comes, and a channel the writer has given up
// meanwhile (it can only exit once woken) just keeps the token.
func wakeChan(w chan struct{}) {
	select {
	case w <- struct{}{}: // nil: no case
	default: // a wake-up is pending already
	}
}

// wakePool recycles the wake channel lists of broadcasts.
var wakePool sync.Pool

func getWakeSlice() *[]chan struct{} {
	sp, _ := wakePool.Get().(*[]chan struct{})
	if sp == nil {
		sp = new([]chan struct{})
	}
	return sp
}

func putWakeSlice(sp *[]chan struct{}) {
	clear(*sp)
	if cap(*sp) <= 1<<16 {
		*sp = (*sp)[:0]
		wakePool.Put(sp)
	}
}

// enqueueWait waits for room in m's queue until deadline fires (or has
// fired: *expired), then queues pm.
func (m *hubMember) enqueueWait(pm *PreparedMessage, deadline <-chan time.Time, expired *bool) int {
	for {
		m.mu.Lock()
		r, kick := m.pushLocked(pm)
		if r != hubFull || *expired {
			m.mu.Unlock()
			m.kick(kick)
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

// drain writes m's queue until m is closed, or until the hub's retire
// sweep finds it idle for a whole hubLinger period (see Hub.retire). One
// runs per member at most, so m's messages go out in queue order.
// Lingering keeps a member that receives a steady stream from paying, per
// message, a goroutine start, a stack growth and two deadline updates; a
// member that goes quiet has no goroutine again at most 2*hubLinger later.
// A lingering writer waits on one channel only (no timer of its own).
func (m *hubMember) drain() {
	h := m.h
	defer h.wg.Done()
	for {
		m.mu.Lock()
		if m.closed || (m.n == 0 && m.retired) {
			m.draining, m.linger, m.retired, m.wake = false, false, false, nil
			if len(m.q) > 8 {
				m.q, m.head = nil, 0 // give back a grown queue
			}
			if !m.owned && m.armed != 0 {
				// The deadline was ours; a closer's is the closer's.
				_ = m.c.SetWriteDeadline(time.Time{})
			}
			m.armed = 0
			m.mu.Unlock()
			h.liveMu.Lock()
			delete(h.live, m)
			h.liveMu.Unlock()
			h.writers.Add(-1)
			return
		}
		if m.n == 0 {
			// Wait for more work (or the retire sweep) before giving the
			// goroutine up.
			if m.wake == nil {
				m.wake = make(chan struct{}, 1)
			}
			m.linger = true
			m.idleFrom = h.epoch.Load()
			wake := m.wake
			m.mu.Unlock()
			<-wake
			continue
		}
		m.linger, m.retired = false, false
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

		m.armDeadline()
		n, err := m.writeBatch(batch[:k])
		h.msgsOut.Add(uint64(n))
		bytes := 0
		for _, pm := range batch[:n] {
			bytes += len(pm.Data())
		}
		h.bytesOut.Add(uint64(bytes))
		if n < k {
			h.msgsDropped.Add(uint64(k - n))
		}
		if err != nil {
			h.writeFailed(m, err)
			// m is closed now: the loop ends.
		}
	}
}

// hubLinger is the period of the retire sweep: a writer whose queue stayed
// empty for a whole period exits. It is longer than the time a broadcast
// to 10,000 members takes to reach them all on a busy machine (about
// 100-200 ms measured), so that members receiving such broadcasts back to
// back keep their writers (a restart costs a goroutine start, a stack
// growth and two deadline updates).
const hubLinger = 500 * time.Millisecond

// armRetire makes sure a retire sweep is scheduled (a writer was started).
func (h *Hub) armRetire() {
	if h.retireOn.Load() || !h.retireOn.CompareAndSwap(false, true) {
		return
	}
	h.retireMu.Lock()
	if h.retireT == nil {
		h.retireT = time.AfterFunc(hubLinger, h.retire)
	} else {
		h.retireT.Reset(hubLinger)
	}
	h.retireMu.Unlock()
}

// retire is the retire sweep, run by a timer every hubLinger while the hub
// has writers: it starts a new period and wakes, to exit, every writer
// that has lingered since before the previous one began.
func (h *Hub) retire() {
	e := h.epoch.Add(1)
	snap := h.getMemberSlice()
	h.liveMu.Lock()
	for m := range h.live {
		*snap = append(*snap, m)
	}
	h.liveMu.Unlock()
	for _, m := range *snap {
		m.mu.Lock()
		if m.linger && m.idleFrom+1 < e {
			m.linger, m.retired = false, true
			m.wakeLocked()
		}
		m.mu.Unlock()
	}
	h.putSnapshot(snap)
	h.retireOn.Store(false)
	if h.writers.Load() > 0 {
		h.armRetire()
	}
}

// stopRetire cancels a pending retire sweep (the hub is stopped and its
// writers gone).
func (h *Hub) stopRetire() {
	h.retireMu.Lock()
	if h.retireT != nil {
		h.retireT.Stop()
	}
	h.retireMu.Unlock()
}

// armDeadline bounds the coming write by the hub's write timeout. Setting
// a deadline costs a runtime timer update, so a deadline set less than
// writeTimeout/hubRearm ago is kept: each write then has between
// (1 - 1/hubRearm) * writeTimeout and writeTimeout to complete.
func (m *hubMember) armDeadline() {
	h := m.h
	now := max(int64(time.Since(h.born)), 1)
	if m.armed != 0 && now-m.armed < int64(h.writeTimeout/hubRearm) {
		return
	}
	_ = m.c.SetWriteDeadline(h.born.Add(time.Duration(now) + h.writeTimeout))
	m.armed = now
}

// hubRearm: see armDeadline.
const hubRearm = 16

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
	if m.linger {
		m.linger = false
		m.wakeLocked() // to exit
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
		// Already removed: by its reader, when this very write timed out
		// (the Conn then fails itself), or by a leave; only the former
		// is a write error.
		if errors.Is(err, ErrWriteTimeout) {
			h.writeErrors.Add(1)
		}
		return
	}
	h.writeErrors.Add(1)
	h.unlink(m)
	h.log(slog.LevelWarn, "websocket hub: write failed, member removed", "remote", m.c.RemoteAddr(), "err", err)
	_ = m.c.CloseNow()
}

// Deferred kicks. A fan-out to at least hubDeferMin members does not start
// or wake the writers it needs at once: it hands them to the hub, which
// kicks them hubDeferWait after the last such fan-out ended, unless
// another began meanwhile. So a burst of broadcasts (the broadcaster's
// input had several messages) is queued whole before the writers run,
// and each writer sends the burst with one write. The wait is a runtime
// timer, which fires up to about a millisecond late when the process is
// otherwise idle; beside a fan-out to that many members (milliseconds of
// writes) it is small. No kick waits beyond hubDeferRounds fan-outs or
// hubDeferAge while fan-outs keep coming.
const (
	hubDeferMin    = 1024
	hubDeferWait   = 50 * time.Microsecond
	hubDeferRounds = 8
	hubDeferAge    = 20 * time.Millisecond
)

// beginDeferred registers a deferring fan-out in progress.
func (h *Hub) beginDeferred() {
	h.kickMu.Lock()
	h.kickFan++
	h.kickMu.Unlock()
}

// endDeferred ends a deferring fan-out: it adds the writers the fan-out
// must start (starts) and wake (wakes) to the pending ones, and kicks them
// all now if they have waited long enough, or else arms the timer.
func (h *Hub) endDeferred(starts []*hubMember, wakes []chan struct{}) {
	h.kickMu.Lock()
	h.kickFan--
	now := monoNow()
	if len(starts)+len(wakes) > 0 {
		if len(h.kickStarts)+len(h.kickWakes) == 0 {
			h.kickSince, h.kickRounds = now, 0
		}
		h.kickStarts = append(h.kickStarts, starts...)
		h.kickWakes = append(h.kickWakes, wakes...)
	}
	pending := len(h.kickStarts)+len(h.kickWakes) > 0
	if pending {
		h.kickRounds++ // fan-outs that ended while kicks were pending
	}
	switch {
	case !pending:
		h.kickMu.Unlock()
	case h.stopFlag.Load() || h.kickRounds >= hubDeferRounds || now-h.kickSince >= h.kickAge:
		// Waited enough, even if fan-outs overlap without end.
		h.kickPendingLocked()
	case h.kickFan > 0:
		// The fan-out in progress decides at its end.
		h.kickMu.Unlock()
	default:
		if h.kickTimer == nil {
			h.kickTimer = time.AfterFunc(hubDeferWait, h.kickTimerFired)
		} else {
			h.kickTimer.Reset(hubDeferWait)
		}
		h.kickMu.Unlock()
	}
}

// kickTimerFired kicks the pending writers, unless a deferring fan-out is
// in progress (its end decides).
func (h *Hub) kickTimerFired() {
	h.kickMu.Lock()
	if h.kickFan > 0 {
		h.kickMu.Unlock()
		return
	}
	h.kickPendingLocked()
}

// flushDeferred kicks the pending writers now: a broadcast is about to
// wait for room, or the hub stops (the writers are counted in wg and not
// started yet; a fan-out still running kicks its own at once, having seen
// stopFlag). A timer still armed then finds nothing to kick.
func (h *Hub) flushDeferred() {
	h.kickMu.Lock()
	h.kickPendingLocked()
}

// kickPendingLocked takes the pending kicks, unlocks kickMu and kicks
// them.
func (h *Hub) kickPendingLocked() {
	starts, wakes := h.kickStarts, h.kickWakes
	h.kickStarts, h.kickWakes, h.kickRounds = nil, nil, 0
	h.kickMu.Unlock()
	for _, m := range starts {
		m.kick(hubStartKick)
	}
	for _, w := range wakes {
		wakeChan(w)
	}
	if cap(starts)+cap(wakes) == 0 {
		return
	}
	// Keep the lists' memory for the next fan-outs.
	clear(starts)
	clear(wakes)
	h.kickMu.Lock()
	if h.kickStarts == nil {
		h.kickStarts = starts[:0]
	}
	if h.kickWakes == nil {
		h.kickWakes = wakes[:0]
	}
	h.kickMu.Unlock()
}
