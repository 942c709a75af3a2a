// This file owns WebSockets over HTTP/2 on the server side (RFC 8441): the
// 200 answer to an extended CONNECT, and h2Stream, the transport that runs
// a Conn over the request's stream (see transport.go).
//
// The stream is the handler's: net/http ends it when the handler returns,
// and a ResponseWriter must not be touched after that (its state goes back
// to a pool that another stream may take). So everything here that uses
// the ResponseWriter checks, under a lock, that the transport is not
// closed, and whoever runs the handler waits for the Conn to be closed
// (Conn.Done) before returning: Handler and New do; callers of Upgrade
// must (see Upgrade).

package websocket

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"os"
	"sync"
	"time"

	"github.com/rfc6455/websocket/handshake"
)

// upgradeH2 answers an RFC 8441 request that handshake.Server accepted:
// 200 with the negotiated headers, flushed, then a Conn over the stream.
func upgradeH2(w http.ResponseWriter, r *http.Request, cfg *Config, res *handshake.ServerResult) (*Conn, error) {
	rc := http.NewResponseController(w)
	_ = rc.EnableFullDuplex() // a no-op on HTTP/2, which always is
	h := w.Header()
	h.Del("Content-Length")
	for k, v := range res.Header() {
		h[k] = v
	}
	// Past the deadline net/http resets the stream, which ends the flush.
	bounded := rc.SetWriteDeadline(time.Now().Add(cfg.handshakeTimeout())) == nil
	w.WriteHeader(http.StatusOK)
	if err := rc.Flush(); err != nil {
		return nil, fmt.Errorf("websocket: write handshake response: %w", err)
	}
	if bounded {
		_ = rc.SetWriteDeadline(time.Time{})
	}
	return newConn(newH2Stream(w, rc, r), RoleServer, cfg.Options.resolve(), res.Subprotocol, res.Deflate, nil), nil
}

// overHTTP2 reports whether c runs over an HTTP/2 stream, which lives only
// as long as the handler that accepted it.
func (c *Conn) overHTTP2() bool {
	_, ok := c.nc.(*h2Stream)
	return ok
}

// h2Stream is a net.Conn over the stream of an RFC 8441 request: Read
// reads the request body, Write writes to the ResponseWriter and flushes,
// Close ends both directions (net/http then ends the stream when the
// handler returns). Deadlines: a read deadline is net/http's stream read
// deadline (once passed, the body is done with); a write deadline is kept
// here and bounds each write (past it, the stream is reset, as net/http
// does for its own write deadline), so a deadline left set between writes
// never fires on an idle stream.
type h2Stream struct {
	w      http.ResponseWriter
	rc     *http.ResponseController
	body   io.ReadCloser
	ctx    context.Context // the request's: done once the stream is
	local  net.Addr
	remote net.Addr

	wmu sync.Mutex // held by Write for the whole write

	// mu guards the fields below and every use of w and rc outside wmu.
	mu       sync.Mutex
	closed   bool
	writing  bool      // a write is under way
	wdl      time.Time // the write deadline
	armed    time.Time // the deadline the timer is set for, while writing
	timer    *time.Timer
	timedOut bool // a write passed its deadline: the stream was reset
}

func newH2Stream(w http.ResponseWriter, rc *http.ResponseController, r *http.Request) *h2Stream {
	s := &h2Stream{w: w, rc: rc, body: r.Body, ctx: r.Context(), remote: h2Addr(r.RemoteAddr)}
	if a, ok := r.Context().Value(http.LocalAddrContextKey).(net.Addr); ok {
		s.local = a
	} else {
		s.local = h2Addr("")
	}
	return s
}

// errStreamEnded is what writes return once the stream is gone (reset by
// the peer, the connection lost) while the Conn was open.
var errStreamEnded = fmt.Errorf("websocket: HTTP/2 stream ended: %w", net.ErrClosed)

// h2Addr is the address of one end of the TCP connection under the stream.
func h2Addr(s string) net.Addr {
	if ap, err := netip.ParseAddrPort(s); err == nil {
		return net.TCPAddrFromAddrPort(ap)
	}
	return stringAddr(s)
}

type stringAddr string

func (a stringAddr) Network() string { return "tcp" }
func (a stringAddr) String() string  { return string(a) }

// Read reads from the request body. After Close it returns net.ErrClosed.
func (s *h2Stream) Read(p []byte) (int, error) {
	n, err := s.body.Read(p)
	if err != nil && n == 0 {
		s.mu.Lock()
		closed := s.closed
		s.mu.Unlock()
		if closed {
			return 0, net.ErrClosed
		}
	}
	return n, err
}

// Write writes p as DATA frames and flushes, within the write deadline.
func (s *h2Stream) Write(p []byte) (int, error) {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	s.mu.Lock()
	switch {
	case s.closed:
		s.mu.Unlock()
		return 0, net.ErrClosed
	case s.timedOut:
		s.mu.Unlock()
		return 0, os.ErrDeadlineExceeded
	case s.ctx.Err() != nil:
		// The stream was reset, the connection lost, or the handler
		// returned: w is not to be used.
		s.mu.Unlock()
		return 0, errStreamEnded
	}
	if !s.wdl.IsZero() {
		d := time.Until(s.wdl)
		if d <= 0 {
			s.mu.Unlock()
			return 0, os.ErrDeadlineExceeded
		}
		s.arm(d)
	}
	s.writing = true
	s.mu.Unlock()

	n, err := s.w.Write(p)
	if err == nil {
		err = s.rc.Flush()
	}

	s.mu.Lock()
	s.writing = false
	if !s.armed.IsZero() {
		s.armed = time.Time{}
		s.timer.Stop()
	}
	switch {
	case s.timedOut:
		err = os.ErrDeadlineExceeded
	case err != nil && s.closed:
		err = net.ErrClosed
	}
	s.mu.Unlock()
	return n, err
}

// arm sets the write timer to fire in d (mu held).
func (s *h2Stream) arm(d time.Duration) {
	s.armed = time.Now().Add(d)
	if s.timer == nil {
		s.timer = time.AfterFunc(d, s.writeTimeout)
	} else {
		s.timer.Reset(d)
	}
}

// writeTimeout runs when the write timer fires: if the write it was armed
// for is still under way and past its deadline, reset the stream, which
// ends the write.
func (s *h2Stream) writeTimeout() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if !s.writing || s.armed.IsZero() || time.Now().Before(s.armed) || s.timedOut || s.closed {
		return
	}
	s.timedOut = true
	s.resetLocked()
}

// resetLocked resets the stream (RST_STREAM) at once, through net/http's
// write deadline: a deadline in the past resets it before returning (mu
// held, handler still running).
func (s *h2Stream) resetLocked() {
	_ = s.rc.SetWriteDeadline(time.Unix(1, 0))
}

// Close ends the stream's use: the body is closed (a blocked Read returns),
// a write under way is ended (the stream is reset: closing during a write
// is an abort, as on TCP), and Close returns once no write is under way,
// so that the handler may return. Later calls do nothing.
func (s *h2Stream) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	if s.writing && !s.timedOut {
		s.resetLocked()
	}
	if s.timer != nil {
		s.timer.Stop()
	}
	s.mu.Unlock()
	err := s.body.Close()
	// Wait for the write under way, if any, to return.
	s.wmu.Lock()
	s.wmu.Unlock()
	return err
}

func (s *h2Stream) waitsOnEmptyRead() {}

// CloseWrite is Close: a handler cannot end its response and keep reading
// the request, so the server's half close (its FIN, RFC 6455 7.1.1) is
// ending the stream, which the handler does when it returns (END_STREAM,
// then RST_STREAM with NO_ERROR if the client had not ended its side,
// RFC 9113 8.1), after everything written.
func (s *h2Stream) CloseWrite() error { return s.Close() }

func (s *h2Stream) LocalAddr() net.Addr  { return s.local }
func (s *h2Stream) RemoteAddr() net.Addr { return s.remote }

// SetDeadline sets both deadlines.
func (s *h2Stream) SetDeadline(t time.Time) error {
	return errors.Join(s.SetReadDeadline(t), s.SetWriteDeadline(t))
}

// SetReadDeadline sets net/http's read deadline of the stream. Once it
// passes, reads fail for good (the body is closed with
// os.ErrDeadlineExceeded), even if it is moved later.
func (s *h2Stream) SetReadDeadline(t time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return net.ErrClosed
	}
	return s.rc.SetReadDeadline(t)
}

// SetWriteDeadline sets the deadline of writes; it also applies to a write
// under way.
func (s *h2Stream) SetWriteDeadline(t time.Time) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return net.ErrClosed
	}
	s.wdl = t
	if s.writing && !s.timedOut {
		switch {
		case t.IsZero():
			if !s.armed.IsZero() {
				s.armed = time.Time{}
				s.timer.Stop()
			}
		default:
			if d := time.Until(t); d > 0 {
				s.arm(d)
			} else {
				s.timedOut = true
				s.resetLocked()
			}
		}
	}
	return nil
}

// streamWait is the buffer-free idle wait of an HTTP/2 stream (both
// roles), in the form Conn's read path takes it (a syscall.RawConn): the
// body of a stream (net/http's and x/net's both) is a pipe whose Read
// into an empty buffer waits until input is buffered, without taking any
// of ours. A body that returns at once instead (a wrapper, say) makes
// streamRead do a plain blocking read: the idle Conn then holds its
// buffer, as it would without the wait, and never spins.
type streamWait struct{ nc net.Conn }

var errNotSocket = errors.New("websocket: an HTTP/2 stream is not a socket")

func (w streamWait) Control(func(fd uintptr)) error    { return errNotSocket }
func (w streamWait) Write(func(fd uintptr) bool) error { return errNotSocket }

// Read waits for input, then lets f read it.
func (w streamWait) Read(f func(fd uintptr) bool) error {
	for {
		if _, err := w.nc.Read(nil); err != nil {
			return err
		}
		if f(0) {
			return nil
		}
	}
}

// streamRead is rawFn for an HTTP/2 stream: input is waiting, so read it
// into a pooled buffer.
func (c *Conn) streamRead(uintptr) bool {
	if c.pooledBuf == nil {
		c.takeBuf(0)
	}
	n, err := c.nc.Read(c.rbuf[c.rw:])
	c.rw += n
	if n > 0 {
		c.markRead()
	} else if err != nil {
		c.rawErr = err
	}
	return true
}
