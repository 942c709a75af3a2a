// This file owns the close handshake: failing a connection with a close
// code, Close, lingering for the peer's close, and the final teardown.

package websocket

import (
	"errors"
	"time"

	"github.com/rfc6455/websocket/frame"
)

// fail fails the connection (RFC 6455 7.1.7): it sends a close frame with
// code (bounded by the control-frame bound), records the sticky error and
// returns it at once; waiting for the peer to close happens in the
// background (see finishClose).
func (c *Conn) fail(code StatusCode, kind, cause error) error {
	if c.readErr != nil {
		return c.readErr
	}
	f := &failure{kind: kind, cause: cause, close: CloseError{Code: code}}
	c.readErr = f
	if c.o.logger != nil {
		c.o.logger.Debug("websocket: failing connection", "code", uint16(code), "err", f)
	}
	_ = c.writeClose(code, "")
	c.finishClose()
	return f
}

// finishClose ends the connection once the close handshake is done or the
// connection failed: the reader returns at once while a goroutine lingers
// for the peer's close, bounded by the close timeout (see lingerClose).
func (c *Conn) finishClose() {
	c.lingering.Store(true)
	go c.lingerClose()
}

// lingerClose ends the connection gracefully: a server half-closes (its
// FIN goes out first, RFC 6455 7.1.1); both then drain input until the peer
// closes or the close timeout passes, so that unread input does not turn
// the close into a reset that could destroy our close frame; then close.
// The read side is done by then: its sticky error is set, so nothing else
// reads the transport.
func (c *Conn) lingerClose() {
	if c.role == RoleServer {
		if cw, ok := c.nc.(halfCloser); ok {
			_ = cw.CloseWrite()
		}
	}
	_ = c.nc.SetReadDeadline(time.Now().Add(c.o.closeTimeout))
	var scratch [512]byte
	for {
		if _, err := c.nc.Read(scratch[:]); err != nil {
			break
		}
	}
	c.closeNow()
}

// abort fails the connection because a bound passed (keepalive, a write
// bound): cause becomes what reads and writes return, then the transport
// is closed, which also ends any write stuck on it.
func (c *Conn) abort(cause error) {
	c.cause.CompareAndSwap(nil, &cause)
	c.closeNow()
}

// abortClose is abort with a courtesy close frame, sent only if the write
// side is free at once (never waiting for it) and within a short bound.
func (c *Conn) abortClose(cause error, code StatusCode, reason string) {
	c.cause.CompareAndSwap(nil, &cause)
	if c.wmu.TryLock() {
		if c.writable() == nil {
			var buf [frame.MaxControlPayload]byte
			if p, err := frame.AppendClose(buf[:0], code, reason); err == nil {
				c.closeSent = true
				c.wbound, c.wctl = 100*time.Millisecond, true
				_ = c.writeFrameLocked(true, 0, frame.OpClose, p)
			}
		}
		c.wmu.Unlock()
	}
	c.closeNow()
}

// failCause returns the recorded cause of a local failure, or nil.
func (c *Conn) failCause() error {
	if p := c.cause.Load(); p != nil {
		return *p
	}
	return nil
}

// closeNow closes the transport and releases resources.
func (c *Conn) closeNow() {
	c.closeOnce.Do(func() {
		_ = c.nc.Close()
		if p := c.done.Swap(&closedDone); p != nil {
			close(*p) // Done was asked for before
		}
		// Give the compressor back unless a message writer holds the
		// slot (it then goes to the garbage collector).
		if c.slotHeld.CompareAndSwap(false, true) {
			if c.enc != nil {
				c.enc.Release()
				c.enc = nil
			}
			c.encReleased = true
			c.releaseSlot()
		}
		if c.ka != nil {
			c.ka.Stop()
		}
	})
}

// writeClose sends a close frame once; later calls return ErrCloseSent.
func (c *Conn) writeClose(code StatusCode, reason string) error {
	var buf [frame.MaxControlPayload]byte
	p, err := frame.AppendClose(buf[:0], code, reason)
	if err != nil {
		return err
	}
	return c.writeFrame(true, 0, frame.OpClose, p)
}

// boundCloseWait bounds the wait for the peer's close frame after
// WriteControl sent ours: unless the handshake is over or finishing by
// then (finishClose bounds its own linger), the connection is closed
// after CloseTimeout and reads return ErrCloseTimeout.
func (c *Conn) boundCloseWait() {
	time.AfterFunc(c.o.closeTimeout, func() {
		if c.isDone() {
			return
		}
		if c.closeRecv.Load() || c.lingering.Load() {
			return
		}
		c.abort(ErrCloseTimeout)
	})
}

// FormatCloseMessage returns a close frame payload for code and reason
// (reason cut to 123 bytes at a UTF-8 boundary).
func FormatCloseMessage(code StatusCode, reason string) []byte {
	reason = truncateReason(reason)
	p, err := frame.AppendClose(nil, code, reason)
	if err != nil {
		p, _ = frame.AppendClose(nil, code, "")
	}
	return p
}

func truncateReason(s string) string {
	if len(s) <= 123 {
		return s
	}
	i := 123
	for i > 0 && s[i]&0xC0 == 0x80 {
		i--
	}
	return s[:i]
}

// Close performs the close handshake (RFC 6455 section 7): it sends a close
// frame with code and reason (reason cut to 123 bytes), waits up to the
// close timeout for the peer's close frame (reading, and discarding data
// messages, itself when no other goroutine is reading), then closes the
// connection (a client first waits, bounded, for the server to close TCP).
// It returns nil when the handshake completed, ErrCloseTimeout when the
// peer's close frame did not come in time, else why it did not complete.
// Safe for concurrent use; later calls return ErrCloseSent or ErrClosed.
func (c *Conn) Close(code StatusCode, reason string) error {
	if code == CloseNoStatusReceived {
		reason = ""
	}
	err := c.writeClose(code, truncateReason(reason))
	if err != nil {
		if errors.Is(err, frame.ErrInvalidCloseCode) || errors.Is(err, frame.ErrInvalidUTF8) {
			return err
		}
		if err == ErrCloseSent {
			// A handshake is already under way (another Close, an echo, a
			// failure): let it finish, bounded.
			c.waitDone(c.o.closeTimeout)
			return err
		}
		c.closeNow()
		return err
	}
	if c.readMu.TryLock() {
		_ = c.nc.SetReadDeadline(time.Now().Add(c.o.closeTimeout))
		for {
			if _, err := c.nextMessage(); err != nil {
				break
			}
		}
		rerr := c.readErr
		c.endRead()
		if c.lingering.Load() {
			// The peer's close came, or its answer failed the connection:
			// the transport closes once the peer closed it too (or the
			// close timeout passes).
			c.waitDone(c.o.closeTimeout)
		}
		if c.closeRecv.Load() {
			return nil
		}
		c.closeNow()
		if isTimeout(rerr) {
			return ErrCloseTimeout
		}
		return rerr
	}
	timedOut := !c.waitDone(c.o.closeTimeout + c.o.closeTimeout/2)
	if c.closeRecv.Load() {
		return nil
	}
	if timedOut {
		return ErrCloseTimeout
	}
	return ErrClosed
}

// waitDone waits up to d for the transport to close, then closes it; it
// reports whether it closed in time.
func (c *Conn) waitDone(d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-c.doneChan():
		return true
	case <-t.C:
		c.closeNow()
		return false
	}
}

// isTimeout reports whether err is a timeout (a net.Error saying so).
func isTimeout(err error) bool {
	var ne interface{ Timeout() bool }
	return errors.As(err, &ne) && ne.Timeout()
}

// CloseNow closes the connection at once, without a close handshake.
func (c *Conn) CloseNow() error {
	c.closeNow()
	return nil
}
