package websocket

import (
	"context"
	"crypto/rand"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/rfc6455/websocket/handshake"
)

// This file holds the names kept for users of Plumego's x/websocket
// (github.com/spcent/plumego), which this package is modelled on, so that
// a Plumego service compiles after changing its import path. Each says
// which primary name it stands for; see the package documentation,
// section "Plumego compatibility", and README.md's migration table.

// CloseInvalidPayload and CloseServerError are close codes 1007 and 1011
// under their Plumego names.
//
// Deprecated: use CloseInvalidFramePayloadData and CloseInternalServerErr.
const (
	CloseInvalidPayload = CloseInvalidFramePayloadData
	CloseServerError    = CloseInternalServerErr
)

// OpcodeText and OpcodeBinary are TextMessage and BinaryMessage under
// their Plumego names (hub.BroadcastRoom(room, websocket.OpcodeText, p)).
//
// Deprecated: use TextMessage and BinaryMessage.
const (
	OpcodeText   = TextMessage
	OpcodeBinary = BinaryMessage
)

// RoomAuthenticator is RoomAuthorizer under its older Plumego name.
//
// Deprecated: use RoomAuthorizer.
type RoomAuthenticator = RoomAuthorizer

// CheckRoomPassword is AuthorizeRoom, under its Plumego name.
//
// Deprecated: use AuthorizeRoom.
func (s *SimpleRoomAuth) CheckRoomPassword(room, password string) bool {
	return s.AuthorizeRoom(room, password)
}

// VerifyJWT is AuthenticateToken, under its Plumego name.
//
// Deprecated: use AuthenticateToken.
func (a *SimpleHS256TokenAuth) VerifyJWT(token string) (map[string]any, error) {
	return a.AuthenticateToken(token)
}

// TryBroadcastRoom is BroadcastRoom, under its Plumego name.
//
// Deprecated: use BroadcastRoom.
func (h *Hub) TryBroadcastRoom(room string, mt MessageType, data []byte) BroadcastResult {
	return h.BroadcastRoom(room, mt, data)
}

// TryBroadcastAll is BroadcastAll, under its Plumego name.
//
// Deprecated: use BroadcastAll.
func (h *Hub) TryBroadcastAll(mt MessageType, data []byte) BroadcastResult {
	return h.BroadcastAll(mt, data)
}

// NewHubE is NewHubWithConfig with Plumego's worker-pool sizes, which
// this hub accepts and ignores (see HubConfig.WorkerCount): negative sizes
// are errors matching ErrNegativeWorkerCount or ErrNegativeJobQueue.
func NewHubE(workerCount, jobQueueSize int) (*Hub, error) {
	cfg := DefaultHubConfig()
	cfg.WorkerCount, cfg.JobQueueSize = workerCount, jobQueueSize
	return NewHubWithConfig(cfg)
}

// NewHubWithConfigE is NewHubWithConfig, which already returns its
// configuration errors, under its Plumego name.
//
// Deprecated: use NewHubWithConfig.
func NewHubWithConfigE(cfg HubConfig) (*Hub, error) { return NewHubWithConfig(cfg) }

// Outbound is one message as Plumego's connection queues it: its type and
// payload. Nothing here queues Outbound values (a Conn writes at once, and
// a Hub queues PreparedMessages); it is for code that keeps its own queue
// of messages and writes them with WriteOutbound.
type Outbound struct {
	Op   MessageType
	Data []byte
}

// WriteOutbound writes o as one message: WriteMessage(o.Op, o.Data).
func (c *Conn) WriteOutbound(o Outbound) error { return c.WriteMessage(o.Op, o.Data) }

// ---- Conn ----

// ReadMessageReader is NextReader under its Plumego name, with a
// ReadCloser: it returns the next data message's type and a reader over
// its payload, bounded by the read limit as the message streams. Close
// ends the reader (later Reads return ErrReaderClosed); the unread rest of
// the message is discarded, still validated, by the next read. Unlike
// Plumego's, the reader holds no copy of the message and need not be
// closed for the next read to proceed.
func (c *Conn) ReadMessageReader() (MessageType, io.ReadCloser, error) {
	mt, r, err := c.NextReader()
	if err != nil {
		return 0, nil, err
	}
	return mt, &messageReadCloser{r: r}, nil
}

// ErrReaderClosed is returned by a ReadMessageReader reader used after
// its Close.
var ErrReaderClosed = errors.New("websocket: message reader closed")

type messageReadCloser struct {
	r      io.Reader
	closed atomic.Bool
}

func (m *messageReadCloser) Read(p []byte) (int, error) {
	if m.closed.Load() {
		return 0, ErrReaderClosed
	}
	return m.r.Read(p)
}

func (m *messageReadCloser) Close() error {
	m.closed.Store(true)
	return nil
}

// WriteMessageContext is Write under its Plumego name: it sends data as
// one message of type mt, bounded by ctx. Plumego queues the message and
// ctx bounds the wait for queue space; here the message is written at
// once, and if ctx ends before the write completes the connection is
// closed (a frame may be half written) and ctx.Err() is returned. To bound
// a write without risking the connection, use a Hub (its send queue and
// SendBehavior) or SetWriteDeadline.
func (c *Conn) WriteMessageContext(ctx context.Context, mt MessageType, data []byte) error {
	return c.Write(ctx, mt, data)
}

// WriteText sends s as one text message (s must be UTF-8; not checked).
func (c *Conn) WriteText(s string) error { return c.WriteMessage(TextMessage, []byte(s)) }

// WriteBinary sends p as one binary message.
func (c *Conn) WriteBinary(p []byte) error { return c.WriteMessage(BinaryMessage, p) }

// WriteClose is Close under its Plumego name, with Plumego's checks: a
// reason longer than 123 bytes is an error (matching ErrCloseReasonTooLong
// and ErrControlTooLarge) and nothing is sent, where Close would cut it.
// Plumego's WriteClose sends the close frame and closes TCP at once, which
// can reset the connection before the peer has read the close frame
// (RFC 6455 section 7.1.1 wants the server to close TCP only after the
// close handshake); this one performs the close handshake, bounded by the
// close timeout, as Close does.
func (c *Conn) WriteClose(code StatusCode, reason string) error {
	if len(reason) > 123 {
		return fmt.Errorf("websocket: close reason of %d bytes: %w (%w)", len(reason), ErrCloseReasonTooLong, ErrControlTooLarge)
	}
	return c.Close(code, reason)
}

// IsClosed reports whether the connection is closed: its transport is
// closed and Done is closed. During the close handshake it is not yet
// closed, but writes already fail with ErrCloseSent.
func (c *Conn) IsClosed() bool {
	select {
	case <-c.done:
		return true
	default:
		return false
	}
}

// plumegoState is what the Plumego-compat methods keep on a Conn, made
// on first use (Conn.pl).
type plumegoState struct {
	meta         sync.Map
	writeTimeout atomic.Int64 // SetWriteTimeout's, 0: Options.WriteTimeout
}

// plumego returns the connection's plumegoState, making it if create.
func (c *Conn) plumego(create bool) *plumegoState {
	p := c.pl.Load()
	if p == nil && create {
		c.pl.CompareAndSwap(nil, new(plumegoState))
		p = c.pl.Load()
	}
	return p
}

// metadata returns the connection's metadata map, making it if create.
func (c *Conn) metadata(create bool) *sync.Map {
	if p := c.plumego(create); p != nil {
		return &p.meta
	}
	return nil
}

// writeTimeout is the bound of data frame writes: SetWriteTimeout's, else
// Options.WriteTimeout (resolved).
func (c *Conn) writeTimeout() time.Duration {
	if p := c.pl.Load(); p != nil {
		if d := p.writeTimeout.Load(); d != 0 {
			return time.Duration(d)
		}
	}
	return c.o.writeTimeout
}

// SetWriteTimeout sets the connection's write timeout, Options.WriteTimeout,
// to d for the frames written after the call: a frame the peer does not
// take within d fails the connection (the write returns an error matching
// ErrWriteTimeout). d must be positive, else ErrInvalidWriteTimeout. Safe
// for concurrent use.
func (c *Conn) SetWriteTimeout(d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("%w: got %v", ErrInvalidWriteTimeout, d)
	}
	c.plumego(true).writeTimeout.Store(int64(d))
	return nil
}

// errKeepaliveOff is returned by SetPingPeriod and SetPongWait on a
// connection made without keepalive.
func errKeepaliveOff() error {
	return configErr(ErrInvalidConfig, "keepalive is off on this connection (set Options.PingInterval, or ServerConfig.PingInterval)")
}

// SetPingPeriod sets the keepalive interval, Options.PingInterval: a ping
// goes out once d has passed without a byte from the peer. It applies at
// once. d must be positive (else ErrInvalidPingPeriod), and the connection
// must have been made with keepalive on (Options.PingInterval > 0, which
// New and ServeWSWithConfig set by default), else an error matching
// ErrInvalidConfig: Plumego's connections always ping, a Conn here only
// when asked to. Safe for concurrent use.
func (c *Conn) SetPingPeriod(d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("%w: got %v", ErrInvalidPingPeriod, d)
	}
	return c.setKeepalive(func() { c.o.pingInterval = d })
}

// SetPongWait sets how long keepalive waits, after its ping, for a byte
// from the peer before it fails the connection (Options.PongTimeout). It
// applies at once, to a ping already out too. d must be positive (else
// ErrInvalidPongWait); keepalive must be on, as for SetPingPeriod. Unlike
// Plumego's pong monitor, any frame counts as an answer, not only a pong:
// a peer busy sending data is alive.
func (c *Conn) SetPongWait(d time.Duration) error {
	if d <= 0 {
		return fmt.Errorf("%w: got %v", ErrInvalidPongWait, d)
	}
	return c.setKeepalive(func() { c.o.pongTimeout = d })
}

// setKeepalive changes keepalive's settings under kaMu (which keepalive
// holds to read them) and has the timer recompute its next firing.
func (c *Conn) setKeepalive(set func()) error {
	if c.ka == nil { // set once by newConn, never changed
		return errKeepaliveOff()
	}
	c.kaMu.Lock()
	set()
	c.ka.Reset(0)
	c.kaMu.Unlock()
	return nil
}

// GetLastPong returns when bytes last arrived from the peer, which is
// what keepalive judges liveness by (a pong, or any other frame), or the
// zero time on a connection without keepalive (see SetPingPeriod), which
// does not track it. Plumego's returns the time of the last pong only.
func (c *Conn) GetLastPong() time.Time {
	if c.ka == nil {
		return time.Time{}
	}
	return monoEpoch.Add(time.Duration(c.lastRead.Load()))
}

// SetMetadata stores value under key in the connection's metadata, a map
// for the application's use that lives as long as the Conn. The metadata
// methods are safe for concurrent use.
func (c *Conn) SetMetadata(key string, value any) { c.metadata(true).Store(key, value) }

// GetMetadata returns the value stored under key, and whether there is
// one.
func (c *Conn) GetMetadata(key string) (any, bool) {
	if m := c.metadata(false); m != nil {
		return m.Load(key)
	}
	return nil, false
}

// DeleteMetadata removes key from the connection's metadata.
func (c *Conn) DeleteMetadata(key string) {
	if m := c.metadata(false); m != nil {
		m.Delete(key)
	}
}

// RangeMetadata calls f for each metadata entry (the key is a string)
// until f returns false, with the semantics of sync.Map.Range.
func (c *Conn) RangeMetadata(f func(key, value any) bool) {
	if m := c.metadata(false); m != nil {
		m.Range(f)
	}
}

// ---- message validation ----

// MessageValidationConfig is the policy of ValidateTextMessage.
type MessageValidationConfig struct {
	// MaxLength is the longest message accepted, in bytes; 0 means no
	// limit.
	MaxLength int
	// AllowEmpty accepts empty messages.
	AllowEmpty bool
	// RejectControlCharacters refuses ASCII control characters (0x00-0x1F
	// and 0x7F), except newlines and tabs when allowed below.
	RejectControlCharacters bool
	// RequireValidUTF8 refuses text that is not UTF-8. (A Conn already
	// fails a text message that is not UTF-8 with close code 1007.)
	RequireValidUTF8 bool
	// AllowedNewlines lets '\n' and '\r' through RejectControlCharacters.
	AllowedNewlines bool
	// AllowedTabs lets '\t' through RejectControlCharacters.
	AllowedTabs bool
}

// DefaultMessageValidationConfig returns Plumego's defaults: at most 1 MiB,
// not empty, UTF-8, no control characters other than newlines and tabs.
func DefaultMessageValidationConfig() MessageValidationConfig {
	return MessageValidationConfig{
		MaxLength:               1 << 20,
		RejectControlCharacters: true,
		RequireValidUTF8:        true,
		AllowedNewlines:         true,
		AllowedTabs:             true,
	}
}

// ValidateTextMessage checks a text message against cfg, in this order:
// length (ErrMessageTooLong), emptiness (ErrEmptyMessage), UTF-8
// (ErrInvalidUTF8), control characters (ErrControlCharacters). It returns
// the sentinel itself. It is a transport-level check, not a content
// policy or an escaping step.
func ValidateTextMessage(data []byte, cfg MessageValidationConfig) error {
	if cfg.MaxLength > 0 && len(data) > cfg.MaxLength {
		return ErrMessageTooLong
	}
	if len(data) == 0 && !cfg.AllowEmpty {
		return ErrEmptyMessage
	}
	if cfg.RequireValidUTF8 && !utf8.Valid(data) {
		return ErrInvalidUTF8
	}
	if cfg.RejectControlCharacters {
		for _, b := range data {
			if b >= 0x20 && b != 0x7F {
				continue
			}
			if (b == '\n' || b == '\r') && cfg.AllowedNewlines || b == '\t' && cfg.AllowedTabs {
				continue
			}
			return ErrControlCharacters
		}
	}
	return nil
}

// SanitizeForLogging returns data as a one-line string safe to log: cut to
// maxLen bytes (200 when maxLen <= 0) at a UTF-8 boundary with "..."
// appended when cut, invalid UTF-8 replaced by U+FFFD, and every control
// character (newlines and tabs included) replaced by a space. Beyond
// Plumego's version, which replaces only ASCII controls, C1 controls
// (U+0080-U+009F, e.g. the one-character terminal escape U+009B) and the
// bidirectional overrides (U+202A-U+202E, U+2066-U+2069) are replaced too.
func SanitizeForLogging(data []byte, maxLen int) string {
	if maxLen <= 0 {
		maxLen = 200
	}
	cut := len(data) > maxLen
	if cut {
		i := maxLen
		for i > 0 && i > maxLen-utf8.UTFMax && !utf8.RuneStart(data[i]) {
			i--
		}
		if !utf8.RuneStart(data[i]) {
			i = maxLen // not UTF-8 anyway
		}
		data = data[:i]
	}
	var b strings.Builder
	b.Grow(len(data) + 3)
	for len(data) > 0 {
		r, n := utf8.DecodeRune(data)
		data = data[n:]
		switch {
		case unicode.IsControl(r), r >= 0x202A && r <= 0x202E, r >= 0x2066 && r <= 0x2069:
			b.WriteByte(' ')
		default:
			b.WriteRune(r) // RuneError for invalid input: U+FFFD
		}
	}
	if cut {
		b.WriteString("...")
	}
	return b.String()
}

// ValidationError reports invalid input: which field and why.
type ValidationError struct {
	Field   string
	Message string
}

func (e *ValidationError) Error() string {
	return "websocket: validation error on " + e.Field + ": " + e.Message
}

// NewValidationError returns a *ValidationError.
func NewValidationError(field, message string) *ValidationError {
	return &ValidationError{Field: field, Message: message}
}

// NewCloseError returns a *CloseError with code and reason, for a message
// handler to describe the close it wants (for example
// c.Close(ce.Code, ce.Reason)). The optional err, Plumego's third
// argument, is the cause: the CloseError wraps it.
func NewCloseError(code StatusCode, reason string, err ...error) *CloseError {
	ce := &CloseError{Code: code, Reason: reason}
	switch len(err) {
	case 0:
	case 1:
		ce.Err = err[0]
	default:
		ce.Err = errors.Join(err...)
	}
	return ce
}

// ---- security ----

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
