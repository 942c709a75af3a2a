// Package handshake implements the WebSocket opening handshake of RFC 6455
// section 4, with subprotocol selection and permessage-deflate negotiation
// (RFC 7692 section 7), as pure functions over net/http values: it never
// reads a body, hijacks, dials or writes to a connection. The root package
// github.com/rfc6455/websocket owns connections and builds on this one.
//
// # Server
//
// Server turns an *http.Request into a decision: a *ServerResult saying
// what the 101 Switching Protocols response must carry (AppendResponse
// formats it, with the application's own headers), or a *RejectError holding
// the HTTP status, a short reason and any headers to
// answer with (405 with Allow, 421 for a Host not in AllowedHosts, 426 with
// Sec-WebSocket-Version: 13). Malformed or repeated handshake headers are
// rejected rather than guessed at. NewPolicy checks a ServerConfig and
// parses its patterns once, for servers that keep one configuration; an
// accepted handshake then costs two small allocations (the result and the
// Sec-WebSocket-Accept string).
//
// # Client
//
// NewClientRequest builds the GET request and its Sec-WebSocket-Key for a
// ws:// or wss:// URL; the caller dials req.URL.Host, writes the request with
// req.Write, reads the response with http.ReadResponse and passes it to
// VerifyResponse, which checks it against the offer.
//
// # Origin considerations
//
// Browsers send Origin with every WebSocket handshake and let any page open
// a WebSocket to any server, carrying the user's cookies. Server therefore
// accepts by default only requests without Origin (non-browser clients) or
// whose Origin is the request's own origin: the scheme the request came by
// (http or ws over plain HTTP, https or wss over TLS, as r.TLS says), and
// the host and port of the Host header, default ports filled in.
// ServerConfig's AllowedOrigins adds patterns; AllowAllOrigins disables the
// check and should be combined with authentication that does not rely on
// cookies; CheckOrigin replaces the policy. Behind a proxy that terminates
// TLS, r.TLS is nil although pages are https:// origins: set PublicScheme
// to "https", or TrustForwardedProto when the proxy sets X-Forwarded-Proto.
//
// Comparing Origin with Host does not stop DNS rebinding. An attacker's page
// on evil.example:8080 whose DNS name is re-pointed at 127.0.0.1 (or at an
// intranet address the victim's browser can reach) sends Origin
// http://evil.example:8080 and Host evil.example:8080: same origin. The
// defence is ServerConfig.AllowedHosts, the names this server is really
// reached by; any other Host is refused with 421 Misdirected Request,
// whatever the origin policy. Every server bound to a loopback or private
// address should set it.
//
// # Compression
//
// Deflate describes what both ends agreed: whether each side resets its
// compressor after every message and the LZ77 window each side compresses
// with. DeflateOptions.MinWindowBits states the smallest window the local
// compressor can honour; offers (server) and responses (client) that demand
// a smaller one are declined or rejected. An invalid permessage-deflate offer
// is declined without failing the handshake; an invalid response fails it.
//
// # Errors
//
// Every error wraps one of the exported Err... sentinels; match with
// errors.Is. Server returns *RejectError, the client functions
// *HandshakeError (errors.As).
//
// # Concurrency
//
// All functions are safe for concurrent use. Configuration structs are only
// read and may be shared while nobody modifies them. Returned values are
// freshly allocated and owned by the caller; strings may share memory with
// the input headers.
package handshake
