package handshake

import "net/http"

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

// ServerResult is the decision to accept an opening handshake.
type ServerResult struct {
	// Header holds exactly the headers for the 101 Switching Protocols
	// response: Upgrade: websocket, Connection: Upgrade,
	// Sec-WebSocket-Accept, and Sec-WebSocket-Protocol and
	// Sec-WebSocket-Extensions when chosen. Keys are canonical
	// (http.CanonicalHeaderKey); the map is freshly allocated and owned by
	// the caller.
	Header http.Header
	// Subprotocol is the chosen subprotocol, "" when none.
	Subprotocol string
	// Deflate is the negotiated permessage-deflate, nil when not negotiated.
	Deflate *Deflate
}

func reject(status int, sentinel error, reason string) *RejectError {
	return &RejectError{Status: status, Reason: reason, Err: sentinel}
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
		cfg = &ServerConfig{}
	}
	if d := checkConfig(cfg); d != "" {
		e := reject(http.StatusInternalServerError, ErrInvalidConfig, "server misconfigured")
		e.Detail = d
		return nil, e
	}
	if r.Method != http.MethodGet {
		e := reject(http.StatusMethodNotAllowed, ErrBadMethod, "method must be GET")
		e.Header = http.Header{"Allow": {"GET"}}
		return nil, e
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
		e := reject(http.StatusUpgradeRequired, ErrNotUpgrade, "WebSocket upgrade required")
		e.Header = http.Header{hUpgrade: {"websocket"}, hConnection: {"Upgrade"}, hVersion: {Version}}
		return nil, e
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
		e := reject(http.StatusUpgradeRequired, ErrBadVersion, "Sec-WebSocket-Version must be 13")
		e.Header = http.Header{hVersion: {Version}}
		return nil, e
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
	if d := hostAllowed(r, cfg); d != "" {
		e := reject(http.StatusMisdirectedRequest, ErrHostNotAllowed, "host not served here")
		e.Detail = d
		return nil, e
	}
	if d := originAllowed(r, cfg); d != "" {
		e := reject(http.StatusForbidden, ErrOriginNotAllowed, "origin not allowed")
		e.Detail = d
		return nil, e
	}

	var offered []string
	for _, v := range h[hProtocol] {
		var ok bool
		if offered, ok = parseTokenList(offered, v); !ok {
			return nil, reject(http.StatusBadRequest, ErrMalformedSubprotocols, "malformed Sec-WebSocket-Protocol")
		}
	}
	exts, err := ParseExtensions(h)
	if err != nil {
		return nil, reject(http.StatusBadRequest, ErrMalformedExtensions, "malformed Sec-WebSocket-Extensions")
	}

	res := &ServerResult{Header: make(http.Header, 5)}
	res.Header[hUpgrade] = []string{"websocket"}
	res.Header[hConnection] = []string{"Upgrade"}
	res.Header[hAccept] = []string{AcceptKey(keys[0])}
	res.Subprotocol = selectSubprotocol(cfg.Subprotocols, offered)
	if res.Subprotocol != "" {
		res.Header[hProtocol] = []string{res.Subprotocol}
	}
	if cfg.Deflate != nil {
		minBits, _ := cfg.Deflate.minBits() // checked by checkConfig
		if d, resp, ok := negotiateDeflate(exts, cfg.Deflate, minBits); ok {
			res.Deflate = d
			res.Header[hExtensions] = []string{resp.String()}
		}
	}
	return res, nil
}

func selectSubprotocol(server, client []string) string {
	for _, s := range server {
		for _, c := range client {
			if s == c {
				return s
			}
		}
	}
	return ""
}
