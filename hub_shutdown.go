// hub_shutdown.go owns the end of a Hub: Stop (drop the queues, keep the
// connections) and Shutdown (close every member with 1001, bounded by a
// context).

package websocket

import (
	"context"
	"errors"
	"log/slog"
	"time"
)

// stop refuses new members and broadcasts and takes every member out; it
// returns the members that were in.
func (h *Hub) stop() []*hubMember {
	h.mu.Lock()
	h.stopped = true
	h.stopFlag.Store(true)
	ms := make([]*hubMember, 0, len(h.members))
	for _, m := range h.members {
		ms = append(ms, m)
	}
	clear(h.members)
	clear(h.rooms)
	h.registrations = 0
	h.mu.Unlock()
	return ms
}

// Stop refuses new members and broadcasts, discards every queued message
// (counted in MessagesDropped), and waits for the frames being written and
// for closes in progress (each bounded by the write and close timeouts).
// Connections are left open: they are the caller's. With a Relay, the
// broadcasts still queued for the broker are dropped (counted in
// RelayMetrics.PublishDropped) and the relay is closed. Stop is
// idempotent.
func (h *Hub) Stop() {
	for _, m := range h.stop() {
		m.shut()
	}
	h.flushDeferred()
	h.wg.Wait()
	h.stopRetire()
	h.stopRelay()
}

// Shutdown stops the hub and closes every member: each gets a close frame
// with code 1001 (going away) and the close handshake runs, all members at
// once, each bounded by the connection's close timeout. When ctx ends
// first, the remaining connections are closed at once and ctx.Err() is
// returned. Queued messages are discarded (counted in MessagesDropped);
// afterwards the hub refuses new members (ErrHubStopped) and broadcasts
// (BroadcastResult.Stopped), and no goroutine of the hub remains.
// With a Relay, the broadcasts still queued for the broker are published
// meanwhile, then the relay is closed, within ctx; those that could not be
// make Shutdown return an error matching ErrRelayUnsent that says how
// many (they are counted in RelayMetrics.PublishDropped). Shutdown is
// idempotent.
func (h *Hub) Shutdown(ctx context.Context) error {
	ms := h.stop()
	relayDone := h.shutdownRelayAsync(ctx)
	h.log(slog.LevelInfo, "websocket hub: shutting down", "members", len(ms))
	for _, m := range ms {
		m.mu.Lock()
		if !m.shutLocked() {
			m.mu.Unlock()
			continue
		}
		m.owned = true
		h.wg.Add(1)
		m.mu.Unlock()
		go func(c *Conn) {
			defer h.wg.Done()
			stop := context.AfterFunc(ctx, func() { _ = c.CloseNow() })
			defer stop()
			_ = c.SetWriteDeadline(time.Now().Add(h.writeTimeout))
			_ = c.Close(CloseGoingAway, "going away")
		}(m.c)
	}
	h.flushDeferred()
	done := make(chan struct{})
	go func() {
		h.wg.Wait()
		h.stopRetire()
		close(done)
	}()
	select {
	case <-done:
		h.log(slog.LevelInfo, "websocket hub: shut down")
		return relayDone()
	case <-ctx.Done():
		// The AfterFuncs are closing every member's connection; cut off
		// the slow consumers being closed too. Writers and closers then
		// return promptly.
		h.closingMu.Lock()
		for c := range h.closing {
			_ = c.CloseNow()
		}
		h.closingMu.Unlock()
		<-done
		return errors.Join(ctx.Err(), relayDone())
	}
}
