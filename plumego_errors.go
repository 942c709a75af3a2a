package websocket

import (
	"errors"
	"fmt"

	"github.com/rfc6455/websocket/frame"
	"github.com/rfc6455/websocket/handshake"
)

// Plumego compatibility: error names.
//
// Plumego's x/websocket names its sentinel errors differently. Each name
// below is either the primary error itself (a pure alias: errors.Is and ==
// both work) or a sentinel that the same failure here also matches with
// errors.Is. New code should use the primary names.

// Frame and protocol errors. A read that fails the connection returns an
// error matching ErrProtocol and wrapping the frame package's precise
// cause, so these aliases match it with errors.Is.
var (
	// ErrProtocolError is ErrProtocol under its Plumego name.
	//
	// Deprecated: use ErrProtocol.
	ErrProtocolError = ErrProtocol
	// ErrPayloadTooLarge is ErrMessageTooBig under its Plumego name: a
	// message over the read limit (close code 1009).
	//
	// Deprecated: use ErrMessageTooBig.
	ErrPayloadTooLarge = ErrMessageTooBig
	// ErrUnmaskedFrame is frame.ErrUnmaskedFrame: a server received an
	// unmasked frame.
	//
	// Deprecated: use frame.ErrUnmaskedFrame.
	ErrUnmaskedFrame = frame.ErrUnmaskedFrame
	// ErrUnexpectedMaskedFrame is frame.ErrMaskedFrame: a client received
	// a masked frame.
	//
	// Deprecated: use frame.ErrMaskedFrame.
	ErrUnexpectedMaskedFrame = frame.ErrMaskedFrame
	// ErrFragmentedControl is frame.ErrControlFragmented.
	//
	// Deprecated: use frame.ErrControlFragmented.
	ErrFragmentedControl = frame.ErrControlFragmented
	// ErrControlTooLarge is frame.ErrControlTooLong: a control frame
	// payload over 125 bytes.
	//
	// Deprecated: use frame.ErrControlTooLong.
	ErrControlTooLarge = frame.ErrControlTooLong
	// ErrInvalidOpcode is frame.ErrReservedOpcode.
	//
	// Deprecated: use frame.ErrReservedOpcode.
	ErrInvalidOpcode = frame.ErrReservedOpcode
	// ErrInvalidCloseCode is frame.ErrInvalidCloseCode: a close code that
	// may not appear on the wire (received, or passed to Close).
	//
	// Deprecated: use frame.ErrInvalidCloseCode.
	ErrInvalidCloseCode = frame.ErrInvalidCloseCode
	// ErrCloseReasonTooLong is frame.ErrCloseReasonTooLong.
	//
	// Deprecated: use frame.ErrCloseReasonTooLong.
	ErrCloseReasonTooLong = frame.ErrCloseReasonTooLong
)

// Connection and queue errors.
var (
	// ErrConnClosed is Plumego's "connection closed": both ErrClosed (the
	// transport is closed) and ErrCloseSent (a close frame was sent, so
	// nothing more may be written) match it with errors.Is.
	ErrConnClosed = errors.New("websocket: connection closed")
	// ErrNilNetConn is Plumego's error for a nil net.Conn given to its
	// NewConnE. Nothing here returns it: NewConn has no error result and
	// its net.Conn must not be nil.
	ErrNilNetConn = errors.New("websocket: net connection is nil")
	// ErrQueueFull is ErrSendQueueFull under its Plumego name: a message
	// dropped because the member's send queue was full.
	//
	// Deprecated: use ErrSendQueueFull.
	ErrQueueFull = ErrSendQueueFull
	// ErrQueueFullClosed is ErrSlowConsumer under its Plumego name: the
	// member was closed because its send queue was full (SendClose).
	//
	// Deprecated: use ErrSlowConsumer.
	ErrQueueFullClosed = ErrSlowConsumer
	// ErrRateLimitExceeded is Plumego's error for its hub's connection
	// rate limit (HubConfig.MaxConnectionRate). This hub has no such limit
	// and returns it nowhere; bound connection rates in front of the
	// handler (an http.Handler middleware) and return it from there if
	// you like.
	ErrRateLimitExceeded = errors.New("websocket: rate limit exceeded")
)

// Security and validation errors.
var (
	// ErrWeakRoomPassword is returned by ValidateRoomPassword and
	// SecureRoomAuth.SetRoomPassword for a password that does not meet
	// the PasswordStrengthConfig.
	ErrWeakRoomPassword = errors.New("websocket: room password does not meet strength requirements")
	// ErrInvalidWebSocketKey is handshake.ErrBadKey: a Sec-WebSocket-Key
	// that is not the base64 encoding of 16 bytes. ValidateWebSocketKey
	// returns it (a missing key also matches handshake.ErrMissingKey).
	//
	// Deprecated: use handshake.ErrBadKey.
	ErrInvalidWebSocketKey = handshake.ErrBadKey
	// ErrControlCharacters is returned by ValidateTextMessage for a
	// control character the MessageValidationConfig refuses.
	ErrControlCharacters = errors.New("websocket: message contains control characters")
	// ErrMessageTooLong is returned by ValidateTextMessage for a message
	// over MessageValidationConfig.MaxLength.
	ErrMessageTooLong = errors.New("websocket: message too long")
	// ErrEmptyMessage is returned by ValidateTextMessage for an empty
	// message unless MessageValidationConfig.AllowEmpty.
	ErrEmptyMessage = errors.New("websocket: empty message")
)

// Configuration errors. Each is returned, together with ErrInvalidConfig
// (errors.Is matches both), by the validation of NewHubWithConfig, New and
// ServeWSWithConfig where the named value is out of range.
var (
	// ErrNilHub: ServerConfig.Hub is nil.
	ErrNilHub = errors.New("websocket: hub is nil")
	// ErrNilAuthenticator: ServerConfig.TokenAuth is nil while
	// AllowUnauthenticated is off.
	ErrNilAuthenticator = errors.New("websocket: authenticator is nil")
	// ErrNilTokenAuthorizer is ErrNilAuthenticator under its older Plumego
	// name.
	//
	// Deprecated: use ErrNilAuthenticator.
	ErrNilTokenAuthorizer = ErrNilAuthenticator
	// ErrInvalidHubConfig is ErrInvalidConfig under its older Plumego name.
	//
	// Deprecated: use ErrInvalidConfig.
	ErrInvalidHubConfig = ErrInvalidConfig
	// ErrNegativeQueueSize: a negative HubConfig.SendQueueSize,
	// WebSocketConfig.SendQueueSize or ServerConfig.QueueSize.
	ErrNegativeQueueSize = errors.New("websocket: queue size cannot be negative")
	// ErrNegativeSendTimeout: a negative SendTimeout.
	ErrNegativeSendTimeout = errors.New("websocket: send timeout cannot be negative")
	// ErrNegativeWorkerCount: a negative HubConfig.WorkerCount (or
	// WebSocketConfig.WorkerCount); the field has no other effect.
	ErrNegativeWorkerCount = errors.New("websocket: worker count cannot be negative")
	// ErrNegativeJobQueue: a negative HubConfig.JobQueueSize (or
	// WebSocketConfig.JobQueueSize); the field has no other effect.
	ErrNegativeJobQueue = errors.New("websocket: job queue size cannot be negative")
	// ErrInvalidSendBehavior: a SendBehavior other than SendBlock,
	// SendDrop and SendClose.
	ErrInvalidSendBehavior = errors.New("websocket: invalid send behavior")
	// ErrNegativeReadLimit: a negative ServerConfig.ReadLimit or
	// WebSocketConfig.ReadLimit (zero means the default). The same error
	// matches ErrInvalidReadLimit.
	ErrNegativeReadLimit error = &sentinel{"websocket: read limit cannot be negative", []error{ErrInvalidReadLimit}}
	// ErrInvalidReadLimit: a read limit out of range. Here only a negative
	// server read limit is (see ErrNegativeReadLimit); Options.ReadLimit
	// negative means no limit, as documented there.
	ErrInvalidReadLimit = errors.New("websocket: invalid read limit")
	// ErrInvalidWriteTimeout: a negative HubConfig.WriteTimeout or
	// WebSocketConfig.WriteTimeout (zero means the default).
	ErrInvalidWriteTimeout = errors.New("websocket: write timeout cannot be negative")
	// ErrNegativeLimit: a hub limit (MaxConnections, MaxRoomConnections,
	// MaxRoomsPerConnection, MaxRoomRegistrations) below zero other than
	// NoLimit.
	ErrNegativeLimit = errors.New("websocket: limit cannot be negative")
	// ErrInvalidPingPeriod is returned by Conn.SetPingPeriod for a period
	// that is not positive.
	ErrInvalidPingPeriod = errors.New("websocket: ping period must be positive")
	// ErrInvalidPongWait is returned by Conn.SetPongWait for a wait that
	// is not positive.
	ErrInvalidPongWait = errors.New("websocket: pong wait must be positive")
)

// configError is a configuration error: it reads as ErrInvalidConfig and
// the field, and matches both ErrInvalidConfig and the precise sentinel.
type configError struct {
	kind error
	msg  string
}

func (e *configError) Error() string   { return ErrInvalidConfig.Error() + ": " + e.msg }
func (e *configError) Unwrap() []error { return []error{ErrInvalidConfig, e.kind} }

// configErr returns a configuration error matching ErrInvalidConfig and
// kind, reading "websocket: invalid configuration: <format...>".
func configErr(kind error, format string, args ...any) error {
	return &configError{kind: kind, msg: fmt.Sprintf(format, args...)}
}

// sentinel is an error value that also matches other sentinels with
// errors.Is (ErrClosed and ErrCloseSent match ErrConnClosed).
type sentinel struct {
	msg string
	is  []error
}

func (e *sentinel) Error() string   { return e.msg }
func (e *sentinel) Unwrap() []error { return e.is }

// IsTemporary reports whether err is a failure that may pass if retried:
// a message dropped from a full send queue (ErrSendQueueFull, alias
// ErrQueueFull) or ErrRateLimitExceeded. A *CloseError is never
// temporary, nor is a timeout that failed the connection
// (ErrWriteTimeout, ErrKeepaliveTimeout). Unlike Plumego's, it matches
// wrapped errors (errors.Is) rather than the bare values only.
func IsTemporary(err error) bool {
	var ce *CloseError
	if err == nil || errors.As(err, &ce) {
		return false
	}
	return errors.Is(err, ErrSendQueueFull) || errors.Is(err, ErrRateLimitExceeded)
}
