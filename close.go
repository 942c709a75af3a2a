// This file owns the close handshake: failing a connection with a close
// code, Close, lingering for the peer's close, and the final teardown.

package websocket

import (
	"errors"
	"time"

	"github.com/rfc6455/websocket/frame"
)

// fail fails the connection (RFC 6455 7.1.7): it sends a close frame with
// code, closes the connection (a client waits, bounded, for the server to
// close first), and returns the sticky error.
func (c *Conn) fail(code StatusCode, kind, cause error) error {
	if c.readErr != nil {
		return c.readErr
	}
	f := &failure{kind: kind, cause: cause, close: CloseError{Code: code}}
	c.readErr = f
	if c.o.logger != nil {
		c.o.logger.Debug("websocket: failing connection", "code", uint16(code), "err", f)
	}
	_ = c.nc.SetWriteDeadline(time.Now().Add(c.o.closeTimeout))
	_ = c.writeClose(code, "")
	c.finishClose()
	return f
}

// finishClose ends the TCP connection once the close handshake is done or
// the connection failed (see lingerClose).
func (c *Conn) finishClose() {
	c.lingerClose()
}

// lingerClose ends the connection gracefully: a server half-closes (its
// FIN goes out first, RFC 6455 7.1.1); both then drain input until the peer
// closes or the close timeout passes, so that unread input does not turn
// the close into a reset that could destroy our close frame; then close.
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

// closeNow closes the TCP connection and releases resources.
func (c *Conn) closeNow() {
	c.closeOnce.Do(func() {
		_ = c.nc.Close()
		close(c.done)
		// Give the compressor back unless a message writer holds it (it
		// then goes to the garbage collector).
		if c.msgMu.TryLock() {
			if c.enc != nil {
				c.enc.Release()
				c.enc = nil
			}
			c.encReleased = true
			c.msgMu.Unlock()
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
// It returns nil when the handshake completed, else why it did not. Safe
// for concurrent use; later calls return ErrCloseSent or ErrClosed.
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
			t := time.NewTimer(c.o.closeTimeout)
			defer t.Stop()
			select {
			case <-c.done:
			case <-t.C:
				c.closeNow()
			}
			return err
		}
		c.closeNow()
		return err
	}
	if c.readMu.TryLock() {
		defer c.endRead()
		_ = c.nc.SetReadDeadline(time.Now().Add(c.o.closeTimeout))
		for {
			if _, err := c.nextMessage(); err != nil {
				break
			}
		}
		c.closeNow()
		if c.closeRecv.Load() {
			return nil
		}
		return c.readErr
	}
	t := time.NewTimer(c.o.closeTimeout + c.o.closeTimeout/2)
	defer t.Stop()
	select {
	case <-c.done:
	case <-t.C:
		c.closeNow()
	}
	if c.closeRecv.Load() {
		return nil
	}
	return ErrClosed
}

// CloseNow closes the connection at once, without a close handshake.
func (c *Conn) CloseNow() error {
	c.closeNow()
	return nil
}
