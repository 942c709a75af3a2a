// This file owns the read path: buffering input, frame headers, the
// sequencing of fragmented messages, UTF-8 and the read limit, control
// frames handled on read, and the message readers' plumbing. Its state is
// owned by the goroutine holding readMu.

package websocket

import (
	"context"
	"errors"
	"io"
	"net"

	"github.com/rfc6455/websocket/frame"
	"github.com/rfc6455/websocket/internal/deflate"
)

// readPayload reads up to len(p) bytes of the current frame's payload into
// p, unmasked. It returns after one read from the network at most.
func (c *Conn) readPayload(p []byte) (int, error) {
	if int64(len(p)) > c.remain {
		p = p[:c.remain]
	}
	if len(p) == 0 {
		return 0, nil
	}
	var n int
	if buffered := c.rw - c.rr; buffered > 0 {
		n = copy(p, c.rbuf[c.rr:c.rw])
		c.rr += n
	} else if len(p) >= 512 {
		var err error
		c.beforeBlock()
		n, err = c.nc.Read(p)
		if n > 0 {
			c.markRead()
		}
		if err != nil && n == 0 {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return 0, err
		}
	} else {
		if err := c.fill(1); err != nil {
			if errors.Is(err, io.EOF) {
				err = io.ErrUnexpectedEOF
			}
			return 0, err
		}
		n = copy(p, c.rbuf[c.rr:c.rw])
		c.rr += n
	}
	if c.hdr.Masked {
		c.maskPos = frame.Mask(c.hdr.Key, c.maskPos, p[:n])
	}
	c.remain -= int64(n)
	return n, nil
}

// readHeader reads the next frame header, handling control frames, and
// returns when a data frame's header is read. It enforces the sequencing
// rules of fragmented messages and the read limit.
func (c *Conn) nextDataFrame() error {
	for {
		if c.rr == c.rw {
			c.releaseBuf()
		}
		if err := c.fill(2); err != nil {
			return c.readFailed(err)
		}
		if done, err := c.frameStep(); done || err != nil {
			return err
		}
	}
}

// frameStep parses and checks the buffered frame header; a control frame
// is handled (done false: read on), a data frame starts or continues the
// message (done true). Kept out of nextDataFrame so that the frame a
// parked reader holds on its stack stays small.
//
//go:noinline
func (c *Conn) frameStep() (done bool, err error) {
	h, n, err := frame.ParseHeader(c.rbuf[c.rr:c.rw])
	if err == frame.ErrShortHeader {
		if err = c.fill(n); err != nil {
			return false, c.readFailed(err)
		}
		h, n, err = frame.ParseHeader(c.rbuf[c.rr:c.rw])
	}
	if err != nil {
		return false, c.fail(CloseProtocolError, ErrProtocol, err)
	}
	allowed := uint8(0)
	if c.negotiated != nil {
		allowed = frame.Rsv1
	}
	if err := h.Validate(c.recvRole, allowed); err != nil {
		return false, c.fail(CloseProtocolError, ErrProtocol, err)
	}
	c.rr += n
	c.hdr = h
	c.remain = h.Length
	c.maskPos = 0
	if h.Opcode.IsControl() {
		if h.Rsv != 0 {
			return false, c.fail(CloseProtocolError, ErrProtocol, errRsvControl)
		}
		return false, c.handleControl()
	}
	if h.Opcode == frame.OpContinuation {
		if !c.inMsg {
			return false, c.fail(CloseProtocolError, ErrProtocol, errUnexpectedContinuation)
		}
		if h.Rsv != 0 {
			return false, c.fail(CloseProtocolError, ErrProtocol, errRsvContinuation)
		}
	} else {
		if c.inMsg {
			return false, c.fail(CloseProtocolError, ErrProtocol, errExpectedContinuation)
		}
		c.inMsg = true
		c.msgText = h.Opcode == frame.OpText
		c.msgComp = h.Rsv&frame.Rsv1 != 0
		c.msgRead, c.msgRaw = 0, 0
		c.msgDone = false
		c.utf8.Reset()
	}
	if c.readLimit > 0 {
		if c.msgComp {
			// Compressed data is judged by what it inflates to; its raw
			// size is bounded too, with room for deflate's worst-case
			// expansion, so empty blocks cannot stream forever.
			c.msgRaw += h.Length
			if c.msgRaw > c.readLimit+c.readLimit/4+1024 {
				return false, c.fail(CloseMessageTooBig, ErrMessageTooBig, nil)
			}
		} else if c.msgRead+h.Length > c.readLimit {
			return false, c.fail(CloseMessageTooBig, ErrMessageTooBig, nil)
		}
	}
	if !c.msgComp {
		c.msgRead += h.Length
	}
	return true, nil
}

var (
	errRsvControl             = errors.New("reserved bit set on a control frame")
	errRsvContinuation        = errors.New("RSV1 set on a continuation frame")
	errUnexpectedContinuation = errors.New("continuation frame outside a fragmented message")
	errExpectedContinuation   = errors.New("new data frame inside a fragmented message")
	errTrailingData           = errors.New("data after the end of a compressed message")
)

// handleControl reads the current control frame's payload and acts on it.
func (c *Conn) handleControl() error {
	n := int(c.hdr.Length)
	if err := c.fill(n); err != nil {
		return c.readFailed(err)
	}
	// The payload is used in place: the buffer is not refilled before
	// this frame is handled.
	p := c.rbuf[c.rr : c.rr+n]
	c.rr += n
	c.remain = 0
	if c.hdr.Masked {
		frame.Mask(c.hdr.Key, 0, p)
	}
	switch c.hdr.Opcode {
	case frame.OpPing:
		if err := c.writeControl(frame.OpPong, p); err != nil && err != ErrCloseSent {
			return c.readFailed(err)
		}
		if c.hnd != nil && c.hnd.ping != nil {
			c.hnd.ping(p)
		}
	case frame.OpPong:
		if c.hnd != nil && c.hnd.pong != nil {
			c.hnd.pong(p)
		}
	case frame.OpClose:
		code, reason, err := frame.ParseClose(p)
		if err != nil {
			if errors.Is(err, frame.ErrInvalidUTF8) {
				return c.fail(CloseInvalidFramePayloadData, ErrInvalidUTF8, err)
			}
			return c.fail(CloseProtocolError, ErrProtocol, err)
		}
		c.peerClose = &CloseError{Code: code, Reason: string(reason)}
		c.closeRecv.Store(true)
		// Echo the code (RFC 6455 5.5.1); an empty close (1005) is echoed
		// empty, which AppendClose does for CloseNoStatusReceived.
		_ = c.writeClose(code, "")
		ce := *c.peerClose
		c.readErr = &ce
		c.finishClose()
		if c.hnd != nil && c.hnd.close != nil {
			h := c.hnd.close
			if err := h(int(code), ce.Reason); err != nil {
				c.readErr = err
			}
		}
		return c.readErr
	}
	return nil
}

// readFailed records a transport error (EOF, timeout, reset) as the sticky
// read error.
func (c *Conn) readFailed(err error) error {
	if c.readErr != nil {
		return c.readErr
	}
	if c.closeRecv.Load() {
		ce := *c.peerClose
		c.readErr = &ce
		return c.readErr
	}
	switch {
	case c.failCause() != nil:
		err = c.failCause() // failed locally (keepalive, a write bound)
	case errors.Is(err, net.ErrClosed):
		err = ErrClosed
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		// The peer closed TCP without a close frame: never a clean end,
		// and never to be mistaken for the end of a message. As in
		// gorilla/websocket it reads as close code 1006, and it still
		// matches io.ErrUnexpectedEOF.
		err = &CloseError{Code: CloseAbnormalClosure, Err: io.ErrUnexpectedEOF}
	}
	c.readErr = err
	var ne net.Error
	if !(errors.As(err, &ne) && ne.Timeout()) {
		c.closeNow()
	}
	return err
}

// beginRead takes the read side for one call.
func (c *Conn) beginRead() error {
	if !c.readMu.TryLock() {
		return ErrConcurrentRead
	}
	return nil
}

// endRead gives the read side back. Once reading has ended for good, the
// decompressor goes back to its pool: no Read is in progress here, and
// later reads return the sticky error before touching it.
func (c *Conn) endRead() {
	if c.readErr != nil && c.dec != nil {
		c.dec.Release()
		c.dec = nil
	}
	c.readMu.Unlock()
}

// NextReader returns the next data message's type and a reader over its
// payload. The reader is valid until the next call to NextReader or
// ReadMessage; an unread rest of the previous message is discarded first
// (still validated and inflated). Errors: a *CloseError once the peer
// closed; errors matching ErrProtocol, ErrInvalidUTF8 or ErrMessageTooBig
// after this end failed the connection; ErrConcurrentRead; transport errors.
func (c *Conn) NextReader() (MessageType, io.Reader, error) {
	if err := c.beginRead(); err != nil {
		return 0, nil, err
	}
	defer c.endRead()
	if err := c.awaitInput(); err != nil {
		return 0, nil, err
	}
	mt, err := c.nextMessage()
	if err != nil {
		return 0, nil, err
	}
	return mt, (*messageReader)(c), nil
}

// awaitInput waits for input when none is buffered between messages, so
// that an idle connection parks here, called by ReadMessage or NextReader
// directly, rather than two calls deeper in nextMessage: the parked
// goroutine's stack is what every garbage collection walks, once per
// idle connection, and what must fit in 2 KiB with the caller's frames.
// Errors are the transport's, as nextMessage reports them.
func (c *Conn) awaitInput() error {
	if c.rr != c.rw || c.inMsg || c.readErr != nil {
		return nil
	}
	c.releaseBuf()
	if err := c.fill(1); err != nil {
		return c.readFailed(err)
	}
	return nil
}

func (c *Conn) nextMessage() (MessageType, error) {
	if c.readErr != nil {
		return 0, c.readErr
	}
	if c.inMsg {
		if err := c.discardMessage(); err != nil {
			return 0, err
		}
	}
	if err := c.nextDataFrame(); err != nil {
		return 0, err
	}
	if c.msgComp {
		if c.dec == nil {
			d := c.negotiated
			peerBits, peerNoCtx := d.ClientMaxWindowBits, d.ClientNoContextTakeover
			if c.role == RoleClient {
				peerBits, peerNoCtx = d.ServerMaxWindowBits, d.ServerNoContextTakeover
			}
			c.dec = deflate.NewDecoder(peerBits, !peerNoCtx)
		}
		c.dec.Reset((*rawReader)(c))
	}
	if c.hdr.Opcode == frame.OpText {
		return TextMessage, nil
	}
	return BinaryMessage, nil
}

func (c *Conn) discardMessage() error {
	var scratch [512]byte
	for {
		_, err := c.readMessageData(scratch[:])
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return err
		}
	}
}

// readRaw reads the raw (possibly compressed) payload of the current
// message across its frames; io.EOF at the end of the message.
func (c *Conn) readRaw(p []byte) (int, error) {
	for c.remain == 0 {
		if c.hdr.Fin {
			c.msgDone = true
			return 0, io.EOF
		}
		if err := c.nextDataFrame(); err != nil {
			return 0, err
		}
	}
	n, err := c.readPayload(p)
	if err != nil {
		return n, c.readFailed(err)
	}
	return n, nil
}

// readMessageData reads the current message's (inflated) payload, with
// UTF-8 and limit checks; io.EOF at its end, after which the message is
// finished.
func (c *Conn) readMessageData(p []byte) (int, error) {
	if c.readErr != nil {
		return 0, c.readErr
	}
	if !c.inMsg {
		return 0, io.EOF
	}
	var n int
	var err error
	if c.msgComp {
		n, err = c.dec.Read(p)
		if n > 0 {
			c.msgRead += int64(n)
			if c.readLimit > 0 && c.msgRead > c.readLimit {
				return 0, c.fail(CloseMessageTooBig, ErrMessageTooBig, nil)
			}
		}
		if err != nil && err != io.EOF {
			if c.readErr != nil {
				return 0, c.readErr
			}
			if errors.Is(err, deflate.ErrCorrupt) {
				return 0, c.fail(CloseInvalidFramePayloadData, ErrProtocol, err)
			}
			return 0, c.readFailed(err)
		}
		if err == io.EOF && !c.msgDone {
			return 0, c.fail(CloseProtocolError, ErrProtocol, errTrailingData)
		}
	} else {
		for n == 0 && err == nil {
			n, err = c.readRaw(p)
			if len(p) == 0 {
				break
			}
		}
		if err != nil && err != io.EOF {
			return 0, err
		}
	}
	if c.msgText && n > 0 && !c.utf8.Write(p[:n]) {
		return 0, c.fail(CloseInvalidFramePayloadData, ErrInvalidUTF8, nil)
	}
	if err == io.EOF {
		if c.msgText && !c.utf8.Done() {
			return 0, c.fail(CloseInvalidFramePayloadData, ErrInvalidUTF8, nil)
		}
		c.inMsg = false
		c.moreInput.Store(c.rw > c.rr)
		return n, io.EOF
	}
	return n, nil
}

// ReadMessage reads the next data message whole. The returned slice is the
// caller's to keep. See NextReader for the errors.
func (c *Conn) ReadMessage() (MessageType, []byte, error) {
	// Kept small and without defer: an idle connection parks below it
	// (awaitInput), and every byte of its frame counts against the 2 KiB
	// stack an idle connection's goroutine keeps (internal/idlemem).
	if !c.readMu.TryLock() {
		return 0, nil, ErrConcurrentRead
	}
	err := c.awaitInput()
	var mt MessageType
	if err == nil {
		mt, err = c.nextMessage()
	}
	var p []byte
	if err == nil {
		p, err = c.readWhole()
	}
	c.endRead()
	if err != nil {
		return 0, nil, err
	}
	return mt, p, nil
}

// wholeMin is the most readWhole allocates ahead of the payload that has
// arrived: a peer that declares a large frame and sends nothing pins at
// most this much.
const wholeMin = 16 << 10

// readWhole reads the rest of the current message into a new slice. The
// slice grows only once it is full of payload that arrived (fourfold, and
// for an uncompressed frame never past its declared length), so what a
// peer makes us hold is bounded by four times what it sent plus wholeMin,
// never by a length it merely declared.
//
//go:noinline
func (c *Conn) readWhole() ([]byte, error) {
	size := 512
	if !c.msgComp {
		// What is already here (at least wholeMin), and no more than
		// this frame declares.
		size = int(min(c.remain, int64(max(wholeMin, c.rw-c.rr))))
	}
	buf := make([]byte, 0, size)
	for {
		if len(buf) == cap(buf) {
			if !c.msgComp && c.remain > 0 {
				// More of this frame has come: grow towards it, fourfold.
				grown := make([]byte, len(buf), len(buf)+int(min(c.remain, int64(max(3*len(buf), wholeMin)))))
				copy(grown, buf)
				buf = grown
				continue
			}
			// Full: look for the end before growing (a compressed message,
			// or the next frame of a fragmented one, only shows whether it
			// ends once asked for a byte).
			one := c.probe[:]
			n, err := c.readMessageData(one)
			if err == io.EOF && n == 0 {
				return buf, nil
			}
			if err != nil && err != io.EOF {
				return nil, err
			}
			buf = append(buf, one[:n]...)
			if err == io.EOF {
				return buf, nil
			}
			continue
		}
		n, err := c.readMessageData(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if err == io.EOF {
			return buf, nil
		}
		if err != nil {
			return nil, err
		}
	}
}

// Read reads the next data message whole, like ReadMessage, bounded by ctx:
// if ctx ends first the connection is closed (a frame may be half read)
// and ctx.Err() is returned.
func (c *Conn) Read(ctx context.Context) (MessageType, []byte, error) {
	stop := c.watch(ctx)
	mt, p, err := c.ReadMessage()
	if stop() && ctx.Err() != nil {
		return 0, nil, ctx.Err()
	}
	return mt, p, err
}

// watch closes the connection when ctx ends; the returned func stops the
// watch and reports whether ctx ended it.
func (c *Conn) watch(ctx context.Context) func() bool {
	if ctx.Done() == nil {
		return func() bool { return false }
	}
	stop := context.AfterFunc(ctx, c.closeNow)
	return func() bool { return !stop() }
}
