// This file owns UpgradeServer: serving WebSocket upgrades on a listener
// without an http.Server (the request head read into a pooled buffer,
// parsed by net/http's parser, answered on the connection), and handing
// other requests to an http.Handler through an internal http.Server.

package websocket

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/rfc6455/websocket/handshake"
)

// UpgradeServer accepts connections on a listener and serves WebSocket
// upgrades on them itself, without an http.Server: the request head is
// read into a pooled buffer (on Unix, taken only once the client's first
// byte has arrived) and parsed (with net/http's parser), the
// handshake is answered on the connection, and Handler runs the
// connection on a fresh goroutine, which is then the only one the
// connection keeps. An http.Server hijacked for each upgrade leaves behind
// about 8 KiB of buffers and its request machinery per handshake; with
// thousands of connections arriving at once that garbage, not the
// handshake, is what costs (collections that scan every connected
// goroutine). Use UpgradeServer for a port that mostly serves
// WebSockets; Handler or Upgrade otherwise.
//
// Requests that are not WebSocket upgrades go to Fallback, served by an
// http.Server over the same connection (keep-alive included), or, when
// Fallback is nil, get 426 Upgrade Required. UpgradeServer speaks
// HTTP/1.1 only: on a TLS listener advertise "http/1.1" alone (an "h2"
// ALPN offer would not be served; use an http.Server and Handler for
// WebSockets over HTTP/2).
//
// Refusals: 431 for a request head over MaxHeaderBytes, 400 for one that
// does not parse, and the handshake's own (400, 403 for the origin, 405,
// 421, 426), each followed by closing the connection. A client that does
// not send its head within ReadHeaderTimeout (slowloris) is disconnected.
//
// The zero value is not usable: Handler or Upgrades must be set. Set the fields
// before Serve; do not change them while it runs.
type UpgradeServer struct {
	// Config is the handshake and connection configuration (nil:
	// DefaultConfig()).
	Config *Config
	// Handler runs each connection, on a goroutine of its own, with the
	// request that opened it (its context is not canceled; RemoteAddr and
	// TLS are set). The connection is closed when Handler returns (1000,
	// or 1011 when it panics, which is recovered and logged), as with
	// websocket.Handler.
	Handler func(c *Conn, r *http.Request)
	// Upgrades, instead of Handler, serves each upgrade request as an
	// http.Handler: websocket.Handler, a handler calling Upgrade or
	// Accept, ServeWSWithConfig, a Server from New, or a mux of them.
	// Upgrade takes the connection through the ResponseWriter it is
	// given without net/http's per-connection buffers (middleware that
	// wraps the ResponseWriter keeps that when it has an Unwrap method;
	// other code can hijack it as under an http.Server). A handler that
	// answers instead (a refusal, 401 from an authentication check) sends
	// an HTTP/1.1 response, after which the connection is closed.
	// Config is not used then but for its Logger, where a handler's
	// panic is logged (recovered, the connection closed, as net/http
	// does): the handler's own configuration applies. The request's
	// context is not canceled; RemoteAddr and TLS are set.
	Upgrades http.Handler
	// Fallback serves requests that are not WebSocket upgrades (nil:
	// answer 426 and close).
	Fallback http.Handler
	// ReadHeaderTimeout bounds the wait for a request head, the TLS
	// handshake included (0: 10 s). The fallback server uses it too.
	ReadHeaderTimeout time.Duration
	// MaxHeaderBytes bounds a request head (0: 64 KiB).
	MaxHeaderBytes int

	mu        sync.Mutex
	listeners map[net.Listener]struct{}
	fallback  *http.Server
	handoff   *handoffListener
	shutdown  bool
	inflight  sync.WaitGroup // handshakes under way
}

// ErrServerClosed is what UpgradeServer.Serve returns after Shutdown or
// Close: http.ErrServerClosed.
var ErrServerClosed = http.ErrServerClosed

const (
	defaultReadHeaderTimeout = 10 * time.Second
	defaultMaxHeaderBytes    = 64 << 10
	headBufSize              = 4 << 10
)

// ListenAndServe listens on the TCP address addr and calls Serve.
func (s *UpgradeServer) ListenAndServe(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	return s.Serve(ln)
}

// Serve accepts connections on ln until Shutdown or Close (then it returns
// ErrServerClosed) or until Accept fails for good; ln is closed when Serve
// returns. Temporary accept errors (such as running out of descriptors)
// are retried after a pause, as net/http does.
func (s *UpgradeServer) Serve(ln net.Listener) error {
	if (s.Handler == nil) == (s.Upgrades == nil) {
		ln.Close()
		return errors.New("websocket: UpgradeServer needs one of Handler and Upgrades")
	}
	if err := s.config().Compression.check(); err != nil {
		ln.Close()
		return err
	}
	s.mu.Lock()
	if s.shutdown {
		s.mu.Unlock()
		ln.Close()
		return ErrServerClosed
	}
	if s.listeners == nil {
		s.listeners = make(map[net.Listener]struct{})
	}
	s.listeners[ln] = struct{}{}
	s.mu.Unlock()
	defer func() {
		s.mu.Lock()
		delete(s.listeners, ln)
		s.mu.Unlock()
		ln.Close()
	}()
	var pause time.Duration
	for {
		nc, err := ln.Accept()
		if err != nil {
			if s.closed() {
				return ErrServerClosed
			}
			// Retried: what net/http retries (EMFILE, ENFILE, ECONNABORTED
			// and the like say Temporary).
			var te interface{ Temporary() bool }
			if errors.As(err, &te) && te.Temporary() {
				pause = min(max(2*pause, 5*time.Millisecond), time.Second)
				time.Sleep(pause)
				continue
			}
			return err
		}
		pause = 0
		// Counted under mu: once Shutdown has set shutdown no handshake
		// can start, so its Wait never races an Add.
		s.mu.Lock()
		if s.shutdown {
			s.mu.Unlock()
			nc.Close()
			return ErrServerClosed
		}
		s.inflight.Add(1)
		s.mu.Unlock()
		go s.serveConn(nc)
	}
}

// Shutdown stops accepting (it closes the listeners), waits for the
// handshakes under way to finish (with Upgrades: its handlers, until they
// take the connection or return) or ctx to end, and shuts the fallback
// server down gracefully. Connections already upgraded are the Handler's:
// Shutdown neither waits for nor closes them (use a Hub's Shutdown, or
// your own bookkeeping).
func (s *UpgradeServer) Shutdown(ctx context.Context) error {
	fb := s.stop()
	done := make(chan struct{})
	go func() {
		s.inflight.Wait()
		close(done)
	}()
	var err error
	select {
	case <-done:
	case <-ctx.Done():
		err = ctx.Err()
	}
	if fb != nil {
		if ferr := fb.Shutdown(ctx); err == nil {
			err = ferr
		}
	}
	return err
}

// Close closes the listeners and the fallback server's connections at
// once. Handshakes under way end at their ReadHeaderTimeout at most.
func (s *UpgradeServer) Close() error {
	if fb := s.stop(); fb != nil {
		return fb.Close()
	}
	return nil
}

func (s *UpgradeServer) stop() *http.Server {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.shutdown = true
	for ln := range s.listeners {
		ln.Close()
	}
	if s.handoff != nil {
		s.handoff.close()
	}
	return s.fallback
}

func (s *UpgradeServer) closed() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.shutdown
}

func (s *UpgradeServer) config() *Config {
	if s.Config == nil {
		return defaultUpgradeConfig
	}
	return s.Config
}

func (s *UpgradeServer) headerTimeout() time.Duration {
	if s.ReadHeaderTimeout > 0 {
		return s.ReadHeaderTimeout
	}
	return defaultReadHeaderTimeout
}

// headBufPool holds the buffers request heads are read into; headBufsOut
// counts those taken and not given back (getHeadBuf, putHeadBuf).
var (
	headBufPool = sync.Pool{New: func() any { b := make([]byte, headBufSize); return &b }}
	headBufsOut atomic.Int64
)

func getHeadBuf() *[]byte {
	headBufsOut.Add(1)
	return headBufPool.Get().(*[]byte)
}

func putHeadBuf(bp *[]byte) {
	headBufsOut.Add(-1)
	headBufPool.Put(bp)
}

// headParser parses a head with net/http's parser; pooled with its
// buffers.
type headParser struct {
	src bytes.Reader
	br  *bufio.Reader
}

var headParserPool = sync.Pool{New: func() any {
	p := new(headParser)
	p.br = bufio.NewReaderSize(&p.src, headBufSize)
	return p
}}

// serveConn reads one request head from nc and upgrades it, refuses it, or
// hands the connection to the fallback server.
func (s *UpgradeServer) serveConn(nc net.Conn) {
	counted := true // (serveUpgrades takes the count over)
	defer func() {
		if counted {
			s.inflight.Done()
		}
	}()
	_ = nc.SetReadDeadline(time.Now().Add(s.headerTimeout()))
	// A client that has connected but sent nothing yet costs no buffer:
	// slow or silent ones wait here, until ReadHeaderTimeout at most.
	if err := awaitReadable(nc); err != nil {
		nc.Close()
		return
	}
	bp := getHeadBuf()
	defer func() {
		if bp != nil { // (serveUpgrades takes it)
			putHeadBuf(bp) // buf is *bp or a larger copy: not used once this returns
		}
	}()
	buf, n, end, err := readHead(nc, *bp, s.maxHeader())
	if err != nil {
		if errors.Is(err, errHeadTooLarge) {
			refuse(nc, http.StatusRequestHeaderFieldsTooLarge, nil, "Request Header Fields Too Large")
		} else {
			nc.Close() // timed out, or the client went away
		}
		return
	}
	p := headParserPool.Get().(*headParser)
	p.src.Reset(buf[:end])
	p.br.Reset(&p.src)
	r, err := http.ReadRequest(p.br)
	p.src.Reset(nil)
	headParserPool.Put(p)
	if err != nil || r.ContentLength != 0 || len(r.TransferEncoding) > 0 || !IsWebSocketUpgrade(r) {
		if s.Fallback != nil && err == nil {
			// Not an upgrade: the fallback server reads the request
			// again, from the bytes read so far.
			_ = nc.SetReadDeadline(time.Time{})
			s.handOff(nc, append([]byte(nil), buf[:n]...))
		} else {
			if err != nil {
				refuse(nc, http.StatusBadRequest, nil, "Bad Request")
			} else {
				refuse(nc, http.StatusUpgradeRequired, http.Header{"Upgrade": {"websocket"}, "Connection": {"Upgrade"}}, "Upgrade Required")
			}
		}
		return
	}
	r.RemoteAddr = nc.RemoteAddr().String()
	if tc, ok := nc.(*tls.Conn); ok {
		st := tc.ConnectionState()
		r.TLS = &st
	}
	if s.Upgrades != nil {
		_ = nc.SetReadDeadline(time.Time{})
		hbp := bp
		bp, counted = nil, false
		s.serveUpgrades(nc, hbp, buf, end, n, r)
		return
	}
	cfg := s.config()
	sc := cfg.serverConfig()
	res, err := handshake.Server(r, &sc)
	if err != nil {
		if cfg.Logger != nil {
			cfg.Logger.Debug("websocket: handshake refused", "remote", r.RemoteAddr, "err", err)
		}
		status, h, reason := rejection(err)
		refuse(nc, status, h, reason)
		return
	}
	_ = nc.SetReadDeadline(time.Time{})
	// The 101 is appended after what was read, so that the client's first
	// frames (buf[end:n], copied by acceptOn) stay intact.
	c, err := acceptOn(nc, cfg, res, buf[n:n], nil, buf[end:n])
	if err != nil {
		return
	}
	// A fresh goroutine: this one's stack grew while parsing the head.
	go runHandler(cfg, c, r, s.Handler)
}

func (s *UpgradeServer) maxHeader() int {
	if s.MaxHeaderBytes > 0 {
		return s.MaxHeaderBytes
	}
	return defaultMaxHeaderBytes
}

var errHeadTooLarge = errors.New("websocket: request head too large")

// readHead reads from nc into buf (grown when full) until it holds a
// whole request head of at most limit bytes; it returns the buffer, how
// much it holds, and where the head ends (after its blank line).
func readHead(nc net.Conn, buf []byte, limit int) ([]byte, int, int, error) {
	n := 0
	for {
		if n == len(buf) {
			if n >= limit {
				return buf, n, 0, errHeadTooLarge
			}
			nb := make([]byte, min(2*len(buf), limit+headBufSize))
			copy(nb, buf[:n])
			buf = nb
		}
		m, err := nc.Read(buf[n:])
		// Look for the blank line in what arrived (and the 3 bytes
		// before it, where it may start).
		from := max(0, n-3)
		n += m
		if i := bytes.Index(buf[from:n], []byte("\r\n\r\n")); i >= 0 {
			end := from + i + 4
			if end > limit {
				return buf, n, 0, errHeadTooLarge
			}
			return buf, n, end, nil
		}
		if n > limit {
			return buf, n, 0, errHeadTooLarge
		}
		if err != nil {
			return buf, n, 0, err
		}
	}
}

// refuse answers a refused request and closes the connection the way
// net/http does: the response (a bounded write), then a half-close and a
// short drain of what the client still sends, so that closing with
// unread input does not reset the connection before the client has read
// the response.
func refuse(nc net.Conn, status int, h http.Header, body string) {
	hb := headerBuf{b: appendStatusLine(make([]byte, 0, 256), status)}
	_ = h.Write(&hb) // sorted, values stripped of CR and LF
	b := hb.b
	body += "\n"
	b = append(b, "Content-Type: text/plain; charset=utf-8\r\nX-Content-Type-Options: nosniff\r\nConnection: close\r\nContent-Length: "...)
	b = strconv.AppendInt(b, int64(len(body)), 10)
	b = append(b, "\r\n\r\n"...)
	b = append(b, body...)
	_ = nc.SetWriteDeadline(time.Now().Add(DefaultHandshakeTimeout))
	if _, err := nc.Write(b); err != nil {
		nc.Close()
		return
	}
	closeAnswered(nc)
}

// closeAnswered closes a connection whose response was written: a
// half-close, then a drain bounded in time and size of what the client
// still sends, so that closing with unread input does not reset the
// connection before the client has read the response.
func closeAnswered(nc net.Conn) {
	if cw, ok := nc.(interface{ CloseWrite() error }); ok && cw.CloseWrite() == nil {
		_ = nc.SetReadDeadline(time.Now().Add(refuseLinger))
		_, _ = io.Copy(io.Discard, io.LimitReader(nc, 256<<10))
	}
	nc.Close()
}

// refuseLinger bounds refuse's drain (net/http waits 500 ms likewise).
const refuseLinger = 500 * time.Millisecond

// handOff gives nc, with the bytes read from it so far, to the fallback
// http.Server (started on first use).
func (s *UpgradeServer) handOff(nc net.Conn, head []byte) {
	s.mu.Lock()
	if s.shutdown {
		s.mu.Unlock()
		nc.Close()
		return
	}
	if s.fallback == nil {
		s.handoff = newHandoffListener(nc.LocalAddr())
		s.fallback = &http.Server{
			Handler:           fallbackTLS{s.Fallback},
			ReadHeaderTimeout: s.headerTimeout(),
			MaxHeaderBytes:    s.maxHeader(),
			IdleTimeout:       2 * time.Minute,
			ConnContext:       withTLSState,
		}
		go s.fallback.Serve(s.handoff)
	}
	hl := s.handoff
	s.mu.Unlock()
	hl.push(&replayConn{Conn: nc, head: head})
}

// net/http sets Request.TLS only for a *tls.Conn, which the fallback
// server's connections are not (they are replayConns): withTLSState
// (http.Server.ConnContext) keeps the TLS state of the connection beneath,
// and fallbackTLS puts it on each request.
type tlsStateKey struct{}

func withTLSState(ctx context.Context, c net.Conn) context.Context {
	if rc, ok := c.(*replayConn); ok {
		if tc, ok := rc.Conn.(*tls.Conn); ok {
			st := tc.ConnectionState()
			return context.WithValue(ctx, tlsStateKey{}, &st)
		}
	}
	return ctx
}

type fallbackTLS struct{ h http.Handler }

func (f fallbackTLS) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if st, ok := r.Context().Value(tlsStateKey{}).(*tls.ConnectionState); ok && r.TLS == nil {
		r.TLS = st
	}
	f.h.ServeHTTP(w, r)
}

// replayConn is a connection whose first bytes were already read: Read
// returns them again first.
type replayConn struct {
	net.Conn
	head []byte
}

func (c *replayConn) Read(p []byte) (int, error) {
	if len(c.head) > 0 {
		n := copy(p, c.head)
		c.head = c.head[n:]
		if len(c.head) == 0 {
			c.head = nil
		}
		return n, nil
	}
	return c.Conn.Read(p)
}

// handoffListener is the fallback server's listener: Accept returns the
// connections handOff pushes.
type handoffListener struct {
	addr  net.Addr
	conns chan net.Conn
	done  chan struct{}
	once  sync.Once
}

func newHandoffListener(addr net.Addr) *handoffListener {
	return &handoffListener{addr: addr, conns: make(chan net.Conn), done: make(chan struct{})}
}

func (l *handoffListener) push(c net.Conn) {
	select {
	case l.conns <- c:
	case <-l.done:
		c.Close()
	}
}

func (l *handoffListener) Accept() (net.Conn, error) {
	select {
	case c := <-l.conns:
		return c, nil
	case <-l.done:
		return nil, net.ErrClosed
	}
}

func (l *handoffListener) close() { l.once.Do(func() { close(l.done) }) }

func (l *handoffListener) Close() error { l.close(); return nil }

func (l *handoffListener) Addr() net.Addr { return l.addr }
