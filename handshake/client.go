package handshake

import (
	"context"
	"net"
	"net/http"
	"net/url"
	"strconv"
	"strings"
)

// ClientConfig is the client's side of the handshake. A nil *ClientConfig
// means the zero value: no subprotocols, no compression, no extra headers.
// NewClientRequest and VerifyResponse only read it; the same value must be
// passed to both (VerifyResponse checks the response against the offer).
type ClientConfig struct {
	// Subprotocols to offer, in preference order; each must be a token and
	// appear once.
	Subprotocols []string
	// Deflate offers permessage-deflate when non-nil.
	Deflate *DeflateOptions
	// Header holds extra request headers (Origin, Authorization, Cookie,
	// User-Agent...). It must not contain Host, Upgrade, Connection or any
	// Sec-WebSocket-* header: those are the handshake's own
	// (ErrInvalidConfig). Values are copied into the request.
	Header http.Header
}

// ClientResult is what the server agreed to.
type ClientResult struct {
	// Subprotocol is the subprotocol the server selected, "" when none.
	Subprotocol string
	// Deflate is the negotiated permessage-deflate, nil when the server did
	// not accept compression.
	Deflate *Deflate
}

// reserved lists the headers ClientConfig.Header may not set.
var reserved = []string{hHost, hUpgrade, hConnection, hKey, hVersion, hProtocol, hExtensions, hAccept}

// NewClientRequest builds the opening handshake request (RFC 6455 section
// 4.1) for rawURL and returns it with its Sec-WebSocket-Key, to be passed to
// VerifyResponse.
//
// rawURL must be absolute with scheme ws, wss, http or https (case
// insensitive), a host, and neither user info nor a fragment (not even an
// empty "#"); otherwise the error wraps ErrBadURL. In the returned request,
// URL.Scheme is "http" (ws, http) or "https" (wss, https: dial with TLS),
// URL.Host always carries an explicit port, ready for net.Dial, and
// req.Host, the Host header, carries the port only when it is not the
// default (80, 443). The request URI (req.URL.RequestURI()) keeps the path
// and the raw query, "/" when the path is empty. The headers are Upgrade:
// websocket, Connection: Upgrade, Sec-WebSocket-Key (a fresh NewKey),
// Sec-WebSocket-Version: 13, Sec-WebSocket-Protocol when cfg.Subprotocols is
// not empty, Sec-WebSocket-Extensions when cfg.Deflate is non-nil
// ("permessage-deflate; client_max_window_bits" plus
// "; client_no_context_takeover" unless ContextTakeover, plus
// "; server_no_context_takeover" when RequestPeerNoContextTakeover), and a
// copy of cfg.Header. Invalid configuration wraps ErrInvalidConfig. All
// errors are *HandshakeError.
//
// The request has no body and is bound to ctx. Write it with req.Write on a
// connection you dialled yourself: net/http's Transport does not hand back
// the connection after a 101. NewClientRequest is safe for concurrent use.
func NewClientRequest(ctx context.Context, rawURL string, cfg *ClientConfig) (*http.Request, string, error) {
	if cfg == nil {
		cfg = &ClientConfig{}
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, "", hsErr(ErrBadURL, err.Error())
	}
	var port string
	switch strings.ToLower(u.Scheme) {
	case "ws", "http":
		u.Scheme, port = "http", "80"
	case "wss", "https":
		u.Scheme, port = "https", "443"
	default:
		return nil, "", hsErr(ErrBadURL, "scheme must be ws or wss: "+quoteDetail(u.Scheme))
	}
	switch {
	case u.Opaque != "" || u.Host == "":
		return nil, "", hsErr(ErrBadURL, "missing host")
	case u.User != nil:
		return nil, "", hsErr(ErrBadURL, "user info is not allowed")
	case strings.Contains(rawURL, "#"):
		return nil, "", hsErr(ErrBadURL, "fragment is not allowed")
	}
	hostname, p := u.Hostname(), u.Port()
	if hostname == "" {
		return nil, "", hsErr(ErrBadURL, "missing host")
	}
	hostHeader := hostname
	if strings.Contains(hostname, ":") {
		hostHeader = "[" + hostname + "]"
	}
	if p != "" && p != port {
		port = p
		hostHeader = net.JoinHostPort(hostname, port)
	}
	u.Host = net.JoinHostPort(hostname, port)

	h := make(http.Header, 6+len(cfg.Header))
	for name, vals := range cfg.Header {
		ck := http.CanonicalHeaderKey(name)
		if !isToken(name) {
			return nil, "", hsErr(ErrInvalidConfig, "invalid header name "+quoteDetail(name))
		}
		for _, r := range reserved {
			if ck == r {
				return nil, "", hsErr(ErrInvalidConfig, "Header must not set "+ck)
			}
		}
		for _, v := range vals {
			if !validHeaderValue(v) {
				return nil, "", hsErr(ErrInvalidConfig, "invalid value for header "+ck)
			}
		}
		h[ck] = append(h[ck], vals...)
	}
	for i, sp := range cfg.Subprotocols {
		if !isToken(sp) {
			return nil, "", hsErr(ErrInvalidConfig, "subprotocol is not a token: "+quoteDetail(sp))
		}
		for _, prev := range cfg.Subprotocols[:i] {
			if prev == sp {
				return nil, "", hsErr(ErrInvalidConfig, "duplicate subprotocol "+quoteDetail(sp))
			}
		}
	}
	key := NewKey()
	h[hUpgrade] = []string{"websocket"}
	h[hConnection] = []string{"Upgrade"}
	h[hKey] = []string{key}
	h[hVersion] = []string{Version}
	if len(cfg.Subprotocols) > 0 {
		h[hProtocol] = []string{strings.Join(cfg.Subprotocols, ", ")}
	}
	if cfg.Deflate != nil {
		if _, ok := cfg.Deflate.minBits(); !ok {
			return nil, "", hsErr(ErrInvalidConfig, "Deflate.MinWindowBits must be 0 or 8..15")
		}
		h[hExtensions] = []string{deflateOffer(cfg.Deflate).String()}
	}

	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u.String(), nil)
	if err != nil {
		return nil, "", hsErr(ErrBadURL, err.Error())
	}
	req.Host = hostHeader
	req.Header = h
	return req, key, nil
}

// validHeaderValue rejects CR, LF, NUL and other controls except HTAB.
func validHeaderValue(v string) bool {
	for i := 0; i < len(v); i++ {
		if c := v[i]; (c < ' ' && c != '\t') || c == 0x7f {
			return false
		}
	}
	return true
}

// VerifyResponse checks the server's response to a request built by
// NewClientRequest with the same key and cfg (RFC 6455 section 4.1, RFC
// 7692 section 7). It reads only resp.StatusCode and resp.Header, never the
// body. The rules, each reported as a *HandshakeError wrapping the sentinel:
//
//   - status exactly 101 (ErrBadStatus);
//   - Upgrade contains "websocket" and Connection contains "upgrade", case
//     insensitive (ErrNotUpgrade);
//   - exactly one Sec-WebSocket-Accept equal to AcceptKey(key) (ErrBadAccept);
//   - Sec-WebSocket-Protocol absent, or one header whose value is exactly one
//     of cfg.Subprotocols (ErrBadSubprotocol);
//   - Sec-WebSocket-Extensions well formed (ErrMalformedExtensions), naming
//     only permessage-deflate, only when offered, at most once, with valid
//     RFC 7692 parameters, client_max_window_bits with a value no smaller
//     than cfg.Deflate.MinWindowBits (ErrBadExtension).
//
// client_no_context_takeover, server_no_context_takeover and
// server_max_window_bits in the response are always honourable.
// VerifyResponse is safe for concurrent use.
func VerifyResponse(resp *http.Response, key string, cfg *ClientConfig) (*ClientResult, error) {
	if cfg == nil {
		cfg = &ClientConfig{}
	}
	if resp == nil {
		return nil, hsErr(ErrBadStatus, "no response")
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		return nil, hsErr(ErrBadStatus, "got "+itoaStatus(resp.StatusCode))
	}
	h := resp.Header
	if !hasToken(h[hUpgrade], "websocket") {
		return nil, hsErr(ErrNotUpgrade, "Upgrade does not contain websocket")
	}
	if !hasToken(h[hConnection], "upgrade") {
		return nil, hsErr(ErrNotUpgrade, "Connection does not contain upgrade")
	}
	switch acc := h[hAccept]; {
	case len(acc) == 0:
		return nil, hsErr(ErrBadAccept, "missing")
	case len(acc) > 1:
		return nil, hsErr(ErrBadAccept, "repeated")
	case acc[0] != AcceptKey(key):
		return nil, hsErr(ErrBadAccept, "mismatch: "+quoteDetail(acc[0]))
	}

	return verifyNegotiated(h, cfg)
}

// verifyNegotiated checks the subprotocol and the extensions a response
// (101, or 200 to an extended CONNECT) accepted.
func verifyNegotiated(h http.Header, cfg *ClientConfig) (*ClientResult, error) {
	res := &ClientResult{}
	switch prot := h[hProtocol]; {
	case len(prot) > 1:
		return nil, hsErr(ErrBadSubprotocol, "repeated")
	case len(prot) == 1:
		for _, sp := range cfg.Subprotocols {
			if prot[0] == sp {
				res.Subprotocol = sp
				break
			}
		}
		if res.Subprotocol == "" {
			return nil, hsErr(ErrBadSubprotocol, "not offered: "+quoteDetail(prot[0]))
		}
	}

	exts, err := ParseExtensions(h)
	if err != nil {
		return nil, err
	}
	for _, e := range exts {
		if e.Name != ExtensionDeflate {
			return nil, hsErr(ErrBadExtension, "not offered: "+quoteDetail(e.Name))
		}
		if cfg.Deflate == nil {
			return nil, hsErr(ErrBadExtension, "permessage-deflate was not offered")
		}
		if res.Deflate != nil {
			return nil, hsErr(ErrBadExtension, "permessage-deflate accepted twice")
		}
		minBits, ok := cfg.Deflate.minBits()
		if !ok {
			return nil, hsErr(ErrInvalidConfig, "Deflate.MinWindowBits must be 0 or 8..15")
		}
		if res.Deflate, err = acceptDeflateResponse(e, cfg.Deflate, minBits); err != nil {
			return nil, err
		}
	}
	return res, nil
}

func itoaStatus(code int) string {
	s := http.StatusText(code)
	if s == "" {
		return "status " + strconv.Itoa(code)
	}
	return strconv.Itoa(code) + " " + s
}
