// This file holds gorilla/websocket's names that exist here with the same
// meaning, so that code written against gorilla compiles (see "Coming from
// gorilla/websocket" in the README for the names that differ).

package websocket

import (
	"context"
	"net"
	"net/http"
	"strings"
)

// ErrReadLimit is gorilla/websocket's name for ErrMessageTooBig: the same
// value, so errors.Is matches either.
var ErrReadLimit = ErrMessageTooBig

// UnderlyingConn returns the raw transport: it is NetConn under
// gorilla/websocket's name.
func (c *Conn) UnderlyingConn() net.Conn { return c.nc }

// IsWebSocketUpgrade reports whether r asks for a WebSocket: an HTTP/1.1
// request whose Connection header lists "upgrade" and whose Upgrade
// header lists "websocket" (gorilla/websocket's function), or an HTTP/2
// extended CONNECT (RFC 8441) with :protocol websocket. It checks nothing
// else; Upgrade validates the whole handshake.
func IsWebSocketUpgrade(r *http.Request) bool {
	if r.ProtoMajor >= 2 && r.Method == http.MethodConnect {
		return strings.EqualFold(r.Header.Get(":protocol"), "websocket")
	}
	return headerHasToken(r.Header, "Connection", "upgrade") &&
		headerHasToken(r.Header, "Upgrade", "websocket")
}

// headerHasToken reports whether a comma-separated header field lists
// token (case-insensitively).
func headerHasToken(h http.Header, name, token string) bool {
	for _, v := range h.Values(name) {
		for v != "" {
			var t string
			t, v, _ = strings.Cut(v, ",")
			if strings.EqualFold(strings.TrimSpace(t), token) {
				return true
			}
		}
	}
	return false
}

// Dialer is gorilla/websocket's dialing type: DialOptions with gorilla's
// Dial and DialContext methods, which take the request headers as an
// argument. Its fields are DialOptions' (gorilla's TLSClientConfig is
// TLSConfig, EnableCompression is a non-nil Compression, NetDial is
// NetDialContext; ReadBufferSize and WriteBufferSize are in Options).
type Dialer struct {
	DialOptions
}

// DefaultDialer is a Dialer with all fields at their defaults, as in
// gorilla/websocket: DefaultDialer.Dial(url, nil) is Dial(ctx, url, nil)
// with a background context (bounded by DefaultHandshakeTimeout).
var DefaultDialer = &Dialer{}

// Dial is DialContext with context.Background().
func (d *Dialer) Dial(urlStr string, requestHeader http.Header) (*Conn, *http.Response, error) {
	return d.DialContext(context.Background(), urlStr, requestHeader)
}

// DialContext dials urlStr with d's options, adding requestHeader to
// DialOptions.Header (the handshake's own headers may not be set). See
// Dial for the result and the errors.
func (d *Dialer) DialContext(ctx context.Context, urlStr string, requestHeader http.Header) (*Conn, *http.Response, error) {
	opts := d.DialOptions
	if len(requestHeader) > 0 {
		h := opts.Header.Clone()
		if h == nil {
			h = make(http.Header, len(requestHeader))
		}
		for k, vs := range requestHeader {
			for _, v := range vs {
				h.Add(k, v)
			}
		}
		opts.Header = h
	}
	return Dial(ctx, urlStr, &opts)
}
