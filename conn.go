package websocket

import (
	"context"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/rfc6455/websocket/frame"
	"github.com/rfc6455/websocket/handshake"
	"github.com/rfc6455/websocket/internal/deflate"
)

// Conn is a WebSocket connection, from Upgrade, Accept, Dial or NewConn.
//
// Concurrency: every write method (WriteMessage, Write, NextWriter,
// WriteControl, Ping, Close, CloseNow) is safe for concurrent use; data
// messages never interleave (a NextWriter holds the message slot until its
// Close) while control frames may go out between the fragments of a long
// message. Reads are for one goroutine at a time: a read that starts while
// another is in progress returns ErrConcurrentRead and changes nothing.
//
// Control frames are handled inside the read path: a ping is answered with
// a pong, a close frame is answered with a close frame and ends the
// connection. So some goroutine must keep reading for those to happen.
type Conn struct {
	nc          net.Conn
	role        Role
	recvRole    frame.Role
	o           resolved
	subprotocol string
	negotiated  *handshake.Deflate // nil: no compression
	writev      bool               // nc supports vectored writes

	// Read side, owned by the goroutine holding readMu.
	readMu    sync.Mutex
	rbuf      []byte          // a pooled buffer, or nil while idle
	rawc      syscall.RawConn // set for TCP/Unix: wait for input without a buffer
	rawFn     func(fd uintptr) bool
	rawErr    error
	pooledBuf *[]byte
	rr, rw    int
	hdr       frame.Header
	remain    int64 // unread payload bytes of the current frame
	maskPos   int
	inMsg     bool // a data message is being read
	msgText   bool
	msgComp   bool
	msgRead   int64 // payload bytes of the message so far (inflated when compressed)
	msgRaw    int64 // raw payload bytes of a compressed message so far
	msgDone   bool  // the final frame's payload has been read
	readLimit int64
	utf8      frame.UTF8
	readErr   error
	dec       *deflate.Decoder
	raw       rawReader
	probe     [1]byte // ReadMessage's end-of-message probe
	reader    messageReader

	pingHandler func(data []byte)
	pongHandler func(data []byte)

	// Write side.
	msgMu       sync.Mutex // held for a whole data message
	wmu         sync.Mutex // held for one frame
	closeSent   bool       // wmu
	werr        error      // wmu
	hdrBuf      [frame.MaxHeaderSize]byte
	pend        *[]byte     // wmu: frames waiting to be written together
	pendFlag    atomic.Bool // pend holds frames
	moreInput   atomic.Bool // the reader has input buffered beyond the last message
	flushTimer  *time.Timer // wmu
	batch       [][]byte    // wmu: WritePreparedMessages' vector
	iov         [2][]byte
	bufs        net.Buffers
	enc         *deflate.Encoder // msgMu
	encReleased bool             // msgMu: closed, enc given back
	writer      messageWriter    // msgMu
	writerGen   atomic.Uint64
	noCompress  atomic.Bool

	// Close state.
	closeRecv atomic.Bool
	peerClose CloseError // set before closeRecv
	done      chan struct{}
	closeOnce sync.Once

	// Keepalive.
	activity atomic.Uint32
	ka       *time.Timer
	kaPinged bool
	kaSeen   uint32
	kaMu     sync.Mutex

	// Plumego compatibility (plumego.go): SetMetadata's map, made on
	// first use, so a connection without metadata pays one pointer.
	meta atomic.Pointer[sync.Map]
}

// NewConn makes a Conn over nc, whose opening handshake was done
// elsewhere (no subprotocol, no compression). It suits in-memory pipes and
// custom transports. opts may be nil.
func NewConn(nc net.Conn, role Role, opts *Options) *Conn {
	return newConn(nc, role, opts.resolve(), "", nil, nil)
}

func newConn(nc net.Conn, role Role, o resolved, subprotocol string, negotiated *handshake.Deflate, pending []byte) *Conn {
	c := &Conn{
		nc:          nc,
		role:        role,
		o:           o,
		subprotocol: subprotocol,
		negotiated:  negotiated,
		readLimit:   o.readLimit,
		done:        make(chan struct{}),
	}
	if negotiated != nil && o.compression == nil {
		c.o.compression = &CompressionOptions{}
	}
	c.recvRole = frame.RoleServer
	if role == RoleClient {
		c.recvRole = frame.RoleClient
	}
	switch nc.(type) {
	case *net.TCPConn, *net.UnixConn:
		c.writev = true
		if rc, err := nc.(syscall.Conn).SyscallConn(); err == nil {
			c.rawc, c.rawFn = rc, c.rawRead
		}
	}
	if len(pending) > 0 {
		c.takeBuf(len(pending))
		c.rw = copy(c.rbuf, pending)
	}
	c.reader.c = c
	c.raw.c = c
	c.writer.c = c
	if o.pingInterval > 0 {
		c.kaMu.Lock()
		c.ka = time.AfterFunc(o.pingInterval, c.keepalive)
		c.kaMu.Unlock()
	}
	return c
}

// Subprotocol returns the negotiated subprotocol, or "".
func (c *Conn) Subprotocol() string { return c.subprotocol }

// Compressed reports whether permessage-deflate was negotiated.
func (c *Conn) Compressed() bool { return c.negotiated != nil }

// LocalAddr returns the local network address.
func (c *Conn) LocalAddr() net.Addr { return c.nc.LocalAddr() }

// RemoteAddr returns the remote network address.
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// NetConn returns the underlying connection. Reading or writing it
// directly corrupts the WebSocket stream.
func (c *Conn) NetConn() net.Conn { return c.nc }

// SetReadLimit sets the largest message a read accepts (see
// Options.ReadLimit); n <= 0 means no limit. Call it between messages from
// the reading goroutine.
func (c *Conn) SetReadLimit(n int64) {
	if n <= 0 {
		n = -1
	}
	c.readLimit = n
}

// SetReadDeadline sets the deadline for reads on the underlying connection.
// A read that times out leaves the connection unusable for reading (a frame
// may be half read): close it.
func (c *Conn) SetReadDeadline(t time.Time) error { return c.nc.SetReadDeadline(t) }

// SetWriteDeadline sets the deadline for writes. A write that times out
// fails the connection for writing: later writes return the same error.
func (c *Conn) SetWriteDeadline(t time.Time) error { return c.nc.SetWriteDeadline(t) }

// SetPingHandler sets a function called (from the reading goroutine) with
// the payload of each ping received, after the pong was sent. The slice is
// only valid during the call. Set it before reading starts.
func (c *Conn) SetPingHandler(h func(data []byte)) { c.pingHandler = h }

// SetPongHandler sets a function called (from the reading goroutine) with
// the payload of each pong received. The slice is only valid during the
// call. Set it before reading starts.
func (c *Conn) SetPongHandler(h func(data []byte)) { c.pongHandler = h }

// Done returns a channel closed once the underlying connection is closed.
func (c *Conn) Done() <-chan struct{} { return c.done }

// ---- reading ----

var readBufPool sync.Pool

// takeBuf gives the connection a pooled read buffer of at least min bytes,
// keeping what is buffered.
func (c *Conn) takeBuf(min int) {
	size := max(c.o.readBufSize, min)
	var bp *[]byte
	if v := readBufPool.Get(); v != nil {
		bp = v.(*[]byte)
		if cap(*bp) < size {
			bp = nil
		}
	}
	if bp == nil {
		b := make([]byte, size)
		bp = &b
	}
	buf := (*bp)[:cap(*bp)]
	n := copy(buf, c.rbuf[c.rr:c.rw])
	c.rbuf, c.pooledBuf = buf, bp
	c.rr, c.rw = 0, n
}

// releaseBuf returns an empty read buffer to the pool. Only connections
// that can wait for input without a buffer (rawc) let theirs go.
func (c *Conn) releaseBuf() {
	if c.pooledBuf == nil || c.rr != c.rw || c.rawc == nil {
		return
	}
	if cap(*c.pooledBuf) <= 1<<20 {
		readBufPool.Put(c.pooledBuf)
	}
	c.pooledBuf, c.rbuf = nil, nil
	c.rr, c.rw = 0, 0
}

// fill reads until at least need bytes are buffered.
func (c *Conn) fill(need int) error {
	for c.rw-c.rr < need {
		if c.rr == c.rw {
			c.rr, c.rw = 0, 0
		}
		var n int
		var err error
		if c.pooledBuf == nil && c.rawc != nil {
			// Idle: wait for input holding no buffer.
			c.beforeBlock()
			c.rawErr = nil
			if err = c.rawc.Read(c.rawFn); err == nil {
				err = c.rawErr
			}
		} else {
			if c.pooledBuf == nil || need > len(c.rbuf) {
				c.takeBuf(need)
			} else if need > len(c.rbuf)-c.rr {
				c.rw = copy(c.rbuf, c.rbuf[c.rr:c.rw])
				c.rr = 0
			}
			c.beforeBlock()
			n, err = c.nc.Read(c.rbuf[c.rw:])
			c.rw += n
			if n > 0 {
				c.activity.Add(1)
			}
		}
		if err != nil {
			if c.rw-c.rr >= need {
				return nil
			}
			if errors.Is(err, io.EOF) && c.rw > c.rr {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
	}
	return nil
}

// rawRead runs inside rawc.Read: it reads what the socket has into a
// pooled buffer, or gives the buffer back and asks to wait (EAGAIN).
func (c *Conn) rawRead(fd uintptr) bool {
	if c.pooledBuf == nil {
		c.takeBuf(0)
	}
	for {
		n, err := syscall.Read(int(fd), c.rbuf[c.rw:])
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			c.releaseBuf()
			return false
		case err != nil:
			c.rawErr = os.NewSyscallError("read", err)
		case n == 0:
			c.rawErr = io.EOF
		default:
			c.rw += n
			c.activity.Add(1)
		}
		return true
	}
}

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
			c.activity.Add(1)
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
		if c.pingHandler != nil {
			c.pingHandler(p)
		}
	case frame.OpPong:
		if c.pongHandler != nil {
			c.pongHandler(p)
		}
	case frame.OpClose:
		code, reason, err := frame.ParseClose(p)
		if err != nil {
			if errors.Is(err, frame.ErrInvalidUTF8) {
				return c.fail(CloseInvalidFramePayloadData, ErrInvalidUTF8, err)
			}
			return c.fail(CloseProtocolError, ErrProtocol, err)
		}
		c.peerClose = CloseError{Code: code, Reason: string(reason)}
		c.closeRecv.Store(true)
		// Echo the code (RFC 6455 5.5.1); an empty close (1005) is echoed
		// empty, which AppendClose does for CloseNoStatusReceived.
		_ = c.writeClose(code, "")
		ce := c.peerClose
		c.readErr = &ce
		c.finishClose()
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
		ce := c.peerClose
		c.readErr = &ce
		return c.readErr
	}
	switch {
	case errors.Is(err, net.ErrClosed):
		err = ErrClosed
	case err == io.EOF:
		// The peer closed TCP without a close frame: never a clean end,
		// and never to be mistaken for the end of a message.
		err = io.ErrUnexpectedEOF
	}
	c.readErr = err
	var ne net.Error
	if !(errors.As(err, &ne) && ne.Timeout()) {
		c.closeNow()
	}
	return err
}

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
		if cw, ok := c.nc.(interface{ CloseWrite() error }); ok {
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
	mt, err := c.nextMessage()
	if err != nil {
		return 0, nil, err
	}
	return mt, &c.reader, nil
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
		c.dec.Reset(&c.raw)
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
	// Kept small and without defer: an idle connection parks inside
	// nextMessage, and a shallow stack lets the runtime shrink it.
	if !c.readMu.TryLock() {
		return 0, nil, ErrConcurrentRead
	}
	mt, err := c.nextMessage()
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

// readWhole reads the rest of the current message into a new slice.
//
//go:noinline
func (c *Conn) readWhole() ([]byte, error) {
	size := 512
	if !c.msgComp && c.hdr.Fin {
		size = int(c.hdr.Length)
	} else if !c.msgComp && c.hdr.Length > int64(size) {
		size = int(min(c.hdr.Length*2, 1<<20))
	}
	buf := make([]byte, 0, size)
	for {
		if len(buf) == cap(buf) {
			// Full: look for the end before growing (a compressed message
			// only knows it has ended once asked for a byte).
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

// ---- writing ----

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

// writeClose sends a close frame once; later calls return ErrCloseSent.
func (c *Conn) writeClose(code StatusCode, reason string) error {
	var buf [frame.MaxControlPayload]byte
	p, err := frame.AppendClose(buf[:0], code, reason)
	if err != nil {
		return err
	}
	return c.writeFrame(true, 0, frame.OpClose, p)
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

// encoder returns the connection's compressor (msgMu held), or nil once
// the connection is closed and the compressor was given back.
func (c *Conn) encoder() *deflate.Encoder {
	if c.enc == nil && !c.encReleased {
		d := c.negotiated
		bits, noCtx := d.ServerMaxWindowBits, d.ServerNoContextTakeover
		if c.role == RoleClient {
			bits, noCtx = d.ClientMaxWindowBits, d.ClientNoContextTakeover
		}
		c.enc = deflate.NewEncoder(c.o.compression.level(), bits, !noCtx)
	}
	return c.enc
}

func (c *Conn) writeCompressed(op frame.Opcode, p []byte) error {
	bp, out, err := c.compress(p)
	defer putWriteBuf(bp)
	if err != nil {
		return err
	}
	return c.writeFrame(true, frame.Rsv1, op, out)
}

// compressing reports whether a message of n bytes is to be compressed.
func (c *Conn) compressing(n int) bool {
	return c.negotiated != nil && n >= c.o.compression.threshold() && !c.noCompress.Load()
}

// compress returns p compressed into a pooled buffer, which the caller
// gives back with putWriteBuf (msgMu held).
func (c *Conn) compress(p []byte) (*[]byte, []byte, error) {
	bp := getWriteBuf(len(p)/2 + 64)
	enc := c.encoder()
	if enc == nil {
		return bp, nil, ErrClosed
	}
	out, err := enc.AppendCompressed((*bp)[:0], p)
	*bp = out[:0]
	return bp, out, err
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

// Ping sends a ping with payload data (at most 125 bytes). The pong is
// seen by the reading goroutine (SetPongHandler).
func (c *Conn) Ping(data []byte) error {
	return c.WriteControl(PingMessage, data, time.Time{})
}

// ---- closing ----

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

// ---- keepalive ----

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
