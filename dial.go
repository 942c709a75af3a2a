//go:build !js

// This file owns Dial over TCP (every platform but js/wasm, where
// dial_js.go opens the browser's WebSocket instead); DialOptions are in
// dial_options.go.

package websocket

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"time"

	"golang.org/x/net/proxy"

	"github.com/rfc6455/websocket/handshake"
)

// maxErrorBody is how much of a failed handshake's response body Dial keeps.
const maxErrorBody = 64 << 10

// Dial opens a WebSocket connection to rawURL (ws:// or wss://), bounded by
// ctx for the whole opening handshake. On success the *http.Response is the
// server's 101 response. When the server answers but the handshake fails,
// the response is returned too (with up to 64 KiB of its body readable) so
// that the caller can look at the status; the error then wraps a handshake
// error saying which rule failed (e.g. handshake.ErrBadStatus).
func Dial(ctx context.Context, rawURL string, opts *DialOptions) (*Conn, *http.Response, error) {
	if opts == nil {
		opts = &DialOptions{}
	}
	if err := opts.Compression.check(); err != nil {
		return nil, nil, fmt.Errorf("websocket: dial: %w", err)
	}
	timeout := opts.HandshakeTimeout
	if timeout <= 0 {
		timeout = DefaultHandshakeTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	cc := &handshake.ClientConfig{Subprotocols: opts.Subprotocols, Header: opts.Header}
	if co := opts.Compression; co != nil {
		cc.Deflate = &handshake.DeflateOptions{
			ContextTakeover:              co.ContextTakeover,
			RequestPeerNoContextTakeover: co.RequestNoContextTakeover,
		}
	}
	if opts.HTTP2 != nil {
		if c, resp, done, err := dialHTTP2(ctx, rawURL, cc, opts); done {
			return c, resp, err
		}
	}
	req, key, err := handshake.NewClientRequest(ctx, rawURL, cc)
	if err != nil {
		return nil, nil, fmt.Errorf("websocket: dial: %w", err)
	}
	if opts.Jar != nil {
		for _, ck := range opts.Jar.Cookies(httpURL(req.URL)) {
			req.AddCookie(ck)
		}
	}

	nc, err := dialTransport(ctx, req, opts)
	if err != nil {
		return nil, nil, fmt.Errorf("websocket: dial: %w", err)
	}
	// Cancelling ctx interrupts the handshake's reads and writes.
	stop := context.AfterFunc(ctx, func() { nc.SetDeadline(time.Unix(1, 0)) })
	ok := false
	defer func() {
		if !ok {
			stop()
			nc.Close()
		}
	}()
	if dl, has := ctx.Deadline(); has {
		_ = nc.SetDeadline(dl)
	}

	if err := req.Write(nc); err != nil {
		return nil, nil, fmt.Errorf("websocket: dial: write request: %w", ctxErr(ctx, err))
	}
	// The response head is capped: a server cannot make Dial hold more
	// than MaxResponseHeadBytes for it, however long its lines.
	cr := &capReader{r: nc, left: MaxResponseHeadBytes, err: ErrResponseHeadTooLarge}
	br := bufio.NewReaderSize(cr, 1024)
	resp, err := http.ReadResponse(br, req)
	if err != nil {
		if cr.left <= 0 {
			err = ErrResponseHeadTooLarge
		}
		return nil, nil, fmt.Errorf("websocket: dial: read response: %w", ctxErr(ctx, err))
	}
	// What follows the head (an error body, or frames sent with the 101)
	// is read under its own cap.
	cr.left, cr.err = maxErrorBody+br.Size(), io.EOF
	if opts.Jar != nil {
		if rc := resp.Cookies(); len(rc) > 0 {
			opts.Jar.SetCookies(httpURL(req.URL), rc)
		}
	}
	res, verr := handshake.VerifyResponse(resp, key, cc)
	if verr != nil {
		if resp.StatusCode != http.StatusSwitchingProtocols {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, maxErrorBody))
			resp.Body = io.NopCloser(bytes.NewReader(body))
			verr = refusalError(verr, resp, body)
		}
		return nil, resp, fmt.Errorf("websocket: dial: %w", verr)
	}
	var pending []byte
	if n := br.Buffered(); n > 0 {
		pending, _ = br.Peek(n)
		pending = append([]byte(nil), pending...)
	}
	_ = nc.SetDeadline(time.Time{})
	resp.Body = http.NoBody
	ok = true
	if !stop() {
		// ctx ended while we finished: the deadline was poisoned.
		nc.Close()
		return nil, resp, ctx.Err()
	}
	_ = nc.SetDeadline(time.Time{})
	return newConn(nc, RoleClient, opts.Options.resolve(), res.Subprotocol, res.Deflate, pending), resp, nil
}

// capReader reads at most left bytes from r, then fails with err.
type capReader struct {
	r    io.Reader
	left int
	err  error
}

func (c *capReader) Read(p []byte) (int, error) {
	if c.left <= 0 {
		return 0, c.err
	}
	if len(p) > c.left {
		p = p[:c.left]
	}
	n, err := c.r.Read(p)
	c.left -= n
	return n, err
}

// ctxErr reports ctx's error for an I/O error caused by ctx ending (the
// connection's deadline is ctx's, so the I/O may notice first).
func ctxErr(ctx context.Context, err error) error {
	if ctx.Err() != nil {
		return ctx.Err()
	}
	if dl, ok := ctx.Deadline(); ok && !time.Now().Before(dl) {
		return context.DeadlineExceeded
	}
	return err
}

func httpURL(u *url.URL) *url.URL {
	v := *u
	switch v.Scheme {
	case "ws":
		v.Scheme = "http"
	case "wss":
		v.Scheme = "https"
	}
	return &v
}

func defaultPort(u *url.URL) string {
	if p := u.Port(); p != "" {
		return net.JoinHostPort(u.Hostname(), p)
	}
	if u.Scheme == "wss" || u.Scheme == "https" {
		return net.JoinHostPort(u.Hostname(), "443")
	}
	return net.JoinHostPort(u.Hostname(), "80")
}

// dialTransport connects (through a proxy when one applies) and does TLS
// for wss.
func dialTransport(ctx context.Context, req *http.Request, opts *DialOptions) (net.Conn, error) {
	dial := opts.NetDialContext
	if dial == nil {
		var d net.Dialer
		dial = d.DialContext
	}
	addr := defaultPort(req.URL)
	proxyFn := opts.Proxy
	if proxyFn == nil {
		proxyFn = http.ProxyFromEnvironment
	}
	preq := req.Clone(ctx)
	preq.URL = httpURL(req.URL)
	purl, err := proxyFn(preq)
	if err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	var nc net.Conn
	switch {
	case purl == nil:
		nc, err = dial(ctx, "tcp", addr)
	case purl.Scheme == "socks5" || purl.Scheme == "socks5h":
		nc, err = dialSOCKS5(ctx, purl, addr, dial)
	case purl.Scheme == "http" || purl.Scheme == "https":
		nc, err = dialCONNECT(ctx, purl, addr, dial)
	default:
		err = fmt.Errorf("proxy: unsupported scheme %q", purl.Scheme)
	}
	if err != nil {
		return nil, err
	}
	if req.URL.Scheme == "wss" || req.URL.Scheme == "https" {
		cfg := opts.TLSConfig.Clone()
		if cfg == nil {
			cfg = &tls.Config{}
		}
		if cfg.ServerName == "" {
			cfg.ServerName = req.URL.Hostname()
		}
		if len(cfg.NextProtos) == 0 {
			cfg.NextProtos = []string{"http/1.1"}
		}
		tc := tls.Client(nc, cfg)
		if err := tc.HandshakeContext(ctx); err != nil {
			nc.Close()
			return nil, fmt.Errorf("tls: %w", err)
		}
		nc = tc
	}
	return nc, nil
}

type ctxDialer struct {
	dial func(ctx context.Context, network, addr string) (net.Conn, error)
}

func (d ctxDialer) Dial(network, addr string) (net.Conn, error) {
	return d.dial(context.Background(), network, addr)
}

func (d ctxDialer) DialContext(ctx context.Context, network, addr string) (net.Conn, error) {
	return d.dial(ctx, network, addr)
}

func dialSOCKS5(ctx context.Context, purl *url.URL, addr string, dial func(context.Context, string, string) (net.Conn, error)) (net.Conn, error) {
	var auth *proxy.Auth
	if u := purl.User; u != nil {
		pw, _ := u.Password()
		auth = &proxy.Auth{User: u.Username(), Password: pw}
	}
	d, err := proxy.SOCKS5("tcp", purl.Host, auth, ctxDialer{dial})
	if err != nil {
		return nil, fmt.Errorf("socks5 proxy: %w", err)
	}
	cd, ok := d.(proxy.ContextDialer)
	if !ok {
		return nil, errors.New("socks5 proxy: dialer without context support")
	}
	return cd.DialContext(ctx, "tcp", addr)
}

func dialCONNECT(ctx context.Context, purl *url.URL, addr string, dial func(context.Context, string, string) (net.Conn, error)) (net.Conn, error) {
	paddr := purl.Host
	if purl.Port() == "" {
		if purl.Scheme == "https" {
			paddr = net.JoinHostPort(purl.Hostname(), "443")
		} else {
			paddr = net.JoinHostPort(purl.Hostname(), "80")
		}
	}
	nc, err := dial(ctx, "tcp", paddr)
	if err != nil {
		return nil, fmt.Errorf("proxy: %w", err)
	}
	if purl.Scheme == "https" {
		tc := tls.Client(nc, &tls.Config{ServerName: purl.Hostname()})
		if err := tc.HandshakeContext(ctx); err != nil {
			nc.Close()
			return nil, fmt.Errorf("proxy tls: %w", err)
		}
		nc = tc
	}
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
	}
	connect := &http.Request{
		Method: http.MethodConnect,
		URL:    &url.URL{Opaque: addr},
		Host:   addr,
		Header: make(http.Header),
	}
	if u := purl.User; u != nil {
		pw, _ := u.Password()
		cred := base64.StdEncoding.EncodeToString([]byte(u.Username() + ":" + pw))
		connect.Header.Set("Proxy-Authorization", "Basic "+cred)
	}
	if err := connect.Write(nc); err != nil {
		nc.Close()
		return nil, fmt.Errorf("proxy: %w", err)
	}
	// Read the response byte-exactly so nothing after it is swallowed.
	br := bufio.NewReaderSize(nc, 1024)
	resp, err := http.ReadResponse(br, connect)
	if err != nil {
		nc.Close()
		return nil, fmt.Errorf("proxy: %w", err)
	}
	// The body is not read: after a 2xx it is the tunnel itself.
	if resp.StatusCode != http.StatusOK {
		nc.Close()
		return nil, fmt.Errorf("proxy: CONNECT answered %s", resp.Status)
	}
	if br.Buffered() > 0 {
		nc.Close()
		return nil, errors.New("proxy: data after CONNECT response")
	}
	_ = nc.SetDeadline(time.Time{})
	return nc, nil
}
