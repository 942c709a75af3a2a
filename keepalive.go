// This file owns keepalive: pings after silence and closing a connection
// whose peer stopped answering.

package websocket

import "github.com/rfc6455/websocket/frame"

func (c *Conn) keepalive() {
	c.kaMu.Lock()
	defer c.kaMu.Unlock()
	select {
	case <-c.done:
		return
	default:
	}
	seen := c.activity.Load()
	if seen != c.kaSeen {
		c.kaSeen, c.kaPinged = seen, false
		c.ka.Reset(c.o.pingInterval)
		return
	}
	if c.kaPinged {
		if c.o.logger != nil {
			c.o.logger.Debug("websocket: keepalive timeout", "remote", c.nc.RemoteAddr())
		}
		c.closeNow()
		return
	}
	c.kaPinged = true
	_ = c.writeControl(frame.OpPing, nil)
	c.ka.Reset(c.o.pongTimeout)
}
