// This file owns keepalive: a ping once PingInterval passed without a byte
// from the peer, and failing the connection when PongTimeout then passes
// without one too. The reader only stores the time of its last read
// (lastRead); everything else runs on the timer's goroutine and never
// needs the write lock to close the connection.

package websocket

import (
	"time"
)

// monoEpoch is the base of monoNow: a monotonic clock in nanoseconds.
var monoEpoch = time.Now()

func monoNow() int64 { return int64(time.Since(monoEpoch)) }

// markRead records that bytes arrived (reader; only with keepalive on).
func (c *Conn) markRead() {
	if c.ka != nil {
		c.lastRead.Store(monoNow())
	}
}

// keepalive runs when the timer fires: PingInterval after the last byte
// received it sends a ping; PongTimeout after that ping, if nothing came
// meanwhile, it fails the connection.
func (c *Conn) keepalive() {
	c.kaMu.Lock()
	if c.isDone() {
		c.kaMu.Unlock()
		return
	}
	now := monoNow()
	last := c.lastRead.Load()
	if c.kaPingAt != 0 && last > c.kaPingAt {
		c.kaPingAt = 0 // the peer spoke after our ping
	}
	interval, pongTimeout := c.o.pingInterval, c.o.pongTimeout
	if c.kaPingAt != 0 {
		if wait := time.Duration(c.kaPingAt + int64(pongTimeout) - now); wait > 0 {
			c.ka.Reset(wait)
			c.kaMu.Unlock()
			return
		}
		c.kaMu.Unlock()
		if c.o.logger != nil {
			c.o.logger.Debug("websocket: keepalive timeout", "remote", c.nc.RemoteAddr())
		}
		c.abortClose(ErrKeepaliveTimeout, CloseGoingAway, "keepalive timeout")
		return
	}
	if idle := time.Duration(now - last); idle < interval {
		c.ka.Reset(interval - idle)
		c.kaMu.Unlock()
		return
	}
	c.kaPingAt = max(now, 1)
	c.ka.Reset(pongTimeout)
	c.kaMu.Unlock()
	// Outside kaMu: the ping may wait for a frame in flight, bounded by
	// pongTimeout; the next firing can fail the connection meanwhile.
	_ = c.writePing(min(pongTimeout, c.controlBound()))
}
