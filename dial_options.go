// This file owns DialOptions, shared by Dial over TCP (dial.go) and Dial
// through the browser (dial_js.go).

package websocket

import (
	"context"
	"crypto/tls"
	"errors"
	"net"
	"net/http"
	"net/url"
	"time"
)

// DialOptions configure Dial. A nil *DialOptions means the zero value.
type DialOptions struct {
	// Options are the connection settings (limits, timeouts, keepalive,
	// compression).
	Options

	// Subprotocols to offer, in preference order.
	Subprotocols []string
	// Header holds extra request headers (Origin, Authorization...). The
	// handshake's own headers may not be set here.
	Header http.Header
	// Jar, when set, supplies cookies for the request and stores those of
	// the response.
	Jar http.CookieJar
	// TLSConfig is used for wss:// URLs; nil means the defaults, with
	// ServerName from the URL.
	TLSConfig *tls.Config
	// NetDialContext dials TCP; nil means a net.Dialer.
	NetDialContext func(ctx context.Context, network, addr string) (net.Conn, error)
	// Proxy returns the proxy for a request (http://, https:// via CONNECT,
	// or socks5://); nil means http.ProxyFromEnvironment. Return nil, nil
	// for a direct connection.
	Proxy func(*http.Request) (*url.URL, error)
	// HandshakeTimeout bounds the whole handshake when ctx has no earlier
	// deadline; zero means DefaultHandshakeTimeout.
	HandshakeTimeout time.Duration
	// HTTP2, when set, makes Dial open the WebSocket over HTTP/2 (RFC
	// 8441) through this RoundTripper first, typically a shared
	// *golang.org/x/net/http2.Transport (its connections are then shared
	// by the WebSockets), falling back to HTTP/1.1 when no HTTP/2
	// connection accepting extended CONNECT can be had. Proxy, TLSConfig
	// and NetDialContext apply to the fallback only. See "WebSockets over
	// HTTP/2" in the package documentation.
	HTTP2 http.RoundTripper
}

// MaxResponseHeadBytes is the most Dial reads of the server's handshake
// response head (status line and header fields); a longer head fails the
// dial with ErrResponseHeadTooLarge.
const MaxResponseHeadBytes = 64 << 10

// ErrResponseHeadTooLarge reports a handshake response head over
// MaxResponseHeadBytes.
var ErrResponseHeadTooLarge = errors.New("websocket: handshake response head larger than 64 KiB")
