// This file owns the Conn type, its construction and its accessors. The
// read path is in read.go, the write path in write.go (compression in
// compress.go), the close handshake in close.go, keepalive in keepalive.go
// and the transport beneath in transport.go.

package websocket

import (
	"net"
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
	// Fixed at construction; read by every goroutine.
	// (Fields are ordered to leave no padding: the Conn is most of what
	// an idle connection holds on the heap.)
	nc          net.Conn // the transport (see transport.go)
	o           resolved
	subprotocol string
	negotiated  *handshake.Deflate // nil: no compression
	role        Role
	recvRole    frame.Role
	writev      bool // nc supports vectored writes
	rawSock     bool // rawc is a socket's: fill takes the buffer its callback reads into

	readState
	writeState
	closeState
	kaState
}

// readState is the read side (read.go), owned by the goroutine holding
// readMu; the handlers are set before reading starts.
type readState struct {
	readMu     sync.Mutex
	rbuf       []byte          // a pooled buffer, or nil while idle
	rawc       syscall.RawConn // set where the idle wait works (transport_unix.go)
	rawFn      func(fd uintptr) bool
	rawWriteFn func(fd uintptr) bool // set with rawc: writes that arm their bound only when they wait
	rawErr     error
	pooledBuf  *[]byte
	rr, rw     int
	hdr        frame.Header
	remain     int64 // unread payload bytes of the current frame
	maskPos    int
	msgRead    int64 // payload bytes of the message so far (inflated when compressed)
	msgRaw     int64 // raw payload bytes of a compressed message so far
	readLimit  int64
	readErr    error
	dec        *deflate.Decoder
	hnd        *readHandlers // the Set*Handler handlers, made by the first of them
	utf8       frame.UTF8
	inMsg      bool    // a data message is being read
	msgText    bool    // (of the message being read)
	msgComp    bool    // (of the message being read)
	msgDone    bool    // the final frame's payload has been read
	probe      [1]byte // ReadMessage's end-of-message probe
}

// readHandlers are the handlers SetPingHandler, SetPongHandler and
// SetCloseHandler set; a connection that sets none holds none.
type readHandlers struct {
	ping  func(data []byte)
	pong  func(data []byte)
	close func(code int, text string) error
}

// handlers returns c's handlers, made on first use.
func (c *Conn) handlers() *readHandlers {
	if c.hnd == nil {
		c.hnd = new(readHandlers)
	}
	return c.hnd
}

// writeState is the write side (write.go, compress.go, stream.go,
// prepared.go): the slot is held for a whole data message, wmu for one
// frame; each field names the lock that guards it.
type writeState struct {
	slotHeld    atomic.Bool                   // the message slot: held for a whole data message
	slotWaiters atomic.Int32                  // goroutines waiting for the slot
	slotWake    atomic.Pointer[chan struct{}] // they sleep on it; made at the first contention
	wmu         sync.Mutex                    // held for one frame
	wdl         int64                         // wmu: the write deadline last set on nc (Unix ns, 0: none)
	wdlMono     int64                         // wmu: the same deadline on the monotonic clock (monoNow), when armed from a bound
	wdlBound    time.Duration                 // wmu: the bound it was armed from (0: a user deadline or none)
	wbound      time.Duration                 // wmu: the bound of the write under way
	rwBuf       []byte                        // wmu: what rawWrite has still to write
	rwErr       error                         // wmu: rawWrite's error
	userWDL     atomic.Int64                  // SetWriteDeadline's deadline (Unix ns), 0: none
	werr        error                         // wmu
	scratch     *writeScratch                 // wmu: made at the first large or batched write
	pend        *[]byte                       // wmu: frames waiting to be written together
	flushTimer  *time.Timer                   // wmu
	enc         *deflate.Encoder              // slot
	userWDLSet  atomic.Bool                   // SetWriteDeadline was called since the last re-arm
	pendFlag    atomic.Bool                   // pend holds frames
	moreInput   atomic.Bool                   // the reader has input buffered beyond the last message
	wctl        bool                          // wmu: the write under way carries a control frame
	closeSent   bool                          // wmu
	pendCtl     bool                          // wmu: pend holds a control frame
	encReleased bool                          // slot: closed, enc given back
	writer      atomic.Pointer[messageWriter] // NextWriter's state, made by the first (msgWriter)
	writerGen   atomic.Uint64
	noCompress  atomic.Bool
	compLevel   atomic.Int32 // SetCompressionLevel's level + compLevelSet; 0: Options'
}

// writeScratch holds what large and batched writes need beyond the
// frame; an idle connection that never made one holds none.
type writeScratch struct {
	hdr   [frame.MaxHeaderSize]byte
	iov   [2][]byte   // header and payload of a large frame
	bufs  net.Buffers // the vector being written (kept so it need not escape per write)
	batch [][]byte    // WritePreparedMessages' vector
}

// closeState is the close handshake's (close.go): written once, read by
// any goroutine.
type closeState struct {
	cause     atomic.Pointer[error] // why the connection was failed locally, set before nc is closed
	closeRecv atomic.Bool
	lingering atomic.Bool // finishClose started lingerClose
	peerClose *CloseError // set before closeRecv
	// done is Done's channel, made on first use (doneChan): &closedDone
	// once the connection is closed (isDone).
	done      atomic.Pointer[chan struct{}]
	closeOnce sync.Once
}

// kaState is keepalive's (keepalive.go): the timer's callback holds kaMu;
// the reader only stores lastRead (when keepalive is on).
type kaState struct {
	lastRead atomic.Int64 // when a byte last arrived (monoNow)
	ka       *time.Timer
	kaPingAt int64 // kaMu: when the ping that is out and unanswered went out (monoNow, at least 1); 0: none
	kaMu     sync.Mutex

	// Plumego compatibility (plumego.go): SetMetadata's map and
	// SetWriteTimeout's override, made on first use, so a connection that
	// uses neither pays one pointer.
	pl atomic.Pointer[plumegoState]
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
	}
	c.readLimit = o.readLimit
	if negotiated != nil && o.compression == nil {
		c.o.compression = &CompressionOptions{}
	}
	c.recvRole = frame.RoleServer
	if role == RoleClient {
		c.recvRole = frame.RoleClient
	}
	c.useTransport()
	if len(pending) > 0 {
		c.takeBuf(len(pending))
		c.rw = copy(c.rbuf, pending)
	}
	if o.pingInterval > 0 {
		c.lastRead.Store(monoNow())
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

// NetConn returns the underlying connection (the raw transport: TCP, TLS,
// an HTTP/2 stream...). Reading or writing it directly corrupts the
// WebSocket stream; it is for inspection (addresses, TLS state) and
// socket options. UnderlyingConn is the same, under gorilla/websocket's
// name. To use a WebSocket connection as a byte stream, see the
// package-level NetConn adapter instead.
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

// SetWriteDeadline sets the deadline for writes of data frames; while one
// is set it replaces WriteTimeout (control frames keep the earlier of the
// two). A write that times out fails the connection: it is closed, and the
// write and later reads return an error matching ErrWriteTimeout. The zero
// time removes the deadline (WriteTimeout applies again). It also applies
// to a write under way.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	var ns int64
	if !t.IsZero() {
		ns = t.UnixNano()
	}
	c.userWDL.Store(ns)
	c.userWDLSet.Store(true) // the next write re-arms (what nc holds may be stale)
	if ns != 0 || c.writeTimeout() <= 0 {
		return c.nc.SetWriteDeadline(t)
	}
	return nil
}

// SetPingHandler sets a function called (from the reading goroutine) with
// the payload of each ping received, after the pong was sent. The slice is
// only valid during the call. Set it before reading starts.
func (c *Conn) SetPingHandler(h func(data []byte)) { c.handlers().ping = h }

// SetPongHandler sets a function called (from the reading goroutine) with
// the payload of each pong received. The slice is only valid during the
// call. Set it before reading starts.
func (c *Conn) SetPongHandler(h func(data []byte)) { c.handlers().pong = h }

// SetCloseHandler sets a function called (from the reading goroutine)
// when the peer's close frame arrives, with its code (1005,
// CloseNoStatusReceived, for an empty close frame) and reason. As with
// pings, the close frame is echoed before h runs, whatever h does (unlike
// gorilla/websocket, where a handler replaces the echo): h cannot delay or
// change the close handshake. The read returns the *CloseError, or h's
// error when it returns one (then every later read returns that error).
// The signature is gorilla's; set it before reading starts, nil restores
// the default (nothing but the echo).
func (c *Conn) SetCloseHandler(h func(code int, text string) error) { c.handlers().close = h }

// Done returns a channel closed once the underlying connection is closed.
func (c *Conn) Done() <-chan struct{} { return c.doneChan() }

// closedDone is the closed channel a closed connection's done points to.
var closedDone = func() chan struct{} {
	ch := make(chan struct{})
	close(ch)
	return ch
}()

// doneChan returns the channel closed when the connection is, made on
// first use: most connections never wait on it, and it is 96 bytes an
// idle connection need not hold.
func (c *Conn) doneChan() chan struct{} { return lazyChan(&c.done, 0) }

// lazyChan returns the channel *p points to, making one with buffer size
// size first if there is none (goroutines racing get the same one).
func lazyChan(p *atomic.Pointer[chan struct{}], size int) chan struct{} {
	if ch := p.Load(); ch != nil {
		return *ch
	}
	ch := make(chan struct{}, size)
	if p.CompareAndSwap(nil, &ch) {
		return ch
	}
	return *p.Load() // made meanwhile (or, for done, closed)
}

// isDone reports whether the connection is closed (Done is closed).
func (c *Conn) isDone() bool { return c.done.Load() == &closedDone }
