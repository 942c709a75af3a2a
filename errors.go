package websocket

import (
	"errors"
	"net"
	"os"
	"strconv"

	"github.com/rfc6455/websocket/frame"
)

// StatusCode is a close status code (RFC 6455 section 7.4). It is the same
// type as frame.CloseCode.
type StatusCode = frame.CloseCode

// Registered close status codes. The names follow gorilla/websocket so that
// code written against it reads the same.
const (
	CloseNormalClosure           = frame.CloseNormalClosure
	CloseGoingAway               = frame.CloseGoingAway
	CloseProtocolError           = frame.CloseProtocolError
	CloseUnsupportedData         = frame.CloseUnsupportedData
	CloseNoStatusReceived        = frame.CloseNoStatusReceived
	CloseAbnormalClosure         = frame.CloseAbnormalClosure
	CloseInvalidFramePayloadData = frame.CloseInvalidFramePayloadData
	ClosePolicyViolation         = frame.ClosePolicyViolation
	CloseMessageTooBig           = frame.CloseMessageTooBig
	CloseMandatoryExtension      = frame.CloseMandatoryExtension
	CloseInternalServerErr       = frame.CloseInternalServerErr
	CloseServiceRestart          = frame.CloseServiceRestart
	CloseTryAgainLater           = frame.CloseTryAgainLater
	CloseBadGateway              = frame.CloseBadGateway
	CloseTLSHandshake            = frame.CloseTLSHandshake
)

// Sentinel errors. Match them with errors.Is.
var (
	// ErrProtocol reports that the peer broke RFC 6455 (or RFC 7692); the
	// connection was failed with close code 1002, or 1007 when compressed
	// data did not inflate (see the *CloseError it carries). The error also
	// wraps the precise cause, often a frame package error such as
	// frame.ErrReservedOpcode.
	ErrProtocol = errors.New("websocket: protocol error")
	// ErrInvalidUTF8 reports a text message or close reason that is not
	// UTF-8; the connection was failed with close code 1007.
	ErrInvalidUTF8 = errors.New("websocket: invalid UTF-8 in text message")
	// ErrMessageTooBig reports a message over the read limit; the connection
	// was failed with close code 1009.
	ErrMessageTooBig = errors.New("websocket: message exceeds read limit")
	// ErrCloseSent is returned by writes after a close frame was sent. It
	// also matches ErrConnClosed (Plumego's name).
	ErrCloseSent error = &sentinel{"websocket: close frame already sent", []error{ErrConnClosed}}
	// ErrClosed is returned by operations on a connection whose TCP
	// connection is closed. It matches net.ErrClosed, and ErrConnClosed
	// (Plumego's name).
	ErrClosed error = &sentinel{"websocket: connection closed: " + net.ErrClosed.Error(), []error{net.ErrClosed, ErrConnClosed}}
	// ErrConcurrentRead is returned when a second goroutine reads while
	// another read is in progress. The connection stays usable.
	ErrConcurrentRead = errors.New("websocket: concurrent read on connection")
	// ErrBadMessageType is returned for a message type that is not
	// TextMessage or BinaryMessage where a data message is required.
	ErrBadMessageType = errors.New("websocket: bad message type")
	// ErrWriterClosed is returned by a message writer used after Close.
	ErrWriterClosed = errors.New("websocket: message writer closed")
	// ErrKeepaliveTimeout is what reads and writes return after keepalive
	// failed the connection: nothing came from the peer within
	// PingInterval + PongTimeout. It is a net.Error whose Timeout() is
	// true.
	ErrKeepaliveTimeout error = &timeoutError{"websocket: keepalive timeout: no data from the peer within PingInterval + PongTimeout"}
	// ErrWriteTimeout is what writes (and then reads) return after a write
	// did not complete within its bound (Options.WriteTimeout for data,
	// the control-frame bound for pings, pongs and close frames); the
	// connection was failed. It is a net.Error whose Timeout() is true,
	// and it also matches os.ErrDeadlineExceeded.
	ErrWriteTimeout error = &timeoutError{"websocket: write timeout: the peer did not accept data in time"}
	// ErrCloseTimeout is returned by Close when the peer's close frame did
	// not come within the close timeout. A net.Error whose Timeout() is
	// true.
	ErrCloseTimeout error = &timeoutError{"websocket: close handshake timed out waiting for the peer's close frame"}
)

// timeoutError is a sentinel that is also a timeout net.Error.
type timeoutError struct{ msg string }

func (e *timeoutError) Error() string   { return e.msg }
func (e *timeoutError) Timeout() bool   { return true }
func (e *timeoutError) Temporary() bool { return false }
func (e *timeoutError) Is(target error) bool {
	return target == os.ErrDeadlineExceeded && e != ErrKeepaliveTimeout.(*timeoutError)
}

// CloseError is the error returned by reads once the peer has sent a close
// frame (Code and Reason are what it sent; Code is CloseNoStatusReceived
// for an empty close frame), by reads after the connection was failed
// locally (Code is what we sent), and by reads after the peer closed TCP
// without a close frame (Code is CloseAbnormalClosure, 1006, and Err is
// io.ErrUnexpectedEOF, so errors.Is(err, io.ErrUnexpectedEOF) holds too).
// Use errors.As, or CloseStatus. Reason is the field gorilla/websocket
// calls Text. Error() reads "websocket: close 1009 (message too big):
// reason".
type CloseError struct {
	Code   StatusCode
	Reason string
	// Err is the cause: io.ErrUnexpectedEOF for an abnormal disconnect,
	// or what NewCloseError was given; nil otherwise.
	Err error
}

func (e *CloseError) Error() string {
	s := "websocket: close " + strconv.Itoa(int(e.Code))
	if text := closeCodeText(e.Code); text != "" {
		s += " (" + text + ")"
	}
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	if e.Err != nil {
		s += ": " + e.Err.Error()
	}
	return s
}

// closeCodeText says what a registered close code means, in the words of
// gorilla/websocket's errors; "" for other codes.
func closeCodeText(c StatusCode) string {
	switch c {
	case CloseNormalClosure:
		return "normal"
	case CloseGoingAway:
		return "going away"
	case CloseProtocolError:
		return "protocol error"
	case CloseUnsupportedData:
		return "unsupported data"
	case CloseNoStatusReceived:
		return "no status"
	case CloseAbnormalClosure:
		return "abnormal closure"
	case CloseInvalidFramePayloadData:
		return "invalid payload data"
	case ClosePolicyViolation:
		return "policy violation"
	case CloseMessageTooBig:
		return "message too big"
	case CloseMandatoryExtension:
		return "mandatory extension missing"
	case CloseInternalServerErr:
		return "internal server error"
	case CloseServiceRestart:
		return "service restart"
	case CloseTryAgainLater:
		return "try again later"
	case CloseBadGateway:
		return "bad gateway"
	case CloseTLSHandshake:
		return "TLS handshake"
	}
	return ""
}

// Unwrap returns Err.
func (e *CloseError) Unwrap() error { return e.Err }

// CloseStatus returns the close code carried by err (a *CloseError found
// with errors.As), or -1 when err carries none.
func CloseStatus(err error) int {
	var ce *CloseError
	if errors.As(err, &ce) {
		return int(ce.Code)
	}
	return -1
}

// IsCloseError reports whether err is a *CloseError with one of the codes.
func IsCloseError(err error, codes ...StatusCode) bool {
	var ce *CloseError
	if !errors.As(err, &ce) {
		return false
	}
	for _, c := range codes {
		if ce.Code == c {
			return true
		}
	}
	return false
}

// IsUnexpectedCloseError reports whether err is a *CloseError whose code
// is not one of expected (gorilla/websocket's function). An abnormal
// disconnect (TCP closed without a close frame) is a *CloseError with
// CloseAbnormalClosure (1006).
func IsUnexpectedCloseError(err error, expected ...StatusCode) bool {
	var ce *CloseError
	if !errors.As(err, &ce) {
		return false
	}
	for _, c := range expected {
		if ce.Code == c {
			return false
		}
	}
	return true
}

// failure is the error a reader returns after it failed the connection:
// it matches the kind sentinel (ErrProtocol, ErrInvalidUTF8,
// ErrMessageTooBig), the detailed cause, and the *CloseError we sent.
type failure struct {
	kind  error
	cause error
	close CloseError
}

func (f *failure) Error() string {
	if f.cause != nil && f.cause != f.kind {
		return f.kind.Error() + ": " + f.cause.Error()
	}
	return f.kind.Error()
}

func (f *failure) Unwrap() []error {
	errs := []error{f.kind, &f.close}
	if f.cause != nil && f.cause != f.kind {
		errs = append(errs, f.cause)
	}
	return errs
}
