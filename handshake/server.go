package handshake

import (
	"errors"
	"net/http"
	"slices"
	"strings"
)

// ServerConfig is the server's handshake policy. A nil *ServerConfig means
// the zero value: same-origin only, no subprotocols, no compression. Server
// only reads the config, so one value may be shared by concurrent calls as
// long as nobody modifies it.
type ServerConfig struct {
	// Subprotocols the server speaks, in preference order. The first one the
	// client also offered is chosen (exact, case-sensitive comparison).
	Subprotocols []string

	// AllowAllOrigins skips the origin check entirely. Dangerous: any web
	// page can then open a WebSocket to this server with the visitor's
	// cookies (cross-site WebSocket hijacking).
	AllowAllOrigins bool

	// AllowedOrigins lists origin patterns accepted besides the same
	// origin: "https://app.example.com" (that scheme, host and default
	// port), "https://*.example.com" (any subdomain, not example.com
	// itself), "*.example.com" or "example.com" (any scheme),
	// "http://localhost:8080" (explicit port). Comparison is
	// case-insensitive and default ports are normalised. A pattern that
	// does not have this form is a configuration error (500,
	// ErrInvalidConfig).
	AllowedOrigins []string

	// CheckOrigin, if non-nil, replaces the whole origin policy above: it is
	// called for every request, with or without an Origin header, and the
	// handshake is rejected with 403 when it returns false.
	CheckOrigin func(r *http.Request) bool

	// AllowedHosts, when not empty, lists the Host values this server
	// answers to: "example.com" (any port), "*.example.com" (any strict
	// subdomain), "localhost:8080", "127.0.0.1:8080", "[::1]:8080".
	// Comparison is case-insensitive. A request for any other Host is
	// refused with 421 Misdirected Request (ErrHostNotAllowed), whatever
	// the origin settings say. This is the defence against DNS rebinding
	// (see the package documentation): set it on any server reachable at
	// a loopback or private address. Empty accepts every Host.
	AllowedHosts []string

	// PublicScheme is the scheme browsers use to reach this server, "http"
	// or "https", for the same-origin check. Set "https" when TLS is
	// terminated in front of the server (a reverse proxy or load balancer
	// that forwards plain HTTP): the pages are then https:// origins
	// although r.TLS is nil. "" (the default) decides per request: https
	// when r.TLS is non-nil, else http (or X-Forwarded-Proto, see below).
	// Other values are a configuration error.
	PublicScheme string

	// TrustForwardedProto, when PublicScheme is "", takes the request's
	// scheme for the same-origin check from the first element of the
	// X-Forwarded-Proto header ("http" or "https") when present. Enable it
	// only behind a proxy that sets that header itself: anyone reaching
	// the server directly can send any value.
	TrustForwardedProto bool

	// Deflate enables permessage-deflate negotiation; nil never negotiates
	// compression.
	Deflate *DeflateOptions
}

// ServerResult is the decision to accept an opening handshake: what the
// 101 Switching Protocols response (or, for an RFC 8441 extended CONNECT,
// the 200 response) must say. AppendResponse writes an HTTP/1.1 response;
// Header gives the headers as an http.Header.
type ServerResult struct {
	// ExtendedConnect reports an RFC 8441 request (an HTTP/2 or HTTP/3
	// extended CONNECT with :protocol websocket): answer 200 with Header
	// on the request's stream, which then carries the WebSocket frames.
	// Accept is then "".
	ExtendedConnect bool
	// Accept is the Sec-WebSocket-Accept value.
	Accept string
	// Subprotocol is the chosen subprotocol, "" when none.
	Subprotocol string
	// Extensions is the Sec-WebSocket-Extensions value of the response,
	// "" when no extension was accepted.
	Extensions string
	// Deflate is the negotiated permessage-deflate, nil when not
	// negotiated. It points into the ServerResult.
	Deflate *Deflate

	deflate Deflate
}

// Header returns the headers of the 101 response: Upgrade: websocket,
// Connection: Upgrade, Sec-WebSocket-Accept, and Sec-WebSocket-Protocol and
// Sec-WebSocket-Extensions when chosen, with canonical keys, in a freshly
// allocated map owned by the caller. For an ExtendedConnect result, the
// headers of the 200 response: only Sec-WebSocket-Protocol and
// Sec-WebSocket-Extensions when chosen (RFC 8441 section 5).
func (res *ServerResult) Header() http.Header {
	h := make(http.Header, 5)
	if !res.ExtendedConnect {
		h[hUpgrade] = []string{"websocket"}
		h[hConnection] = []string{"Upgrade"}
		h[hAccept] = []string{res.Accept}
	}
	if res.Subprotocol != "" {
		h[hProtocol] = []string{res.Subprotocol}
	}
	if res.Extensions != "" {
		h[hExtensions] = []string{res.Extensions}
	}
	return h
}

// AppendResponse appends the whole 101 Switching Protocols response to b
// and returns the extended slice: the status line, the headers of Header,
// then those of extra (application headers such as Set-Cookie; nil for
// none) in sorted key order, then the blank line. Entries of extra that
// the response already has (Upgrade, Connection, Sec-WebSocket-Accept, and
// Sec-WebSocket-Protocol or Sec-WebSocket-Extensions when chosen), that a
// 1xx response must not carry (Content-Length, Transfer-Encoding), or whose
// key is not a token are left out; CR and LF in values are written as
// spaces, as net/http does. It allocates only when b lacks capacity. It
// is for HTTP/1.1 only: an ExtendedConnect result is answered with
// Header on the request's HTTP/2 stream.
func (res *ServerResult) AppendResponse(b []byte, extra http.Header) []byte {
	b = append(b, "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Accept: "...)
	b = append(b, res.Accept...)
	b = append(b, "\r\n"...)
	if res.Subprotocol != "" {
		b = append(b, "Sec-WebSocket-Protocol: "...)
		b = append(b, res.Subprotocol...)
		b = append(b, "\r\n"...)
	}
	if res.Extensions != "" {
		b = append(b, "Sec-WebSocket-Extensions: "...)
		b = append(b, res.Extensions...)
		b = append(b, "\r\n"...)
	}
	if len(extra) > 0 {
		b = res.appendExtra(b, extra)
	}
	return append(b, "\r\n"...)
}

func (res *ServerResult) appendExtra(b []byte, extra http.Header) []byte {
	var small [16]string
	keys := small[:0]
	for k := range extra {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		if !isToken(k) || res.owns(k) {
			continue
		}
		for _, v := range extra[k] {
			b = append(b, k...)
			b = append(b, ": "...)
			for i := 0; i < len(v); i++ {
				c := v[i]
				if c == '\r' || c == '\n' {
					c = ' '
				}
				b = append(b, c)
			}
			b = append(b, "\r\n"...)
		}
	}
	return b
}

// owns reports whether AppendResponse must not copy header k from extra
// (compared case-insensitively: extra may not be canonical).
func (res *ServerResult) owns(k string) bool {
	return strings.EqualFold(k, hUpgrade) || strings.EqualFold(k, hConnection) || strings.EqualFold(k, hAccept) ||
		(res.Subprotocol != "" && strings.EqualFold(k, hProtocol)) ||
		(res.Extensions != "" && strings.EqualFold(k, hExtensions)) ||
		strings.EqualFold(k, "Content-Length") || strings.EqualFold(k, "Transfer-Encoding")
}

// reject and the refusals below are kept out of line: inlined, their
// allocations and header literals would make server's frame, and the
// stack of every handshake, larger.
//
//go:noinline
func reject(status int, sentinel error, reason string) *RejectError {
	return &RejectError{Status: status, Reason: reason, Err: sentinel}
}

//go:noinline
func rejectMethod() *RejectError {
	e := reject(http.StatusMethodNotAllowed, ErrBadMethod, "method must be GET")
	e.Header = http.Header{"Allow": {"GET"}}
	return e
}

//go:noinline
func rejectNoUpgrade() *RejectError {
	e := reject(http.StatusUpgradeRequired, ErrNotUpgrade, "WebSocket upgrade required")
	e.Header = http.Header{hUpgrade: {"websocket"}, hConnection: {"Upgrade"}, hVersion: {Version}}
	return e
}

//go:noinline
func rejectVersion() *RejectError {
	e := reject(http.StatusUpgradeRequired, ErrBadVersion, "Sec-WebSocket-Version must be 13")
	e.Header = http.Header{hVersion: {Version}}
	return e
}

//go:noinline
func rejectDetail(status int, sentinel error, reason, detail string) *RejectError {
	e := reject(status, sentinel, reason)
	e.Detail = detail
	return e
}

//go:noinline
func rejectExtensions(err error) *RejectError {
	e := reject(http.StatusBadRequest, ErrMalformedExtensions, "malformed Sec-WebSocket-Extensions")
	var he *HandshakeError
	if errors.As(err, &he) {
		e.Detail = he.Detail
	}
	return e
}

// Server decides on an opening handshake request (RFC 6455 section 4.2.1)
// and, when accepting, builds the 101 response headers. It reads only r's
// method, protocol version, Host, ContentLength, TransferEncoding and Header
// (whose keys must be canonical, as net/http and http.Header.Set make them),
// never the body, and neither modifies r nor writes anything: the caller
// answers, and hijacks on success.
//
// The checks, in order, and the rejection for each (every error is a
// *RejectError wrapping the sentinel):
//
//   - cfg is valid (origin and host patterns, PublicScheme,
//     Deflate.MinWindowBits), else 500 (ErrInvalidConfig);
//   - method GET, else 405 with Allow: GET (ErrBadMethod);
//   - HTTP/1.1 or later, else 400 (ErrBadHTTPVersion);
//   - one valid Host, else 400 (ErrMissingHost);
//   - no request body announced, else 400 (ErrUnexpectedBody);
//   - Upgrade contains the token "websocket": when Upgrade is absent
//     altogether, 426 Upgrade Required with Upgrade: websocket, Connection:
//     Upgrade and Sec-WebSocket-Version: 13 (a plain HTTP client reached a
//     WebSocket endpoint); when present without it, 400 (ErrNotUpgrade);
//   - Connection contains the token "upgrade", else 400 (ErrNotUpgrade);
//   - exactly one Sec-WebSocket-Version equal to "13": absent or another
//     version, 426 with Sec-WebSocket-Version: 13; repeated, 400
//     (ErrBadVersion);
//   - exactly one Sec-WebSocket-Key decoding to 16 bytes: absent, 400
//     (ErrMissingKey); repeated or invalid, 400 (ErrBadKey);
//   - Host matches cfg.AllowedHosts when it is set, else 421 Misdirected
//     Request (ErrHostNotAllowed): the request names a site this server
//     does not serve (421, not 403: nothing is wrong with the client's
//     permissions, the request reached the wrong server, as a DNS
//     rebinding attack's does);
//   - the origin policy of cfg, else 403 (ErrOriginNotAllowed): a request
//     with Origin must be same-origin (Origin's scheme is the request's:
//     http or ws over plain HTTP, https or wss over TLS, see PublicScheme
//     and TrustForwardedProto; its host and port equal Host's, default
//     ports filled in) or match AllowedOrigins;
//   - Sec-WebSocket-Protocol is a token list, else 400
//     (ErrMalformedSubprotocols);
//   - Sec-WebSocket-Extensions follows the grammar, else 400
//     (ErrMalformedExtensions); checked even when cfg.Deflate is nil.
//
// An RFC 8441 request, a CONNECT over HTTP/2 or later (r.ProtoMajor >=
// 2; net/http puts the :protocol pseudo-header in r.Header under
// HeaderProtocol), is decided by the same rules with the HTTP/1.1-only
// ones replaced: exactly one :protocol equal to "websocket"
// (case-insensitive), else 400 (ErrNotUpgrade); one valid Host (the
// :authority), else 400 (ErrMissingHost); Sec-WebSocket-Version as above;
// then from the Host policy on, the same checks. Upgrade, Connection and
// Sec-WebSocket-Key are not looked at, the request has a body (the stream
// itself), and the result has ExtendedConnect set and no Accept. A GET
// over HTTP/2 gets the HTTP/1.1 rules: 426, as it carries no Upgrade.
//
// RejectError.Detail says what exactly was refused (for an origin: the
// Origin, the Host and the scheme it was compared with); it quotes request
// data, so it is for logs and the returned error, never for the response.
//
// A subprotocol is chosen by the server's preference order; no match is not
// an error (Subprotocol ""). permessage-deflate offers that are invalid by
// RFC 7692 section 7 or that the server cannot honour are declined (the
// next offer is tried), never failing the handshake; unknown extensions are
// ignored. When an offer is accepted the response carries exactly the
// parameters in force: server_no_context_takeover when offered or when
// !ContextTakeover; client_no_context_takeover when offered (echoed, so
// that it binds) or when RequestPeerNoContextTakeover; server_max_window_bits
// and client_max_window_bits echoing the values the client offered.
//
// Server is safe for concurrent use; it calls cfg.CheckOrigin at most once.
func Server(r *http.Request, cfg *ServerConfig) (*ServerResult, error) {
	if cfg == nil {
		cfg = &zeroConfig
	}
	if d := checkConfig(cfg); d != "" {
		return nil, configError(d)
	}
	return server(r, cfg, nil)
}

// zeroConfig is what a nil *ServerConfig means; only read.
var zeroConfig ServerConfig

// Policy is a ServerConfig checked once, its origin and host patterns
// parsed once: the form to keep when one configuration serves many
// requests. It is immutable and safe for concurrent use.
type Policy struct {
	cfg     ServerConfig
	origins []hostPattern // parsed cfg.AllowedOrigins
	hosts   []hostPattern // parsed cfg.AllowedHosts
}

// NewPolicy checks cfg (nil means the zero value) and parses its patterns.
// An invalid configuration is a *RejectError with status 500 wrapping
// ErrInvalidConfig, whose Detail names the field. The Policy keeps a copy
// of cfg that shares its slices and DeflateOptions: do not modify them
// afterwards.
func NewPolicy(cfg *ServerConfig) (*Policy, error) {
	if cfg == nil {
		cfg = &ServerConfig{}
	}
	if d := checkConfig(cfg); d != "" {
		return nil, configError(d)
	}
	p := &Policy{cfg: *cfg}
	for _, s := range cfg.AllowedOrigins {
		o, _ := parsePattern(s, true)
		p.origins = append(p.origins, o)
	}
	for _, s := range cfg.AllowedHosts {
		h, _ := parsePattern(s, false)
		p.hosts = append(p.hosts, h)
	}
	return p, nil
}

// Server is the package-level Server with the policy's configuration,
// without checking it or parsing its patterns again.
func (p *Policy) Server(r *http.Request) (*ServerResult, error) {
	return server(r, &p.cfg, p)
}

func configError(detail string) *RejectError {
	return rejectDetail(http.StatusInternalServerError, ErrInvalidConfig, "server misconfigured", detail)
}

// server is Server for a checked cfg; pol, when non-nil, holds cfg's
// parsed patterns (else they are parsed as they are needed, which does
// not allocate).
func server(r *http.Request, cfg *ServerConfig, pol *Policy) (*ServerResult, error) {
	if r.Method == http.MethodConnect && r.ProtoMajor >= 2 {
		return serverExtendedConnect(r, cfg, pol) // RFC 8441, h2.go
	}
	if r.Method != http.MethodGet {
		return nil, rejectMethod()
	}
	if !r.ProtoAtLeast(1, 1) {
		return nil, reject(http.StatusBadRequest, ErrBadHTTPVersion, "HTTP/1.1 or later required")
	}
	if r.Host == "" || len(r.Header[hHost]) > 1 || !validHost(r.Host) {
		return nil, reject(http.StatusBadRequest, ErrMissingHost, "missing or invalid Host")
	}
	if r.ContentLength != 0 || len(r.TransferEncoding) > 0 {
		return nil, reject(http.StatusBadRequest, ErrUnexpectedBody, "request must not have a body")
	}
	h := r.Header
	if len(h[hUpgrade]) == 0 {
		return nil, rejectNoUpgrade()
	}
	if !hasToken(h[hUpgrade], "websocket") {
		return nil, reject(http.StatusBadRequest, ErrNotUpgrade, "Upgrade must contain websocket")
	}
	if !hasToken(h[hConnection], "upgrade") {
		return nil, reject(http.StatusBadRequest, ErrNotUpgrade, "Connection must contain upgrade")
	}
	switch v := h[hVersion]; {
	case len(v) > 1:
		return nil, reject(http.StatusBadRequest, ErrBadVersion, "repeated Sec-WebSocket-Version")
	case len(v) == 0 || v[0] != Version:
		return nil, rejectVersion()
	}
	keys := h[hKey]
	switch {
	case len(keys) == 0:
		return nil, reject(http.StatusBadRequest, ErrMissingKey, "missing Sec-WebSocket-Key")
	case len(keys) > 1:
		return nil, reject(http.StatusBadRequest, ErrBadKey, "repeated Sec-WebSocket-Key")
	case !validKey(keys[0]):
		return nil, reject(http.StatusBadRequest, ErrBadKey, "Sec-WebSocket-Key must be base64 of 16 bytes")
	}
	res, err := decide(r, cfg, pol)
	if err != nil {
		return nil, err
	}
	res.Accept = AcceptKey(keys[0])
	return res, nil
}

// decide applies the checks an HTTP/1.1 upgrade and an RFC 8441 extended
// CONNECT share, from the Host policy on, and chooses the subprotocol and
// the extensions; the caller has checked the method and the version.
func decide(r *http.Request, cfg *ServerConfig, pol *Policy) (*ServerResult, error) {
	h := r.Header
	if d := hostAllowed(r, cfg, pol); d != "" {
		return nil, rejectDetail(http.StatusMisdirectedRequest, ErrHostNotAllowed, "host not served here", d)
	}
	if d := originAllowed(r, cfg, pol); d != "" {
		return nil, rejectDetail(http.StatusForbidden, ErrOriginNotAllowed, "origin not allowed", d)
	}

	protocols := h[hProtocol]
	for _, v := range protocols {
		if !validTokenList(v) {
			return nil, reject(http.StatusBadRequest, ErrMalformedSubprotocols, "malformed Sec-WebSocket-Protocol")
		}
	}
	var minBits int
	if cfg.Deflate != nil {
		minBits, _ = cfg.Deflate.minBits() // checked with the config
	}
	d, ext, deflate, err := negotiateDeflate(h[hExtensions], cfg.Deflate, minBits)
	if err != nil {
		return nil, rejectExtensions(err)
	}

	res := &ServerResult{Extensions: ext}
	for _, s := range cfg.Subprotocols {
		if tokenListHas(protocols, s) {
			res.Subprotocol = s
			break
		}
	}
	if deflate {
		res.deflate = d
		res.Deflate = &res.deflate
	}
	return res, nil
}
