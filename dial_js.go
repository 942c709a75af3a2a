//go:build js

// This file owns Dial under js/wasm: the browser's own WebSocket object
// (through syscall/js) does the handshake, and transport_js.go bridges it
// to a Conn with the usual message API.

package websocket

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
)

// Dial opens a WebSocket connection to rawURL (ws:// or wss://; http://
// and https:// are taken as ws:// and wss://) through the browser's own
// WebSocket object, bounded by ctx and HandshakeTimeout for the opening
// handshake. The returned Conn has the same API as elsewhere, within what
// a browser allows (see "WebAssembly" in the package documentation).
//
// The browser does the handshake and hides it: the *http.Response is a
// synthesized 101 whose header holds only Sec-WebSocket-Protocol and
// Sec-WebSocket-Extensions as the browser reports them; when the browser
// cannot connect it says only that (close code 1006), never why, and the
// response is nil.
//
// Options the browser cannot honour fail Dial with an error matching
// ErrNotSupportedInBrowser, naming the option: Header (the browser sets
// its own headers; pass credentials in a subprotocol or the URL), Jar and
// TLSConfig (the browser's cookies and TLS apply), NetDialContext, Proxy
// (the browser's proxy settings apply), HTTP2 (the browser chooses),
// Compression (the browser offers
// permessage-deflate itself and inflates and deflates transparently) and
// PingInterval (the browser answers the server's pings itself and sends
// none of the page's).
func Dial(ctx context.Context, rawURL string, opts *DialOptions) (*Conn, *http.Response, error) {
	if opts == nil {
		opts = &DialOptions{}
	}
	if err := browserRefuses(opts); err != nil {
		return nil, nil, fmt.Errorf("websocket: dial: %w", err)
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, nil, fmt.Errorf("websocket: dial: %w", err)
	}
	switch u.Scheme {
	case "ws", "wss":
	case "http":
		u.Scheme = "ws"
	case "https":
		u.Scheme = "wss"
	default:
		return nil, nil, fmt.Errorf("websocket: dial: URL scheme %q is not ws or wss", u.Scheme)
	}
	u.Fragment = ""
	timeout := opts.HandshakeTimeout
	if timeout <= 0 {
		timeout = DefaultHandshakeTimeout
	}
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()

	b, opened, failed, err := newBrowserConn(u.String(), opts.Subprotocols)
	if err != nil {
		return nil, nil, fmt.Errorf("websocket: dial: %w", err)
	}
	select {
	case <-opened:
	case <-failed:
		return nil, nil, fmt.Errorf("websocket: dial: %w", b.closeErr)
	case <-ctx.Done():
		b.Close()
		return nil, nil, ctx.Err()
	}
	sub := b.ws.Get("protocol").String()
	resp := &http.Response{
		Status:     "101 Switching Protocols",
		StatusCode: http.StatusSwitchingProtocols,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     make(http.Header),
		Body:       http.NoBody,
	}
	if sub != "" {
		resp.Header.Set("Sec-WebSocket-Protocol", sub)
	}
	if ext := b.ws.Get("extensions").String(); ext != "" {
		resp.Header.Set("Sec-WebSocket-Extensions", ext)
	}
	return newConn(b, RoleClient, opts.Options.resolve(), sub, nil, nil), resp, nil
}

// browserRefuses names the first option the browser cannot honour.
func browserRefuses(o *DialOptions) error {
	var what string
	switch {
	case len(o.Header) > 0:
		what = "DialOptions.Header (the browser sets its own request headers; pass credentials in a subprotocol or the URL)"
	case o.Jar != nil:
		what = "DialOptions.Jar (the browser sends its own cookies)"
	case o.TLSConfig != nil:
		what = "DialOptions.TLSConfig (the browser does TLS)"
	case o.NetDialContext != nil:
		what = "DialOptions.NetDialContext (the browser makes the connection)"
	case o.Proxy != nil:
		what = "DialOptions.Proxy (the browser's proxy settings apply)"
	case o.HTTP2 != nil:
		what = "DialOptions.HTTP2 (the browser chooses the HTTP version)"
	case o.Compression != nil:
		what = "Options.Compression (the browser negotiates permessage-deflate itself)"
	case o.PingInterval > 0 || o.PongTimeout > 0:
		what = "Options.PingInterval (the browser answers pings itself and sends none of the page's)"
	default:
		return nil
	}
	return fmt.Errorf("%w: %s", ErrNotSupportedInBrowser, what)
}
