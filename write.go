// This file owns the write path: the message slot (msgMu), the frame lock
// (wmu), write coalescing, vectored writes and control frames.

package websocket

import (
	"context"
	"errors"
	"math/rand/v2"
	"net"
	"sync"
	"time"

	"github.com/rfc6455/websocket/frame"
)

var writeBufPool sync.Pool

func getWriteBuf(size int) *[]byte {
	if v := writeBufPool.Get(); v != nil {
		bp := v.(*[]byte)
		if cap(*bp) >= size {
			return bp
		}
		writeBufPool.Put(bp)
	}
	b := make([]byte, 0, max(size, 4096))
	return &b
}

func putWriteBuf(bp *[]byte) {
	if cap(*bp) <= 256<<10 {
		*bp = (*bp)[:0]
		writeBufPool.Put(bp)
	}
}

// maxCopy is the largest payload copied next to its header for one write;
// larger server payloads go out with a vectored write, uncopied.
const maxCopy = 2048

// writeFrame writes one frame. It holds wmu for the frame only.
func (c *Conn) writeFrame(fin bool, rsv uint8, op frame.Opcode, p []byte) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.writable(); err != nil {
		return err
	}
	if op == frame.OpClose {
		c.closeSent = true
	}
	return c.writeFailed(c.writeFrameLocked(fin, rsv, op, p))
}

// writable reports why nothing more may be written, if so (wmu held).
func (c *Conn) writable() error {
	if c.werr != nil {
		return c.werr
	}
	if c.closeSent {
		return ErrCloseSent
	}
	return nil
}

// writeFailed records a write error as the sticky one and returns it (wmu
// held); nil passes through.
func (c *Conn) writeFailed(err error) error {
	if err == nil {
		return nil
	}
	if errors.Is(err, net.ErrClosed) {
		err = ErrClosed
	}
	c.werr = err
	return err
}

func (c *Conn) writeFrameLocked(fin bool, rsv uint8, op frame.Opcode, p []byte) error {
	h := frame.Header{Fin: fin, Rsv: rsv, Opcode: op, Length: int64(len(p))}
	if c.role == RoleClient {
		h.Masked = true
		k := rand.Uint32()
		h.Key = [4]byte{byte(k), byte(k >> 8), byte(k >> 16), byte(k >> 24)}
	}
	if len(p) <= maxCopy {
		if c.pend == nil {
			c.pend = getWriteBuf(frame.MaxHeaderSize + len(p))
		}
		buf := frame.AppendHeader(*c.pend, h)
		start := len(buf)
		buf = append(buf, p...)
		if h.Masked {
			frame.Mask(h.Key, 0, buf[start:])
		}
		*c.pend = buf
		return c.sendPending(op != frame.OpClose)
	}
	if err := c.flushLocked(); err != nil {
		return err
	}
	if c.role == RoleServer {
		hdr := frame.AppendHeader(c.hdrBuf[:0], h)
		if c.writev {
			c.iov[0], c.iov[1] = hdr, p
			c.bufs = c.iov[:]
			_, err := c.bufs.WriteTo(c.nc)
			c.iov[0], c.iov[1] = nil, nil
			return err
		}
		if _, err := c.nc.Write(hdr); err != nil {
			return err
		}
		_, err := c.nc.Write(p)
		return err
	}
	// Copy header and payload (masked for a client) into one buffer, in
	// chunks of at most 64 KiB.
	const chunk = 64 << 10
	bp := getWriteBuf(frame.MaxHeaderSize + min(len(p), chunk))
	defer putWriteBuf(bp)
	buf := frame.AppendHeader((*bp)[:0], h)
	pos := 0
	for {
		n := min(len(p), chunk)
		start := len(buf)
		buf = append(buf, p[:n]...)
		if h.Masked {
			pos = frame.Mask(h.Key, pos, buf[start:])
		}
		if _, err := c.nc.Write(buf); err != nil {
			return err
		}
		p = p[n:]
		if len(p) == 0 {
			return nil
		}
		buf = buf[:0]
	}
}

// Write coalescing. While the reader has more input already buffered, the
// replies to it are likely to follow at once: small frames then wait in
// c.pend (at most pendMax bytes, at most flushDelay) and go out in one
// write when the reader is about to block, when the input runs dry, or
// when the timer fires.
const (
	pendMax    = 16 << 10
	flushDelay = 500 * time.Microsecond
)

// sendPending writes the pending frames, or leaves them for a moment when
// mayDefer and more input is already buffered (wmu held).
func (c *Conn) sendPending(mayDefer bool) error {
	if mayDefer && c.moreInput.Load() && len(*c.pend) < pendMax {
		if !c.pendFlag.Load() {
			c.pendFlag.Store(true)
			if c.flushTimer == nil {
				c.flushTimer = time.AfterFunc(flushDelay, c.flushPending)
			} else {
				c.flushTimer.Reset(flushDelay)
			}
		}
		return nil
	}
	return c.flushLocked()
}

// flushLocked writes the pending frames (wmu held).
func (c *Conn) flushLocked() error {
	if c.pend == nil {
		return nil
	}
	var err error
	if len(*c.pend) > 0 {
		_, err = c.nc.Write(*c.pend)
	}
	putWriteBuf(c.pend)
	c.pend = nil
	c.pendFlag.Store(false)
	return err
}

// flushPending writes the pending frames from outside the write path: the
// reader before it blocks, or the timer.
func (c *Conn) flushPending() {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if c.pend == nil || c.werr != nil {
		return
	}
	c.writeFailed(c.flushLocked())
}

// beforeBlock runs before every read from the network: no more input is
// buffered, so pending replies go out now. It never waits for the write
// lock: a writer holding it (perhaps blocked on a peer that reads only
// after it has written) sees moreInput false and flushes itself, and the
// timer bounds the rest; the reader must keep reading meanwhile.
func (c *Conn) beforeBlock() {
	c.moreInput.Store(false)
	if c.pendFlag.Load() && c.wmu.TryLock() {
		if c.pend != nil && c.werr == nil {
			c.writeFailed(c.flushLocked())
		}
		c.wmu.Unlock()
	}
}

// writeControl sends a control frame (ping, pong).
func (c *Conn) writeControl(op frame.Opcode, p []byte) error {
	return c.writeFrame(true, 0, op, p)
}

// WriteMessage sends p as one message of type mt (TextMessage or
// BinaryMessage; text must be UTF-8, which is the caller's duty and not
// checked). It is safe for concurrent use. With compression negotiated, p
// is compressed when it is at least the threshold long.
func (c *Conn) WriteMessage(mt MessageType, p []byte) error {
	op, err := dataOpcode(mt)
	if err != nil {
		return err
	}
	c.msgMu.Lock()
	defer c.msgMu.Unlock()
	if c.compressing(len(p)) {
		return c.writeCompressed(op, p)
	}
	return c.writeFrame(true, 0, op, p)
}

// Write sends p as one message, like WriteMessage, bounded by ctx: if ctx
// ends first the connection is closed and ctx.Err() is returned.
func (c *Conn) Write(ctx context.Context, mt MessageType, p []byte) error {
	stop := c.watch(ctx)
	err := c.WriteMessage(mt, p)
	if stop() && ctx.Err() != nil {
		return ctx.Err()
	}
	return err
}

func dataOpcode(mt MessageType) (frame.Opcode, error) {
	switch mt {
	case TextMessage:
		return frame.OpText, nil
	case BinaryMessage:
		return frame.OpBinary, nil
	}
	return 0, ErrBadMessageType
}

// WriteControl sends a ping, pong or close frame with payload data (at
// most 125 bytes), giving up at deadline (zero: no deadline of its own).
// For a close frame, data is a close payload (see FormatCloseMessage); use
// Close for the full close handshake.
func (c *Conn) WriteControl(mt MessageType, data []byte, deadline time.Time) error {
	if len(data) > frame.MaxControlPayload {
		return errors.New("websocket: control frame payload over 125 bytes")
	}
	var op frame.Opcode
	switch mt {
	case PingMessage:
		op = frame.OpPing
	case PongMessage:
		op = frame.OpPong
	case CloseMessage:
		op = frame.OpClose
		if _, _, err := frame.ParseClose(data); err != nil {
			return err
		}
	default:
		return ErrBadMessageType
	}
	if !deadline.IsZero() {
		_ = c.nc.SetWriteDeadline(deadline)
		defer c.nc.SetWriteDeadline(time.Time{})
	}
	return c.writeFrame(true, 0, op, data)
}

// Ping sends a ping with payload data (at most 125 bytes). The pong is
// seen by the reading goroutine (SetPongHandler).
func (c *Conn) Ping(data []byte) error {
	return c.WriteControl(PingMessage, data, time.Time{})
}
