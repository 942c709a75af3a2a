//go:build !js

// This file owns WebSockets over HTTP/2 on the client side (RFC 8441):
// the extended CONNECT request sent through a net/http Transport, and
// h2ClientStream, the transport that runs a Conn over its stream.

package websocket

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptrace"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/rfc6455/websocket/handshake"
)

// errNoExtendedConnect reports that the HTTP/2 attempt could not be made:
// no HTTP/2 connection, or one whose server did not advertise
// SETTINGS_ENABLE_CONNECT_PROTOCOL. Dial then falls back to HTTP/1.1.
var errNoExtendedConnect = errors.New("websocket: server does not accept WebSockets over HTTP/2")

// dialHTTP2 is Dial's RFC 8441 attempt through opts.HTTP2; done is false
// when Dial should fall back to HTTP/1.1 (nothing was opened).
func dialHTTP2(ctx context.Context, rawURL string, cc *handshake.ClientConfig, opts *DialOptions) (*Conn, *http.Response, bool, error) {
	c, resp, err := dialH2(ctx, rawURL, cc, opts, opts.HTTP2)
	if err == nil {
		return c, resp, true, nil
	}
	if errors.Is(err, errNoExtendedConnect) && ctx.Err() == nil {
		if opts.Logger != nil {
			opts.Logger.Debug("websocket: dial: falling back to HTTP/1.1", "err", err)
		}
		return nil, nil, false, nil
	}
	return nil, resp, true, fmt.Errorf("websocket: dial over HTTP/2: %w", err)
}

// dialH2 opens a WebSocket as an extended CONNECT stream through tr. An
// error wrapping errNoExtendedConnect means nothing was opened (no
// response): the caller may fall back to HTTP/1.1.
func dialH2(ctx context.Context, rawURL string, cc *handshake.ClientConfig, opts *DialOptions, tr http.RoundTripper) (*Conn, *http.Response, error) {
	// The stream outlives Dial's ctx: it gets its own, cancelled by Close
	// (or by ctx while the handshake is under way).
	sctx, cancel := context.WithCancel(context.WithoutCancel(ctx))
	s := &h2ClientStream{cancel: cancel}
	trace := &httptrace.ClientTrace{GotConn: func(ci httptrace.GotConnInfo) {
		s.local, s.remote = ci.Conn.LocalAddr(), ci.Conn.RemoteAddr()
	}}
	req, err := handshake.NewExtendedConnectRequest(httptrace.WithClientTrace(sctx, trace), rawURL, cc)
	if err != nil {
		cancel()
		return nil, nil, err
	}
	if opts.Jar != nil {
		for _, ck := range opts.Jar.Cookies(httpURL(req.URL)) {
			req.AddCookie(ck)
		}
	}
	pr, pw := io.Pipe()
	req.Body, req.ContentLength = pr, -1
	s.pw = pw
	stop := context.AfterFunc(ctx, cancel)
	resp, err := tr.RoundTrip(req)
	if err != nil {
		stop()
		cancel()
		pw.Close()
		if ctx.Err() != nil {
			return nil, nil, ctx.Err()
		}
		if noExtendedConnect(err) {
			return nil, nil, fmt.Errorf("%w: %v", errNoExtendedConnect, err)
		}
		return nil, nil, err
	}
	s.body = resp.Body
	if opts.Jar != nil {
		if rc := resp.Cookies(); len(rc) > 0 {
			opts.Jar.SetCookies(httpURL(req.URL), rc)
		}
	}
	res, verr := handshake.VerifyExtendedConnectResponse(resp, cc)
	if verr != nil {
		body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
		resp.Body = io.NopCloser(bytes.NewReader(body))
		stop()
		s.Close()
		return nil, resp, verr
	}
	if !stop() {
		s.Close()
		return nil, resp, ctx.Err()
	}
	if s.local == nil {
		s.local, s.remote = stringAddr(""), stringAddr(req.URL.Host)
	}
	resp.Body = http.NoBody
	return newConn(s, RoleClient, opts.Options.resolve(), res.Subprotocol, res.Deflate, nil), resp, nil
}

// noExtendedConnect reports a RoundTrip error that means the request was
// not sent as extended CONNECT: the server's HTTP/2 SETTINGS lacked
// ENABLE_CONNECT_PROTOCOL, or no HTTP/2 connection could be made (the
// server chose HTTP/1.1 by ALPN, or does not speak cleartext HTTP/2).
// net/http exports none of these errors, so their texts are matched.
func noExtendedConnect(err error) bool {
	s := err.Error()
	for _, m := range []string{
		"extended connect not supported by peer",
		"could not negotiate protocol mutually",
		"unexpected ALPN protocol",
		"no application protocol",
		"does not support HTTP/2",
		"HTTP/2 not enabled",
		"malformed HTTP response",
		"client conn could not be established",
		"http2: server sent GOAWAY",
		"EOF",
	} {
		if strings.Contains(s, m) {
			return true
		}
	}
	return false
}

// h2ClientStream is a net.Conn over the stream of an extended CONNECT
// request: Read reads the response body, Write feeds the request body
// (net/http's Transport sends it as DATA frames as it reads it), Close
// ends the request body (END_STREAM), closes the response body (a stream
// not yet ended both ways is reset) and cancels the request. Deadlines
// are kept here and bound each Read and Write; one that passes during the
// operation ends the stream (net/http offers no way to interrupt a body
// read but closing it), one that passed before it fails the operation at
// once and leaves the stream alone.
type h2ClientStream struct {
	pw     *io.PipeWriter
	body   io.ReadCloser
	cancel context.CancelFunc
	local  net.Addr
	remote net.Addr

	mu       sync.Mutex
	closed   bool
	rdl, wdl time.Time
	rtimer   *time.Timer // armed during a Read with a deadline
	wtimer   *time.Timer // armed during a Write with a deadline
	rdead    bool        // a read deadline passed during a read: body closed
	wdead    bool        // a write deadline passed during a write: pipe closed
}

// begin prepares an operation: it reports a closed stream or a deadline
// already passed, else arms the timer for the deadline, if any.
func (s *h2ClientStream) begin(dl time.Time, dead bool, t **time.Timer, fire func()) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return net.ErrClosed
	case dead:
		return os.ErrDeadlineExceeded
	case dl.IsZero():
		return nil
	}
	d := time.Until(dl)
	if d <= 0 {
		return os.ErrDeadlineExceeded
	}
	if *t == nil {
		*t = time.AfterFunc(d, fire)
	} else {
		(*t).Reset(d)
	}
	return nil
}

// end disarms the timer and maps the operation's error.
func (s *h2ClientStream) end(err error, t *time.Timer, dead bool) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if t != nil {
		t.Stop()
	}
	switch {
	case err == nil || err == io.EOF:
		return err
	case dead:
		return os.ErrDeadlineExceeded
	case s.closed:
		return net.ErrClosed
	}
	return err
}

func (s *h2ClientStream) Read(p []byte) (int, error) {
	s.mu.Lock()
	dl, dead := s.rdl, s.rdead
	s.mu.Unlock()
	if err := s.begin(dl, dead, &s.rtimer, s.readTimeout); err != nil {
		return 0, err
	}
	n, err := s.body.Read(p)
	s.mu.Lock()
	t, dead := s.rtimer, s.rdead
	s.mu.Unlock()
	if n > 0 && err != nil && err != io.EOF {
		err = nil // report it on the next read
	}
	return n, s.end(err, t, dead)
}

func (s *h2ClientStream) readTimeout() {
	s.mu.Lock()
	passed := !s.rdl.IsZero() && !time.Now().Before(s.rdl)
	if passed {
		s.rdead = true
	}
	s.mu.Unlock()
	if passed {
		s.body.Close()
	}
}

func (s *h2ClientStream) Write(p []byte) (int, error) {
	s.mu.Lock()
	dl, dead := s.wdl, s.wdead
	s.mu.Unlock()
	if err := s.begin(dl, dead, &s.wtimer, s.writeTimeout); err != nil {
		return 0, err
	}
	n, err := s.pw.Write(p)
	s.mu.Lock()
	t, dead := s.wtimer, s.wdead
	s.mu.Unlock()
	return n, s.end(err, t, dead)
}

func (s *h2ClientStream) writeTimeout() {
	s.mu.Lock()
	passed := !s.wdl.IsZero() && !time.Now().Before(s.wdl)
	if passed {
		s.wdead = true
	}
	s.mu.Unlock()
	if passed {
		s.pw.CloseWithError(os.ErrDeadlineExceeded)
	}
}

func (s *h2ClientStream) waitsOnEmptyRead() {}

// CloseWrite ends the request body: END_STREAM, the client's FIN.
func (s *h2ClientStream) CloseWrite() error { return s.pw.Close() }

// Close ends the stream; later calls do nothing.
func (s *h2ClientStream) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	s.mu.Unlock()
	s.pw.Close()
	if s.body != nil {
		s.body.Close()
	}
	s.cancel()
	return nil
}

func (s *h2ClientStream) LocalAddr() net.Addr  { return s.local }
func (s *h2ClientStream) RemoteAddr() net.Addr { return s.remote }

func (s *h2ClientStream) SetDeadline(t time.Time) error {
	s.mu.Lock()
	s.rdl, s.wdl = t, t
	s.mu.Unlock()
	return nil
}

// SetReadDeadline sets the deadline of reads; it applies from the next
// Read on.
func (s *h2ClientStream) SetReadDeadline(t time.Time) error {
	s.mu.Lock()
	s.rdl = t
	s.mu.Unlock()
	return nil
}

// SetWriteDeadline sets the deadline of writes; it applies from the next
// Write on.
func (s *h2ClientStream) SetWriteDeadline(t time.Time) error {
	s.mu.Lock()
	s.wdl = t
	s.mu.Unlock()
	return nil
}
