package handshake

import (
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"net/http"
	"strconv"
	"strings"
)

// Version is the only WebSocket protocol version this package speaks, the
// value of the Sec-WebSocket-Version header (RFC 6455 section 4.1).
const Version = "13"

// GUID is the globally unique identifier appended to Sec-WebSocket-Key
// before hashing to compute Sec-WebSocket-Accept (RFC 6455 section 1.3).
const GUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// AcceptKey returns the Sec-WebSocket-Accept value for a Sec-WebSocket-Key:
// base64(SHA-1(key + GUID)). It does not validate key. It is safe for
// concurrent use.
func AcceptKey(key string) string {
	var buf [24 + len(GUID)]byte
	var sum [sha1.Size]byte
	if len(key) == 24 { // every valid key: hash from the stack
		copy(buf[copy(buf[:], key):], GUID)
		sum = sha1.Sum(buf[:])
	} else {
		sum = sha1.Sum([]byte(key + GUID))
	}
	return base64.StdEncoding.EncodeToString(sum[:])
}

// NewKey returns a fresh Sec-WebSocket-Key: the base64 encoding of 16 bytes
// from crypto/rand. It is safe for concurrent use.
func NewKey() string {
	var b [16]byte
	// crypto/rand.Read never returns an error since Go 1.24 (it crashes
	// the program instead of returning predictable bytes).
	rand.Read(b[:])
	return base64.StdEncoding.EncodeToString(b[:])
}

// validKey reports whether key is the base64 encoding (with padding) of
// exactly 16 bytes, as RFC 6455 section 4.2.1 requires.
func validKey(key string) bool {
	if len(key) != 24 {
		return false
	}
	var b [18]byte
	n, err := strictBase64.Decode(b[:], []byte(key))
	return err == nil && n == 16
}

// Sentinel errors, one per handshake rule. Every error returned by this
// package wraps exactly one of them, so callers match with errors.Is. Server
// rejections are *RejectError; client-side violations are *HandshakeError.
var (
	// ErrBadMethod: the opening handshake request is not a GET (405).
	ErrBadMethod = errors.New("handshake: method is not GET")
	// ErrBadHTTPVersion: the request is older than HTTP/1.1 (400).
	ErrBadHTTPVersion = errors.New("handshake: HTTP version below 1.1")
	// ErrMissingHost: the request has no (or an invalid, or a repeated) Host (400).
	ErrMissingHost = errors.New("handshake: missing or invalid Host")
	// ErrUnexpectedBody: the request announces a body (400). A body would be
	// read as WebSocket frames after the upgrade.
	ErrUnexpectedBody = errors.New("handshake: request has a body")
	// ErrNotUpgrade: Upgrade lacks the token "websocket" or Connection lacks
	// the token "upgrade" (server: 426 when Upgrade is absent, 400 otherwise).
	ErrNotUpgrade = errors.New("handshake: not a websocket upgrade")
	// ErrBadVersion: Sec-WebSocket-Version is absent or not 13 (426), or
	// repeated (400).
	ErrBadVersion = errors.New("handshake: unsupported Sec-WebSocket-Version")
	// ErrMissingKey: Sec-WebSocket-Key is absent (400).
	ErrMissingKey = errors.New("handshake: missing Sec-WebSocket-Key")
	// ErrBadKey: Sec-WebSocket-Key is repeated or is not base64 of 16 bytes (400).
	ErrBadKey = errors.New("handshake: invalid Sec-WebSocket-Key")
	// ErrOriginNotAllowed: the Origin is not allowed by the origin policy, or
	// is malformed or repeated (403).
	ErrOriginNotAllowed = errors.New("handshake: origin not allowed")
	// ErrHostNotAllowed: the Host is not in ServerConfig.AllowedHosts (421).
	ErrHostNotAllowed = errors.New("handshake: host not allowed")
	// ErrMalformedSubprotocols: Sec-WebSocket-Protocol is not a token list (400).
	ErrMalformedSubprotocols = errors.New("handshake: malformed Sec-WebSocket-Protocol")
	// ErrMalformedExtensions: Sec-WebSocket-Extensions does not follow the
	// RFC 6455 section 9.1 grammar (server: 400; client: response rejected).
	ErrMalformedExtensions = errors.New("handshake: malformed Sec-WebSocket-Extensions")
	// ErrInvalidConfig: a ServerConfig, ClientConfig or DeflateOptions field
	// is out of range (server: 500), or ClientConfig.Header is invalid or
	// tries to set a handshake header.
	ErrInvalidConfig = errors.New("handshake: invalid configuration")
	// ErrBadURL: the URL given to NewClientRequest is not a ws, wss, http or
	// https URL with a host and without user info or fragment.
	ErrBadURL = errors.New("handshake: invalid websocket URL")
	// ErrBadStatus: the response status is not 101 Switching Protocols.
	ErrBadStatus = errors.New("handshake: response status is not 101")
	// ErrBadAccept: Sec-WebSocket-Accept is absent, repeated or wrong.
	ErrBadAccept = errors.New("handshake: invalid Sec-WebSocket-Accept")
	// ErrBadSubprotocol: the response selects a subprotocol that was not
	// offered, or several.
	ErrBadSubprotocol = errors.New("handshake: invalid Sec-WebSocket-Protocol in response")
	// ErrBadExtension: the response accepts an extension that was not
	// offered, accepts one twice, or carries parameters that are invalid or
	// that the client cannot honour.
	ErrBadExtension = errors.New("handshake: invalid Sec-WebSocket-Extensions in response")
)

// RejectError is the decision to refuse an opening handshake: the server
// should answer with Status, the headers in Header and a short body such as
// Reason, and must not upgrade the connection.
type RejectError struct {
	Status int         // HTTP status to answer with: 400, 403, 405, 421, 426 or 500
	Reason string      // short, fixed text (never echoes request data); safe to show to the client
	Header http.Header // extra response headers (405: Allow; 426: Upgrade, Connection, Sec-WebSocket-Version); may be nil
	Err    error       // one of the sentinel errors of this package, for errors.Is
	// Detail says more, for logs and the caller (origin and host refusals
	// name the Origin, the Host and the scheme compared; configuration
	// errors name the field). It may quote request data (quoted, escaped,
	// truncated): never send it to the client. May be "".
	Detail string
}

// Error returns "handshake: rejected with STATUS: REASON", followed by
// ": DETAIL" when Detail is set.
func (e *RejectError) Error() string {
	s := "handshake: rejected with " + strconv.Itoa(e.Status) + ": " + e.Reason
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}

// Unwrap returns e.Err.
func (e *RejectError) Unwrap() error { return e.Err }

// HandshakeError is a violation found on the client side (NewClientRequest
// or VerifyResponse): Err is the sentinel naming the rule, Detail says more.
type HandshakeError struct {
	Err    error  // one of the sentinel errors of this package
	Detail string // what exactly was wrong; may quote (sanitised) peer data
}

// Error returns the sentinel's text followed by the detail.
func (e *HandshakeError) Error() string {
	if e.Detail == "" {
		return e.Err.Error()
	}
	return e.Err.Error() + ": " + e.Detail
}

// Unwrap returns e.Err.
func (e *HandshakeError) Unwrap() error { return e.Err }

func hsErr(sentinel error, detail string) *HandshakeError {
	return &HandshakeError{Err: sentinel, Detail: detail}
}

// quoteDetail renders peer data for an error message: quoted, escaped,
// truncated.
func quoteDetail(s string) string {
	const max = 64
	if len(s) > max {
		return strconv.Quote(s[:max]) + "..."
	}
	return strconv.Quote(s)
}

// Canonical header keys used by this package.
const (
	hUpgrade    = "Upgrade"
	hConnection = "Connection"
	hKey        = "Sec-Websocket-Key"
	hVersion    = "Sec-Websocket-Version"
	hAccept     = "Sec-Websocket-Accept"
	hProtocol   = "Sec-Websocket-Protocol"
	hExtensions = "Sec-Websocket-Extensions"
	hOrigin     = "Origin"
	hHost       = "Host"

	hForwardedProto = "X-Forwarded-Proto"
)

// hasToken reports whether any of the comma-separated values contains token,
// compared ASCII case-insensitively. (golang.org/x/net/http/httpguts has the
// same function but imports golang.org/x/net/idna, which needs
// golang.org/x/text, a module this repository does not require.)
func hasToken(values []string, token string) bool {
	for _, v := range values {
		for v != "" {
			var elem string
			elem, v, _ = strings.Cut(v, ",")
			if strings.EqualFold(strings.Trim(elem, " \t"), token) {
				return true
			}
		}
	}
	return false
}

// validHost reports whether h is a plausible Host header value: non-empty
// and made only of the bytes RFC 3986 allows in host [":" port] (the same
// check as httpguts.ValidHostHeader).
func validHost(h string) bool {
	if h == "" {
		return false
	}
	for i := 0; i < len(h); i++ {
		c := h[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9':
		case strings.IndexByte("!$%&'()*+,-.:;=[]_~", c) >= 0:
		default:
			return false
		}
	}
	return true
}

// tchar per RFC 7230 section 3.2.6.
var isTchar = [256]bool{}

func init() {
	for c := '0'; c <= '9'; c++ {
		isTchar[c] = true
	}
	for c := 'a'; c <= 'z'; c++ {
		isTchar[c] = true
		isTchar[c-'a'+'A'] = true
	}
	for _, c := range "!#$%&'*+-.^_`|~" {
		isTchar[c] = true
	}
}

func isToken(s string) bool {
	if s == "" {
		return false
	}
	for i := 0; i < len(s); i++ {
		if !isTchar[s[i]] {
			return false
		}
	}
	return true
}

func isOWS(c byte) bool { return c == ' ' || c == '\t' }

// parseTokenList appends the tokens of a comma-separated list (RFC 7230
// section 7 #rule, empty elements allowed) to dst. ok is false when an
// element is not a token.
func parseTokenList(dst []string, s string) (_ []string, ok bool) {
	i := 0
	for i < len(s) {
		for i < len(s) && isOWS(s[i]) {
			i++
		}
		start := i
		for i < len(s) && isTchar[s[i]] {
			i++
		}
		tok := s[start:i]
		for i < len(s) && isOWS(s[i]) {
			i++
		}
		if i < len(s) {
			if s[i] != ',' {
				return dst, false
			}
			i++
		}
		if tok != "" {
			dst = append(dst, tok)
		}
	}
	return dst, true
}

// validTokenList reports whether s is a comma-separated list of tokens
// (RFC 7230 section 7 #rule, empty elements allowed).
func validTokenList(s string) bool {
	for i := 0; i < len(s); {
		for i < len(s) && isOWS(s[i]) {
			i++
		}
		for i < len(s) && isTchar[s[i]] {
			i++
		}
		for i < len(s) && isOWS(s[i]) {
			i++
		}
		if i < len(s) {
			if s[i] != ',' {
				return false
			}
			i++
		}
	}
	return true
}

// tokenListHas reports whether one of the valid token lists in values has
// the element tok (exact, case-sensitive comparison).
func tokenListHas(values []string, tok string) bool {
	for _, v := range values {
		for v != "" {
			var elem string
			elem, v, _ = strings.Cut(v, ",")
			if strings.Trim(elem, " \t") == tok {
				return true
			}
		}
	}
	return false
}

// strictBase64 is made once: Strict copies the whole Encoding.
var strictBase64 = base64.StdEncoding.Strict()
