// This file owns the write path: the message slot, the frame lock (wmu),
// framing, write coalescing, vectored writes and control frames. The
// bounds on every write (deadlines, the wait for wmu, failing the
// connection when one passes) are in writebound.go. Waiting for the
// message slot ends when the connection closes or the caller's context
// ends.

package websocket

import (
	"context"
	"errors"
	"math/rand/v2"
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

// writeFrame writes one data frame (bounded by WriteTimeout), or a
// control frame (bounded by controlBound). It holds wmu for the frame only.
func (c *Conn) writeFrame(fin bool, rsv uint8, op frame.Opcode, p []byte) error {
	bound := c.writeTimeout()
	if op.IsControl() {
		bound = c.controlBound()
	}
	return c.writeFrameWithin(fin, rsv, op, p, bound)
}

// writeFrameWithin writes one frame, waiting at most bound for the frame
// lock and giving the transport at most bound (<= 0: no bound of ours).
func (c *Conn) writeFrameWithin(fin bool, rsv uint8, op frame.Opcode, p []byte, bound time.Duration) error {
	c.lockFrame(bound)
	return c.writeFrameHeld(fin, rsv, op, p, bound)
}

// writeFrameHeld writes one frame with wmu held (it unlocks it).
func (c *Conn) writeFrameHeld(fin bool, rsv uint8, op frame.Opcode, p []byte, bound time.Duration) error {
	defer c.wmu.Unlock()
	if err := c.writable(); err != nil {
		return err
	}
	if op == frame.OpClose {
		c.closeSent = true
	}
	c.wbound, c.wctl = bound, op.IsControl()
	return c.writeFailed(c.writeFrameLocked(fin, rsv, op, p))
}

// writable reports why nothing more may be written, if so (wmu held).
func (c *Conn) writable() error {
	if c.closeSent {
		return ErrCloseSent
	}
	if c.isDone() {
		return c.closedErr()
	}
	return c.werr
}

// closedErr is what operations on a closed connection return: the cause
// of a local failure, or ErrClosed.
func (c *Conn) closedErr() error {
	if err := c.failCause(); err != nil {
		return err
	}
	return ErrClosed
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
		if op.IsControl() {
			c.pendCtl = true
		}
		return c.sendPending(op != frame.OpClose)
	}
	if err := c.flushLocked(); err != nil {
		return err
	}
	if c.role == RoleServer {
		// The header and the payload go out uncopied, in pieces of at most
		// maxPiece so that the write bound is per piece, not per frame.
		ws := c.writeScratch()
		hdr := frame.AppendHeader(ws.hdr[:0], h)
		n := min(len(p), maxPiece)
		var err error
		if c.writev {
			ws.iov[0], ws.iov[1] = hdr, p[:n]
			err = c.ncWritev(ws.iov[:])
			ws.iov[0], ws.iov[1] = nil, nil
		} else if err = c.ncWrite(hdr); err == nil {
			err = c.ncWrite(p[:n])
		}
		for p = p[n:]; err == nil && len(p) > 0; p = p[n:] {
			n = min(len(p), maxPiece)
			err = c.ncWrite(p[:n])
		}
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
		if err := c.ncWrite(buf); err != nil {
			return err
		}
		p = p[n:]
		if len(p) == 0 {
			return nil
		}
		buf = buf[:0]
	}
}

// maxPiece is the most one transport write of a large frame carries, so
// that WriteTimeout bounds the time per MiB, not per message.
const maxPiece = 1 << 20

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

// flushLocked writes the pending frames (wmu held), bounded by
// WriteTimeout, or by controlBound when they hold a control frame.
func (c *Conn) flushLocked() error {
	if c.pend == nil {
		return nil
	}
	var err error
	if len(*c.pend) > 0 {
		saved, savedCtl := c.wbound, c.wctl
		c.wbound, c.wctl = c.writeTimeout(), c.pendCtl
		if c.pendCtl {
			c.wbound = c.controlBound()
		}
		err = c.ncWrite(*c.pend)
		c.wbound, c.wctl = saved, savedCtl
	}
	putWriteBuf(c.pend)
	c.pend = nil
	c.pendCtl = false
	c.pendFlag.Store(false)
	return err
}

// flushPending writes the pending frames from the timer's own goroutine;
// a frame in flight that holds wmu is itself bounded.
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

// writeControl sends a control frame (ping, pong), bounded by
// controlBound.
func (c *Conn) writeControl(op frame.Opcode, p []byte) error {
	return c.writeFrameWithin(true, 0, op, p, c.controlBound())
}

// writePing sends keepalive's ping, giving the transport at most bound.
// It waits for the frame lock without a bound of its own: keepalive's next
// firing fails the connection if that wait outlasts PongTimeout, which
// frees the lock.
func (c *Conn) writePing(bound time.Duration) error {
	c.wmu.Lock()
	return c.writeFrameHeld(true, 0, frame.OpPing, nil, bound)
}

// acquireSlot takes the message slot: it waits while another data message
// is being written, until the connection closes or ctx (may be nil) ends.
// Uncontended it is one compare-and-swap; waiters sleep on a channel made
// at the first contention.
func (c *Conn) acquireSlot(ctx context.Context) error {
	if c.slotHeld.CompareAndSwap(false, true) {
		return nil
	}
	return c.acquireSlotSlow(ctx)
}

func (c *Conn) acquireSlotSlow(ctx context.Context) error {
	wake := c.slotWakeChan()
	c.slotWaiters.Add(1)
	defer c.slotWaiters.Add(-1)
	var ctxDone <-chan struct{}
	if ctx != nil {
		ctxDone = ctx.Done()
	}
	done := c.doneChan()
	for {
		// After counting ourselves as a waiter: a release that we miss
		// here sees the count and wakes us.
		if c.slotHeld.CompareAndSwap(false, true) {
			return nil
		}
		select {
		case <-wake:
		case <-done:
			return c.closedErr()
		case <-ctxDone:
			return ctx.Err()
		}
	}
}

// releaseSlot gives the message slot back, waking a waiter if any.
func (c *Conn) releaseSlot() {
	c.slotHeld.Store(false)
	if c.slotWaiters.Load() > 0 {
		select {
		case c.slotWakeChan() <- struct{}{}:
		default: // a wake-up is already pending
		}
	}
}

// slotWakeChan returns the channel slot waiters sleep on, made on first
// use.
func (c *Conn) slotWakeChan() chan struct{} { return lazyChan(&c.slotWake, 1) }

// WriteMessage sends p as one message of type mt (TextMessage or
// BinaryMessage; text must be UTF-8, which is the caller's duty and not
// checked). It is safe for concurrent use. With compression negotiated, p
// is compressed when it is at least the threshold long.
//
// As in gorilla/websocket, mt may also be PingMessage, PongMessage or
// CloseMessage: p (at most 125 bytes) is then sent as that control frame,
// exactly as WriteControl(mt, p, time.Time{}) does. For CloseMessage, p is
// empty or a close payload (FormatCloseMessage); once it is sent, data
// writes return ErrCloseSent, the peer's answer ends reads with a
// *CloseError, and if that answer does not come within CloseTimeout the
// connection is closed (reads then return ErrCloseTimeout). Close does
// the whole handshake in one call.
func (c *Conn) WriteMessage(mt MessageType, p []byte) error {
	op, err := dataOpcode(mt)
	if err != nil {
		if mt == PingMessage || mt == PongMessage || mt == CloseMessage {
			return c.WriteControl(mt, p, time.Time{})
		}
		return err
	}
	if err := c.acquireSlot(nil); err != nil {
		return err
	}
	defer c.releaseSlot()
	return c.writeMessageHeld(op, p)
}

// writeMessageHeld writes one data message (the slot held).
func (c *Conn) writeMessageHeld(op frame.Opcode, p []byte) error {
	if c.compressing(len(p)) {
		return c.writeCompressed(op, p)
	}
	return c.writeFrame(true, 0, op, p)
}

// Write sends p as one message, like WriteMessage, bounded by ctx: if ctx
// ends while it waits for another message to finish, it returns ctx.Err()
// and the connection is untouched; if ctx ends while its own message is
// being written, the connection is closed (the frame may be half written)
// and ctx.Err() is returned.
func (c *Conn) Write(ctx context.Context, mt MessageType, p []byte) error {
	op, err := dataOpcode(mt)
	if err != nil {
		return err
	}
	if err := ctx.Err(); err != nil {
		return err
	}
	if err := c.acquireSlot(ctx); err != nil {
		return err
	}
	defer c.releaseSlot()
	stop := c.watch(ctx)
	err = c.writeMessageHeld(op, p)
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
// For a close frame, data is empty or a close payload (see
// FormatCloseMessage); after it, data writes return ErrCloseSent, and the
// connection is closed if the peer's close frame has not come within
// CloseTimeout (reads then return ErrCloseTimeout). Use Close for the full
// close handshake in one call.
func (c *Conn) WriteControl(mt MessageType, data []byte, deadline time.Time) error {
	if len(data) > frame.MaxControlPayload {
		return errors.New("websocket: control frame payload over 125 bytes")
	}
	if err := c.controlAllowed(mt); err != nil {
		return err
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
	bound := c.controlBound()
	if !deadline.IsZero() {
		if d := time.Until(deadline); d < bound {
			bound = max(d, time.Millisecond)
		}
	}
	err := c.writeFrameWithin(true, 0, op, data, bound)
	if err == nil && op == frame.OpClose {
		c.boundCloseWait()
	}
	return err
}

// Ping sends a ping with payload data (at most 125 bytes). The pong is
// seen by the reading goroutine (SetPongHandler). Under js/wasm (Dial
// through the browser) pings and pongs return ErrNotSupportedInBrowser.
func (c *Conn) Ping(data []byte) error {
	return c.WriteControl(PingMessage, data, time.Time{})
}
