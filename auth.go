package websocket

import (
	"crypto/hmac"
	"crypto/pbkdf2"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"net/http"
	"strings"
	"sync"
	"time"
)

// Token transports. ServeWSWithConfig authenticates the upgrade request
// before anything is upgraded, taking the bearer token from
//
//   - the Authorization header: "Authorization: Bearer <token>";
//   - the Sec-WebSocket-Protocol header, for browsers, which cannot set
//     headers: an entry "bearer.<token>" (TokenSubprotocolPrefix), or the
//     entry "access_token" (TokenSubprotocolMarker) followed by the token
//     as the next entry. Token entries are never chosen as the
//     subprotocol, and a browser fails a connection that offered
//     subprotocols when the server picks none, so the client must also
//     offer a real protocol the server speaks, e.g. in JavaScript
//     new WebSocket(url, ["chat.v1", "bearer." + token]);
//   - the query string (?token= or ?access_token=), only when
//     AllowQueryToken is set: URLs end up in logs and browser history.
//
// A request carrying tokens in more than one place is refused.
const (
	// TokenSubprotocolPrefix starts a Sec-WebSocket-Protocol entry that
	// carries a bearer token: "bearer.<token>". Matched case-insensitively.
	TokenSubprotocolPrefix = "bearer."
	// TokenSubprotocolMarker is a Sec-WebSocket-Protocol entry announcing
	// that the next entry is a bearer token. Matched case-insensitively.
	TokenSubprotocolMarker = "access_token"
	// RoomPasswordHeader is the request header carrying a room password
	// for RoomAuthorizer. Passwords are not accepted in the query string.
	RoomPasswordHeader = "X-Room-Password"
	// MinSecretLength is the shortest HS256 secret accepted, in bytes.
	MinSecretLength = 32
	// MaxTokenLength is the longest token accepted, in bytes.
	MaxTokenLength = 8 << 10
	// DefaultTokenLeeway is the clock skew allowed on exp and nbf.
	DefaultTokenLeeway = 30 * time.Second
)

// Authentication errors. Match them with errors.Is. Every error of a token
// that was present but not accepted matches ErrInvalidToken.
var (
	// ErrMissingToken: the request carries no bearer token.
	ErrMissingToken = errors.New("websocket: missing bearer token")
	// ErrInvalidToken: the token is malformed, uses another algorithm than
	// HS256, has a bad signature, or fails a claim check.
	ErrInvalidToken = errors.New("websocket: invalid token")
	// ErrTokenExpired: the token's exp is past (beyond the leeway). It
	// also matches ErrInvalidToken.
	ErrTokenExpired = errors.New("websocket: token expired")
	// ErrTokenNotYetValid: the token's nbf is ahead (beyond the leeway).
	// It also matches ErrInvalidToken.
	ErrTokenNotYetValid = errors.New("websocket: token not yet valid")
	// ErrWeakJWTSecret: an HS256 secret shorter than MinSecretLength.
	ErrWeakJWTSecret = errors.New("websocket: HS256 secret shorter than 32 bytes")
	// ErrQueryTokenNotAllowed: a token in the query string while
	// AllowQueryToken is off.
	ErrQueryTokenNotAllowed = errors.New("websocket: token in query string not allowed")
	// ErrMultipleTokens: tokens in more than one place, or more than one
	// Authorization header.
	ErrMultipleTokens = errors.New("websocket: more than one token in request")
)

// UserInfo is what an authenticated connection's token says about its
// user. ServeWSWithConfig hands it to the message handler (Message.User)
// and records it in the hub (Hub.User). Treat it as read-only.
type UserInfo struct {
	ID     string         `json:"id"`    // claim "sub"
	Name   string         `json:"name"`  // claim "name"
	Email  string         `json:"email"` // claim "email"
	Roles  []string       `json:"roles"` // claim "roles" (strings only)
	Claims map[string]any `json:"claims"`
}

// ExtractUserInfo builds a UserInfo from verified claims. Claims is the
// map itself, not a copy.
func ExtractUserInfo(claims map[string]any) *UserInfo {
	u := &UserInfo{Claims: claims}
	u.ID, _ = claims["sub"].(string)
	u.Name, _ = claims["name"].(string)
	u.Email, _ = claims["email"].(string)
	switch v := claims["roles"].(type) {
	case []any:
		for _, r := range v {
			if s, ok := r.(string); ok {
				u.Roles = append(u.Roles, s)
			}
		}
	case []string:
		u.Roles = v
	}
	return u
}

// TokenAuthenticator verifies a bearer token and returns its claims. It is
// called from many goroutines at once. An error refuses the connection
// with 401; return errors matching ErrInvalidToken (or ErrTokenExpired...)
// so that the response says invalid_token.
type TokenAuthenticator interface {
	AuthenticateToken(token string) (map[string]any, error)
}

// TokenAuthenticatorFunc adapts a function to TokenAuthenticator.
type TokenAuthenticatorFunc func(token string) (map[string]any, error)

// AuthenticateToken calls f(token).
func (f TokenAuthenticatorFunc) AuthenticateToken(token string) (map[string]any, error) {
	return f(token)
}

// SimpleHS256TokenAuth verifies compact JWTs signed with HMAC-SHA256
// (RFC 7519 with RFC 7515's JWS compact serialization), with the standard
// library only. It accepts a token when:
//
//   - it has three base64url (unpadded, canonical) parts and is at most
//     MaxTokenLength bytes;
//   - the header's alg is exactly "HS256" ("none" and every other
//     algorithm are refused, whatever the signature) and it has no crit;
//   - the signature is the HMAC of the first two parts, compared in
//     constant time;
//   - the payload is a JSON object whose exp, if present, is a number not
//     in the past and whose nbf, if present, is a number not in the
//     future, both with Leeway of tolerance.
//
// Issuer, audience and other claims are the application's to check (wrap
// the authenticator). The fields may be set before first use only; the
// methods are then safe for concurrent use.
type SimpleHS256TokenAuth struct {
	secret []byte
	// Leeway is the clock skew allowed on exp and nbf (default
	// DefaultTokenLeeway; a negative value means none).
	Leeway time.Duration
	// Now returns the current time; nil means time.Now.
	Now func() time.Time
}

// NewSimpleHS256TokenAuth returns an HS256 authenticator with secret
// (copied), or ErrWeakJWTSecret when it is shorter than MinSecretLength.
func NewSimpleHS256TokenAuth(secret []byte) (*SimpleHS256TokenAuth, error) {
	if len(secret) < MinSecretLength {
		return nil, fmt.Errorf("%w: got %d bytes", ErrWeakJWTSecret, len(secret))
	}
	return &SimpleHS256TokenAuth{secret: append([]byte(nil), secret...), Leeway: DefaultTokenLeeway}, nil
}

var authB64 = base64.RawURLEncoding.Strict()

func authInvalid(detail string) error { return fmt.Errorf("%w: %s", ErrInvalidToken, detail) }

// AuthenticateToken verifies token and returns its claims (a fresh map,
// the caller's). Errors match ErrInvalidToken, and ErrTokenExpired or
// ErrTokenNotYetValid for those cases.
func (a *SimpleHS256TokenAuth) AuthenticateToken(token string) (map[string]any, error) {
	if len(token) > MaxTokenLength {
		return nil, authInvalid("too long")
	}
	h64, rest, ok1 := strings.Cut(token, ".")
	p64, s64, ok2 := strings.Cut(rest, ".")
	if !ok1 || !ok2 || strings.Contains(s64, ".") {
		return nil, authInvalid("not three parts")
	}
	hdrJSON, err := authB64.DecodeString(h64)
	if err != nil {
		return nil, authInvalid("header encoding")
	}
	var hdr map[string]any
	if err := json.Unmarshal(hdrJSON, &hdr); err != nil || hdr == nil {
		return nil, authInvalid("header is not a JSON object")
	}
	if alg, _ := hdr["alg"].(string); alg != "HS256" {
		return nil, authInvalid(fmt.Sprintf("alg %q not accepted", hdr["alg"]))
	}
	if _, has := hdr["crit"]; has {
		return nil, authInvalid("crit header not supported")
	}
	sig, err := authB64.DecodeString(s64)
	if err != nil || len(sig) != sha256.Size {
		return nil, authInvalid("signature encoding")
	}
	mac := hmac.New(sha256.New, a.secret)
	mac.Write([]byte(token[:len(h64)+1+len(p64)]))
	if !hmac.Equal(mac.Sum(nil), sig) {
		return nil, authInvalid("bad signature")
	}
	payload, err := authB64.DecodeString(p64)
	if err != nil {
		return nil, authInvalid("payload encoding")
	}
	var claims map[string]any
	if err := json.Unmarshal(payload, &claims); err != nil || claims == nil {
		return nil, authInvalid("payload is not a JSON object")
	}
	now := time.Now()
	if a.Now != nil {
		now = a.Now()
	}
	leeway := a.Leeway
	if leeway < 0 {
		leeway = 0
	}
	if v, has := claims["exp"]; has {
		exp, ok := v.(float64)
		if !ok {
			return nil, authInvalid("exp is not a number")
		}
		if now.Add(-leeway).After(authTime(exp)) {
			return nil, fmt.Errorf("%w: %w", ErrInvalidToken, ErrTokenExpired)
		}
	}
	if v, has := claims["nbf"]; has {
		nbf, ok := v.(float64)
		if !ok {
			return nil, authInvalid("nbf is not a number")
		}
		if now.Add(leeway).Before(authTime(nbf)) {
			return nil, fmt.Errorf("%w: %w", ErrInvalidToken, ErrTokenNotYetValid)
		}
	}
	return claims, nil
}

// authTime converts a NumericDate (seconds, possibly fractional).
func authTime(sec float64) time.Time {
	const maxSec = 1 << 40 // far beyond any real date; avoids overflow
	switch {
	case sec > maxSec:
		sec = maxSec
	case sec < -maxSec:
		sec = -maxSec
	}
	whole := math.Floor(sec)
	return time.Unix(int64(whole), int64((sec-whole)*1e9))
}

// Sign returns a compact HS256 JWT carrying claims, signed with the
// authenticator's secret: for tests, demos, and services that issue their
// own tokens. Add "exp" (seconds since the epoch) to bound its life.
func (a *SimpleHS256TokenAuth) Sign(claims map[string]any) (string, error) {
	payload, err := json.Marshal(claims)
	if err != nil {
		return "", fmt.Errorf("websocket: sign token: %w", err)
	}
	s := authB64.EncodeToString([]byte(`{"alg":"HS256","typ":"JWT"}`)) + "." + authB64.EncodeToString(payload)
	mac := hmac.New(sha256.New, a.secret)
	mac.Write([]byte(s))
	return s + "." + authB64.EncodeToString(mac.Sum(nil)), nil
}

// ---- finding the token in a request ----

// authSource says where a token came from.
type authSource uint8

const (
	authNone authSource = iota
	authHeader
	authProtocol
	authQuery
)

// authRequest is what the upgrade request says about authentication.
type authRequest struct {
	token  string
	source authSource
	// protocols are the offered Sec-WebSocket-Protocol entries that do
	// not carry the token.
	protocols []string
}

// authFromRequest finds the bearer token of r. Errors:
// ErrQueryTokenNotAllowed, ErrMultipleTokens, ErrInvalidToken (an empty or
// oversized token where one was announced).
func authFromRequest(r *http.Request, allowQuery bool) (authRequest, error) {
	var ar authRequest
	found := func(tok string, src authSource) error {
		if ar.source != authNone {
			return ErrMultipleTokens
		}
		if tok == "" || len(tok) > MaxTokenLength {
			return authInvalid("empty or oversized token")
		}
		ar.token, ar.source = tok, src
		return nil
	}
	if vals := r.Header.Values("Authorization"); len(vals) > 0 {
		if len(vals) > 1 {
			return ar, ErrMultipleTokens
		}
		scheme, rest, _ := strings.Cut(strings.TrimSpace(vals[0]), " ")
		if strings.EqualFold(scheme, "Bearer") {
			if err := found(strings.TrimSpace(rest), authHeader); err != nil {
				return ar, err
			}
		}
	}
	var entries []string
	for _, v := range r.Header.Values("Sec-WebSocket-Protocol") {
		for _, e := range strings.Split(v, ",") {
			if e = strings.TrimSpace(e); e != "" {
				entries = append(entries, e)
			}
		}
	}
	for i := 0; i < len(entries); i++ {
		e := entries[i]
		switch {
		case len(e) >= len(TokenSubprotocolPrefix) && strings.EqualFold(e[:len(TokenSubprotocolPrefix)], TokenSubprotocolPrefix):
			if err := found(e[len(TokenSubprotocolPrefix):], authProtocol); err != nil {
				return ar, err
			}
		case strings.EqualFold(e, TokenSubprotocolMarker):
			tok := ""
			if i+1 < len(entries) {
				i++
				tok = entries[i]
			}
			if err := found(tok, authProtocol); err != nil {
				return ar, err
			}
		default:
			ar.protocols = append(ar.protocols, e)
		}
	}
	q := r.URL.Query()
	for _, name := range []string{"token", "access_token"} {
		vs, has := q[name]
		if !has {
			continue
		}
		if !allowQuery {
			return ar, ErrQueryTokenNotAllowed
		}
		if len(vs) > 1 {
			return ar, ErrMultipleTokens
		}
		if err := found(vs[0], authQuery); err != nil {
			return ar, err
		}
	}
	return ar, nil
}

// authReject answers an unauthenticated request: 401 with a Bearer
// challenge (RFC 6750 section 3).
func authReject(w http.ResponseWriter, err error) {
	challenge := `Bearer realm="websocket"`
	switch {
	case errors.Is(err, ErrMissingToken):
	case errors.Is(err, ErrQueryTokenNotAllowed):
		challenge += `, error="invalid_request", error_description="token in query string not allowed"`
	case errors.Is(err, ErrMultipleTokens):
		challenge += `, error="invalid_request", error_description="more than one token"`
	case errors.Is(err, ErrTokenExpired):
		challenge += `, error="invalid_token", error_description="token expired"`
	case errors.Is(err, ErrTokenNotYetValid):
		challenge += `, error="invalid_token", error_description="token not yet valid"`
	default:
		challenge += `, error="invalid_token"`
	}
	w.Header().Set("WWW-Authenticate", challenge)
	http.Error(w, "Unauthorized", http.StatusUnauthorized)
}

// ---- rooms ----

// RoomAuthorizer decides at join time whether a connection may enter a
// room, given the password it provided (the RoomPasswordHeader value, ""
// when absent). It is called from many goroutines at once; a false answer
// refuses the upgrade with 403.
type RoomAuthorizer interface {
	AuthorizeRoom(room, password string) bool
}

// RoomAuthorizerFunc adapts a function to RoomAuthorizer.
type RoomAuthorizerFunc func(room, password string) bool

// AuthorizeRoom calls f(room, password).
func (f RoomAuthorizerFunc) AuthorizeRoom(room, password string) bool { return f(room, password) }

// Room password hashing: PBKDF2-HMAC-SHA256. The iteration count weighs
// resistance to offline guessing of a leaked hash against the CPU every
// join costs; room passwords are shared secrets, not account passwords.
const (
	authPBKDF2Iter = 10_000
	authSaltLen    = 16
	authHashLen    = 32
)

type authRoomHash struct {
	salt [authSaltLen]byte
	hash [authHashLen]byte
}

// SimpleRoomAuth is a RoomAuthorizer with one password per room. Rooms
// without a password are open to every authenticated connection.
// Passwords are stored as salted PBKDF2-HMAC-SHA256 hashes and checked in
// constant time. The zero value is not usable; make one with
// NewSimpleRoomAuth. It is safe for concurrent use.
type SimpleRoomAuth struct {
	mu    sync.RWMutex
	rooms map[string]authRoomHash
}

// NewSimpleRoomAuth returns a SimpleRoomAuth without passwords.
func NewSimpleRoomAuth() *SimpleRoomAuth {
	return &SimpleRoomAuth{rooms: make(map[string]authRoomHash)}
}

func authHash(password string, salt []byte) ([authHashLen]byte, error) {
	var out [authHashLen]byte
	k, err := pbkdf2.Key(sha256.New, password, salt, authPBKDF2Iter, authHashLen)
	if err != nil {
		return out, fmt.Errorf("websocket: hash room password: %w", err)
	}
	copy(out[:], k)
	return out, nil
}

// SetRoomPassword sets room's password (an empty password is refused with
// an error; use RemoveRoomPassword to open a room). Only a salted hash is
// kept.
func (s *SimpleRoomAuth) SetRoomPassword(room, password string) error {
	if password == "" {
		return errors.New("websocket: empty room password")
	}
	var rh authRoomHash
	if _, err := rand.Read(rh.salt[:]); err != nil {
		return fmt.Errorf("websocket: room password salt: %w", err)
	}
	h, err := authHash(password, rh.salt[:])
	if err != nil {
		return err
	}
	rh.hash = h
	s.mu.Lock()
	s.rooms[room] = rh
	s.mu.Unlock()
	return nil
}

// RemoveRoomPassword opens room to everyone.
func (s *SimpleRoomAuth) RemoveRoomPassword(room string) {
	s.mu.Lock()
	delete(s.rooms, room)
	s.mu.Unlock()
}

// AuthorizeRoom reports whether password opens room: true for a room
// without password, else whether its hash matches (constant-time
// comparison of the PBKDF2 outputs).
func (s *SimpleRoomAuth) AuthorizeRoom(room, password string) bool {
	s.mu.RLock()
	rh, has := s.rooms[room]
	s.mu.RUnlock()
	if !has {
		return true
	}
	h, err := authHash(password, rh.salt[:])
	if err != nil {
		return false
	}
	return subtle.ConstantTimeCompare(h[:], rh.hash[:]) == 1
}

// authSecretEqual compares two secrets in time independent of their
// contents and of where they differ (both are hashed first, which also
// hides their lengths).
func authSecretEqual(a, b []byte) bool {
	ha, hb := sha256.Sum256(a), sha256.Sum256(b)
	return subtle.ConstantTimeCompare(ha[:], hb[:]) == 1
}
