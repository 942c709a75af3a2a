package websocket

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sync"
	"sync/atomic"
	"time"
)

// This file holds the names kept for users of Plumego's x/websocket
// (github.com/spcent/plumego), which this package is modelled on, so that
// a Plumego service compiles after changing its import path. Each says
// which primary name it stands for; see the package documentation,
// section "Plumego compatibility", and README.md's migration table.

// CloseInvalidPayload and CloseServerError are close codes 1007 and 1011
// under their Plumego names.
//
// Deprecated: use CloseInvalidFramePayloadData and CloseInternalServerErr.
const (
	CloseInvalidPayload = CloseInvalidFramePayloadData
	CloseServerError    = CloseInternalServerErr
)

// OpcodeText and OpcodeBinary are TextMessage and BinaryMessage under
// their Plumego names (hub.BroadcastRoom(room, websocket.OpcodeText, p)).
//
// Deprecated: use TextMessage and BinaryMessage.
const (
	OpcodeText   = TextMessage
	OpcodeBinary = BinaryMessage
)

// RoomAuthenticator is RoomAuthorizer under its older Plumego name.
//
// Deprecated: use RoomAuthorizer.
type RoomAuthenticator = RoomAuthorizer

// CheckRoomPassword is AuthorizeRoom, under its Plumego name.
//
// Deprecated: use AuthorizeRoom.
func (s *SimpleRoomAuth) CheckRoomPassword(room, password string) bool {
	return s.AuthorizeRoom(room, password)
}

// VerifyJWT is AuthenticateToken, under its Plumego name.
//
// Deprecated: use AuthenticateToken.
func (a *SimpleHS256TokenAuth) VerifyJWT(token string) (map[string]any, error) {
	return a.AuthenticateToken(token)
}

// TryBroadcastRoom is BroadcastRoom, under its Plumego name.
//
// Deprecated: use BroadcastRoom.
func (h *Hub) TryBroadcastRoom(room string, mt MessageType, data []byte) BroadcastResult {
	return h.BroadcastRoom(room, mt, data)
}

// TryBroadcastAll is BroadcastAll, under its Plumego name.
//
// Deprecated: use BroadcastAll.
func (h *Hub) TryBroadcastAll(mt MessageType, data []byte) BroadcastResult {
	return h.BroadcastAll(mt, data)
}

// NewHubE is NewHubWithConfig with Plumego's worker-pool sizes, which
// this hub accepts and ignores (see HubConfig.WorkerCount): negative sizes
// are errors matching ErrNegativeWorkerCount or ErrNegativeJobQueue.
func NewHubE(workerCount, jobQueueSize int) (*Hub, error) {
	cfg := DefaultHubConfig()
	cfg.WorkerCount, cfg.JobQueueSize = workerCount, jobQueueSize
	return NewHubWithConfig(cfg)
}

// NewHubWithConfigE is NewHubWithConfig, which already returns its
// configuration errors, under its Plumego name.
//
// Deprecated: use NewHubWithConfig.
func NewHubWithConfigE(cfg HubConfig) (*Hub, error) { return NewHubWithConfig(cfg) }

// Outbound is one message as Plumego's connection queues it: its type and
// payload. Nothing here queues Outbound values (a Conn writes at once, and
// a Hub queues PreparedMessages); it is for code that keeps its own queue
// of messages and writes them with WriteOutbound.
type Outbound struct {
	Op   MessageType
	Data []byte
}

// WriteOutbound writes o as one message: WriteMessage(o.Op, o.Data).
func (c *Conn) WriteOutbound(o Outbound) error { return c.WriteMessage(o.Op, o.Data) }

// ---- Conn ----

// ReadMessageReader is NextReader under its Plumego name, with a
// ReadCloser: it returns the next data message's type and a reader over
// its payload, bounded by the read limit as the message streams. Close
// ends the reader (later Reads return ErrReaderClosed); the unread rest of
// the message is discarded, still validated, by the next read. Unlike
// Plumego's, the reader holds no copy of the message and need not be
// closed for the next read to proceed.
func (c *Conn) ReadMessageReader() (MessageType, io.ReadCloser, error) {
	mt, r, err := c.NextReader()
	if err != nil {
		return 0, nil, err
	}
	return mt, &messageReadCloser{r: r}, nil
}

// ErrReaderClosed is returned by a ReadMessageReader reader used after
// its Close.
var ErrReaderClosed = errors.New("websocket: message reader closed")

type messageReadCloser struct {
	r      io.Reader
	closed atomic.Bool
}

func (m *messageReadCloser) Read(p []byte) (int, error) {
	if m.closed.Load() {
		return 0, ErrReaderClosed
	}
	return m.r.Read(p)
}

func (m *messageReadCloser) Close() error {
	m.closed.Store(true)
	return nil
}

// WriteMessageContext is Write under its Plumego name: it sends data as
// one message of type mt, bounded by ctx. Plumego queues the message and
// ctx bounds the wait for queue space; here the message is written at
// once, and if ctx ends before the write completes the connection is
// closed (a frame may be half written) and ctx.Err() is returned. To bound
// a write without risking the connection, use a Hub (its send queue and
// SendBehavior) or SetWriteDeadline.
func (c *Conn) WriteMessageContext(ctx context.Context, mt MessageType, data []byte) error {
	return c.Write(ctx, mt, data)
}

// WriteText sends s as one text message (s must be UTF-8; not checked).
func (c *Conn) WriteText(s string) error { return c.WriteMessage(TextMessage, []byte(s)) }

// WriteBinary sends p as one binary message.
func (c *Conn) WriteBinary(p []byte) error { return c.WriteMessage(BinaryMessage, p) }

// WriteClose is Close under its Plumego name, with Plumego's checks: a
// reason longer than 123 bytes is an error (matching ErrCloseReasonTooLong
// and ErrControlTooLarge) and nothing is sent, where Close would cut it.
// Plumego's WriteClose sends the close frame and closes TCP at once, which
// can reset the connection before the peer has read the close frame
// (RFC 6455 section 7.1.1 wants the server to close TCP only after the
// close handshake); this one performs the close handshake, bounded by the
// close timeout, as Close does.
func (c *Conn) WriteClose(code StatusCode, reason string) error {
	if len(reason) > 123 {
		return fmt.Errorf("websocket: close reason of %d bytes: %w (%w)", len(reason), ErrCloseReasonTooLong, ErrControlTooLarge)
	}
	return c.Close(code, reason)
}

// IsClosed reports whether the connection is closed: its transport is
// closed and Done is closed. During the close handshake it is not yet
// closed, but writes already fail with ErrCloseSent.
func (c *Conn) IsClosed() bool {
	return c.isDone()
}

// plumegoState is what the Plumego-compat methods keep on a Conn, made
// on first use (Conn.pl).
type plumegoState struct {
	meta         sync.Map
	writeTimeout atomic.Int64 // SetWriteTimeout's, 0: Options.WriteTimeout
}

// plumego returns the connection's plumegoState, making it if create.
func (c *Conn) plumego(create bool) *plumegoState {
	p := c.pl.Load()
	if p == nil && create {
		c.pl.CompareAndSwap(nil, new(plumegoState))
		p = c.pl.Load()
	}
	return p
}

// metadata returns the connection's metadata map, making it if create.
func (c *Conn) metadata(create bool) *sync.Map {
	if p := c.plumego(create); p != nil {
		return &p.meta
	}
	return nil
}

// writeTimeout is the bound of data frame writes: SetWriteTimeout's, else
// Options.WriteTimeout (resolved).
func (c *Conn) writeTimeout() time.Duration {
	if p := c.pl.Load(); p != nil {
		if d := p.writeTimeout.Load(); d != 0 {
			return time.Duration(d)
		}
	}
	return c.o.writeTimeout
}

// SetWriteTimeout sets the connection's write timeout, Options.WriteTimeout,
// to d for the frames written after the call: a frame the peer does not
// take within d fails the connection (the write returns an error matching
// ErrWriteTimeout). d must be positive, else ErrInvalidWriteTimeout. Safe
// for concurrent use.
func (c *Conn) SetWriteTimeout(d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("%w: got %v", ErrInvalidWriteTimeout, d)
	}
	c.plumego(true).writeTimeout.Store(int64(d))
	return nil
}

// errKeepaliveOff is returned by SetPingPeriod and SetPongWait on a
// connection made without keepalive.
func errKeepaliveOff() error {
	return configErr(ErrInvalidConfig, "keepalive is off on this connection (set Options.PingInterval, or ServerConfig.PingInterval)")
}

// SetPingPeriod sets the keepalive interval, Options.PingInterval: a ping
// goes out once d has passed without a byte from the peer. It applies at
// once. d must be positive (else ErrInvalidPingPeriod), and the connection
// must have been made with keepalive on (Options.PingInterval > 0, which
// New and ServeWSWithConfig set by default), else an error matching
// ErrInvalidConfig: Plumego's connections always ping, a Conn here only
// when asked to. Safe for concurrent use.
func (c *Conn) SetPingPeriod(d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("%w: got %v", ErrInvalidPingPeriod, d)
	}
	return c.setKeepalive(func() { c.o.pingInterval = d })
}

// SetPongWait sets how long keepalive waits, after its ping, for a byte
// from the peer before it fails the connection (Options.PongTimeout). It
// applies at once, to a ping already out too. d must be positive (else
// ErrInvalidPongWait); keepalive must be on, as for SetPingPeriod. Unlike
// Plumego's pong monitor, any frame counts as an answer, not only a pong:
// a peer busy sending data is alive.
func (c *Conn) SetPongWait(d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("%w: got %v", ErrInvalidPongWait, d)
	}
	return c.setKeepalive(func() { c.o.pongTimeout = d })
}

// setKeepalive changes keepalive's settings under kaMu (which keepalive
// holds to read them) and has the timer recompute its next firing.
func (c *Conn) setKeepalive(set func()) error {
	if c.ka == nil { // set once by newConn, never changed
		return errKeepaliveOff()
	}
	c.kaMu.Lock()
	set()
	c.ka.Reset(0)
	c.kaMu.Unlock()
	return nil
}

// GetLastPong returns when bytes last arrived from the peer, which is
// what keepalive judges liveness by (a pong, or any other frame), or the
// zero time on a connection without keepalive (see SetPingPeriod), which
// does not track it. Plumego's returns the time of the last pong only.
func (c *Conn) GetLastPong() time.Time {
	if c.ka == nil {
		return time.Time{}
	}
	return monoEpoch.Add(time.Duration(c.lastRead.Load()))
}

// SetMetadata stores value under key in the connection's metadata, a map
// for the application's use that lives as long as the Conn. The metadata
// methods are safe for concurrent use.
func (c *Conn) SetMetadata(key string, value any) { c.metadata(true).Store(key, value) }

// GetMetadata returns the value stored under key, and whether there is
// one.
func (c *Conn) GetMetadata(key string) (any, bool) {
	if m := c.metadata(false); m != nil {
		return m.Load(key)
	}
	return nil, false
}

// DeleteMetadata removes key from the connection's metadata.
func (c *Conn) DeleteMetadata(key string) {
	if m := c.metadata(false); m != nil {
		m.Delete(key)
	}
}

// RangeMetadata calls f for each metadata entry (the key is a string)
// until f returns false, with the semantics of sync.Map.Range.
func (c *Conn) RangeMetadata(f func(key, value any) bool) {
	if m := c.metadata(false); m != nil {
		m.Range(f)
	}
}
