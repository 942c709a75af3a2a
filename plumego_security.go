// This file holds Plumego's security names (see plumego.go for what the
// Plumego-compat files are): password strength, SecurityConfig,
// SecureRoomAuth, secrets and keys, request-aware room authorization, and
// Server.Health.

package websocket

import (
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync/atomic"
	"unicode"

	"github.com/rfc6455/websocket/handshake"
)

// PasswordStrengthConfig is the room password policy of
// ValidateRoomPassword and SecureRoomAuth (Plumego's
// security/password.PasswordStrengthConfig).
type PasswordStrengthConfig struct {
	MinLength        int  // in bytes
	RequireUppercase bool // a Unicode upper-case letter
	RequireLowercase bool // a Unicode lower-case letter
	RequireDigit     bool // a Unicode digit
	RequireSpecial   bool // a Unicode punctuation or symbol character
}

// DefaultPasswordStrengthConfig returns Plumego's default policy: at least
// 8 bytes with an upper-case letter, a lower-case letter and a digit.
func DefaultPasswordStrengthConfig() PasswordStrengthConfig {
	return PasswordStrengthConfig{MinLength: 8, RequireUppercase: true, RequireLowercase: true, RequireDigit: true}
}

// strong reports whether pwd meets the policy.
func (p PasswordStrengthConfig) strong(pwd string) bool {
	if len(pwd) < p.MinLength {
		return false
	}
	var upper, lower, digit, special bool
	for _, r := range pwd {
		switch {
		case unicode.IsUpper(r):
			upper = true
		case unicode.IsLower(r):
			lower = true
		case unicode.IsDigit(r):
			digit = true
		case unicode.IsPunct(r) || unicode.IsSymbol(r):
			special = true
		}
	}
	return (upper || !p.RequireUppercase) && (lower || !p.RequireLowercase) &&
		(digit || !p.RequireDigit) && (special || !p.RequireSpecial)
}

// ValidateRoomPassword checks a room password: an empty one is a
// *ValidationError; one that does not meet cfg is ErrWeakRoomPassword when
// enforce is set, and accepted otherwise.
func ValidateRoomPassword(pwd string, cfg PasswordStrengthConfig, enforce bool) error {
	if pwd == "" {
		return NewValidationError("password", "cannot be empty")
	}
	if enforce && !cfg.strong(pwd) {
		return ErrWeakRoomPassword
	}
	return nil
}

// SecurityConfig configures NewSecureRoomAuth (and ValidateSecurityConfig).
type SecurityConfig struct {
	// JWTSecret is the HS256 secret. MinJWTSecretLength raises the
	// minimum length; it can never go below MinSecretLength (32 bytes),
	// where Plumego lets it be lowered.
	JWTSecret          []byte
	MinJWTSecretLength int
	// RoomPasswordConfig is the room password policy (zero MinLength:
	// DefaultPasswordStrengthConfig). EnforcePasswordStrength refuses weak
	// passwords; otherwise they are accepted and logged at Warn.
	RoomPasswordConfig      PasswordStrengthConfig
	EnforcePasswordStrength bool
	// MaxMessageSize is reported by SecureRoomAuth.MaxMessageSize for
	// use as a read limit (default 16 MiB); SecureRoomAuth does not
	// enforce it.
	MaxMessageSize int64
	// EnableDebugLogging logs failed token verifications at Debug.
	EnableDebugLogging bool
	// Logger receives the security events; nil means no logging.
	Logger *slog.Logger
	// RejectOnQueueFull, MaxConnectionRate and EnableMetrics have no
	// effect, as in Plumego's SecureRoomAuth (metrics are always counted;
	// the send policy is the hub's SendBehavior).
	RejectOnQueueFull bool
	MaxConnectionRate int
	EnableMetrics     bool
}

// ValidateSecurityConfig checks cfg: JWTSecret at least
// max(MinJWTSecretLength, MinSecretLength) bytes (else an error matching
// ErrWeakJWTSecret), MaxMessageSize not negative (ErrInvalidConfig). A
// secret containing "secret", "password" or "123456" is logged at Warn.
func ValidateSecurityConfig(cfg SecurityConfig) error {
	min := max(cfg.MinJWTSecretLength, MinSecretLength)
	if len(cfg.JWTSecret) < min {
		return fmt.Errorf("%w: got %d bytes, minimum %d", ErrWeakJWTSecret, len(cfg.JWTSecret), min)
	}
	if cfg.MaxMessageSize < 0 {
		return configErr(ErrInvalidConfig, "MaxMessageSize is %d", cfg.MaxMessageSize)
	}
	if cfg.Logger != nil {
		s := strings.ToLower(string(cfg.JWTSecret))
		if strings.Contains(s, "secret") || strings.Contains(s, "password") || strings.Contains(s, "123456") {
			cfg.Logger.Warn("websocket: JWT secret contains a common weak pattern")
		}
	}
	return nil
}

// SecurityMetrics counts a SecureRoomAuth's decisions.
type SecurityMetrics struct {
	// InvalidJWTSecrets counts tokens that failed verification.
	InvalidJWTSecrets uint64 `json:"invalid_jwt_secrets"`
	// WeakRoomPasswords counts room passwords refused by SetRoomPassword.
	WeakRoomPasswords uint64 `json:"weak_room_passwords"`
	// SuccessfulAuthentications counts tokens verified.
	SuccessfulAuthentications uint64 `json:"successful_authentications"`
}

// SecureRoomAuth is an HS256 TokenAuthenticator and a room-password
// RoomAuthorizer in one (so one value serves as both WebSocketConfig's
// TokenAuth and RoomAuth), with a password-strength policy and counters.
// Room passwords are stored and checked by the embedded SimpleRoomAuth
// (salted PBKDF2, constant-time comparison); tokens are verified by a
// SimpleHS256TokenAuth. It is safe for concurrent use.
type SecureRoomAuth struct {
	*SimpleRoomAuth
	tokens *SimpleHS256TokenAuth
	cfg    SecurityConfig

	invalidTokens, weakPasswords, authenticated atomic.Uint64
}

// NewSecureRoomAuth returns a SecureRoomAuth with secret (or
// cfg.JWTSecret; both set and different is an error matching
// ErrInvalidConfig), after ValidateSecurityConfig.
func NewSecureRoomAuth(secret []byte, cfg SecurityConfig) (*SecureRoomAuth, error) {
	if len(cfg.JWTSecret) > 0 {
		if len(secret) > 0 && !authSecretEqual(secret, cfg.JWTSecret) {
			return nil, configErr(ErrInvalidConfig, "secret and SecurityConfig.JWTSecret differ")
		}
		secret = cfg.JWTSecret
	}
	cfg.JWTSecret = secret
	if err := ValidateSecurityConfig(cfg); err != nil {
		return nil, err
	}
	tokens, err := NewSimpleHS256TokenAuth(secret)
	if err != nil {
		return nil, err
	}
	cfg.JWTSecret = nil // tokens holds its own copy
	if cfg.MaxMessageSize == 0 {
		cfg.MaxMessageSize = 16 << 20
	}
	if cfg.RoomPasswordConfig.MinLength == 0 {
		cfg.RoomPasswordConfig = DefaultPasswordStrengthConfig()
	}
	return &SecureRoomAuth{SimpleRoomAuth: NewSimpleRoomAuth(), tokens: tokens, cfg: cfg}, nil
}

// MaxMessageSize returns SecurityConfig.MaxMessageSize (default 16 MiB),
// for use as WebSocketConfig.ReadLimit.
func (s *SecureRoomAuth) MaxMessageSize() int64 { return s.cfg.MaxMessageSize }

// SetRoomPassword sets room's password after ValidateRoomPassword with the
// configured policy; a refused password is counted in WeakRoomPasswords.
func (s *SecureRoomAuth) SetRoomPassword(room, pwd string) error {
	if err := ValidateRoomPassword(pwd, s.cfg.RoomPasswordConfig, s.cfg.EnforcePasswordStrength); err != nil {
		s.weakPasswords.Add(1)
		return err
	}
	if l := s.cfg.Logger; l != nil && !s.cfg.RoomPasswordConfig.strong(pwd) {
		l.Warn("websocket: weak room password accepted", "room", SanitizeForLogging([]byte(room), 0))
	}
	return s.SimpleRoomAuth.SetRoomPassword(room, pwd)
}

// AuthenticateToken verifies an HS256 token (see SimpleHS256TokenAuth)
// and counts the outcome.
func (s *SecureRoomAuth) AuthenticateToken(token string) (map[string]any, error) {
	claims, err := s.tokens.AuthenticateToken(token)
	if err != nil {
		s.invalidTokens.Add(1)
		if l := s.cfg.Logger; l != nil && s.cfg.EnableDebugLogging {
			l.Debug("websocket: token verification failed", "err", err)
		}
		return nil, err
	}
	s.authenticated.Add(1)
	return claims, nil
}

// VerifyJWT is AuthenticateToken, under its Plumego name.
//
// Deprecated: use AuthenticateToken.
func (s *SecureRoomAuth) VerifyJWT(token string) (map[string]any, error) {
	return s.AuthenticateToken(token)
}

// GetMetrics returns a snapshot of the counters.
func (s *SecureRoomAuth) GetMetrics() SecurityMetrics {
	return SecurityMetrics{
		InvalidJWTSecrets:         s.invalidTokens.Load(),
		WeakRoomPasswords:         s.weakPasswords.Load(),
		SuccessfulAuthentications: s.authenticated.Load(),
	}
}

// ResetMetrics sets the counters to zero.
func (s *SecureRoomAuth) ResetMetrics() {
	s.invalidTokens.Store(0)
	s.weakPasswords.Store(0)
	s.authenticated.Store(0)
}

// maxSecretLength bounds GenerateSecureSecret.
const maxSecretLength = 4096

// GenerateSecureSecret returns length random bytes from crypto/rand, for
// an HS256 secret. A length below MinSecretLength is a *ValidationError,
// as in Plumego; so is one above 4096 bytes, which Plumego would allocate.
func GenerateSecureSecret(length int) ([]byte, error) {
	if length < MinSecretLength {
		return nil, NewValidationError("secret", fmt.Sprintf("length should be at least %d bytes", MinSecretLength))
	}
	if length > maxSecretLength {
		return nil, NewValidationError("secret", fmt.Sprintf("length should be at most %d bytes", maxSecretLength))
	}
	b := make([]byte, length)
	if _, err := rand.Read(b); err != nil {
		return nil, err
	}
	return b, nil
}

// ValidateWebSocketKey checks a Sec-WebSocket-Key value by the rule the
// opening handshake applies (RFC 6455 section 4.2.1: base64 of 16 bytes):
// nil, or an error matching ErrInvalidWebSocketKey (and, for an empty key,
// handshake.ErrMissingKey). Upgrade and ServeWSWithConfig check the key
// themselves.
func ValidateWebSocketKey(key string) error {
	if key == "" {
		return fmt.Errorf("%w (%w)", handshake.ErrMissingKey, ErrInvalidWebSocketKey)
	}
	var b [18]byte
	if len(key) != 24 {
		return fmt.Errorf("%w: %d characters, want 24", ErrInvalidWebSocketKey, len(key))
	}
	if n, err := base64.StdEncoding.Strict().Decode(b[:], []byte(key)); err != nil || n != 16 {
		return fmt.Errorf("%w: not the base64 encoding of 16 bytes", ErrInvalidWebSocketKey)
	}
	return nil
}

// ---- request-aware room authorization ----

// RoomAuthorization is what a RoomRequestAuthorizer decides on: the
// upgrade request, the room and password, and the authenticated user.
type RoomAuthorization struct {
	// Request is the upgrade request (not yet upgraded; read-only).
	Request *http.Request
	// Room is the room asked for; Password the RoomPasswordHeader value.
	Room     string
	Password string
	// User is the authenticated user and TokenClaims its claims; both nil
	// and Anonymous true when the request had no token
	// (AllowUnauthenticated).
	User        *UserInfo
	TokenClaims map[string]any
	Anonymous   bool
	// QueryTokenOK reports that the token came from the query string,
	// which AllowQueryToken permitted.
	QueryTokenOK bool
}

// RoomRequestAuthorizer decides room access with the request and the
// user, for policies beyond a shared room password (roles, claims,
// headers). In Plumego a RoomAuth value may implement it; here its method
// name collides with RoomAuthorizer's, so wrap it with RoomRequestAuth.
type RoomRequestAuthorizer interface {
	AuthorizeRoom(RoomAuthorization) bool
}

// RoomRequestAuth adapts a RoomRequestAuthorizer to a RoomAuthorizer for
// ServerConfig.RoomAuth and WebSocketConfig.RoomAuth: ServeWSWithConfig
// then gives it the whole RoomAuthorization. Called directly as a
// RoomAuthorizer, it sees only Room and Password (Anonymous true).
func RoomRequestAuth(a RoomRequestAuthorizer) RoomAuthorizer { return roomRequestAuth{a} }

type roomRequestAuth struct{ a RoomRequestAuthorizer }

func (r roomRequestAuth) AuthorizeRoom(room, password string) bool {
	return r.a.AuthorizeRoom(RoomAuthorization{Room: room, Password: password, Anonymous: true})
}

// srvAuthorizeRoom asks ra about room for request r and user.
func srvAuthorizeRoom(ra RoomAuthorizer, r *http.Request, room, password string, user *UserInfo, queryToken bool) bool {
	rr, ok := ra.(roomRequestAuth)
	if !ok {
		return ra.AuthorizeRoom(room, password)
	}
	a := RoomAuthorization{Request: r, Room: room, Password: password, User: user, Anonymous: user == nil, QueryTokenOK: queryToken}
	if user != nil {
		a.TokenClaims = user.Claims
	}
	return rr.a.AuthorizeRoom(a)
}

// ---- Server ----

// HealthStatus is Server.Health's report (Plumego's health.HealthStatus).
type HealthStatus struct {
	// Status is "healthy", "degraded" (the hub is at its MaxConnections
	// limit) or "unhealthy" (the hub is stopped).
	Status  string
	Message string
	// Details: "broadcastEnabled", and the hub's "connections", "rooms",
	// "maxConnections", "queuedMessages", "messagesDropped".
	Details map[string]any
}

// Health reports the server's component name ("websocket") and its hub's
// state, for a health endpoint.
func (s *Server) Health() (string, HealthStatus) {
	m := s.hub.Metrics()
	st := HealthStatus{Status: "healthy", Details: map[string]any{
		"broadcastEnabled": s.bcOn,
		"connections":      m.ActiveConnections,
		"rooms":            m.Rooms,
		"maxConnections":   m.MaxConnections,
		"queuedMessages":   m.QueuedMessages,
		"messagesDropped":  m.MessagesDropped,
	}}
	switch {
	case s.hub.stopFlag.Load():
		st.Status, st.Message = "unhealthy", "hub stopped"
	case m.MaxConnections > 0 && m.ActiveConnections >= m.MaxConnections:
		st.Status, st.Message = "degraded", "hub full"
	}
	return "websocket", st
}
