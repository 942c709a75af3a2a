package frame

import "errors"

// Sentinel errors returned by this package. They are plain values: match
// them with errors.Is. None of them is wrapped by the package itself.
var (
	// ErrShortHeader is returned by ParseHeader when its input holds only
	// part of a header. It is not a protocol error: supply more bytes.
	ErrShortHeader = errors.New("frame: short header")

	// ErrLengthOverflow reports a 64-bit payload length with its most
	// significant bit set (RFC 6455 section 5.2).
	ErrLengthOverflow = errors.New("frame: payload length overflows 63 bits")

	// ErrNonMinimalLength reports a payload length not encoded in the
	// minimal number of bytes (16-bit form for a length below 126, 64-bit
	// form for a length below 65536).
	ErrNonMinimalLength = errors.New("frame: payload length not minimally encoded")

	// ErrReservedOpcode reports a frame with an opcode reserved for
	// future use (0x3-0x7, 0xB-0xF).
	ErrReservedOpcode = errors.New("frame: reserved opcode")

	// ErrReservedBits reports an RSV bit that no negotiated extension
	// defines.
	ErrReservedBits = errors.New("frame: reserved bits set")

	// ErrControlTooLong reports a control frame whose payload exceeds
	// MaxControlPayload bytes.
	ErrControlTooLong = errors.New("frame: control frame payload longer than 125 bytes")

	// ErrControlFragmented reports a control frame with FIN clear.
	ErrControlFragmented = errors.New("frame: fragmented control frame")

	// ErrUnmaskedFrame reports an unmasked frame received by a server.
	ErrUnmaskedFrame = errors.New("frame: unmasked frame from client")

	// ErrMaskedFrame reports a masked frame received by a client.
	ErrMaskedFrame = errors.New("frame: masked frame from server")

	// ErrClosePayloadLength reports a close payload of exactly one byte
	// (or, from ParseClose, longer than MaxControlPayload).
	ErrClosePayloadLength = errors.New("frame: invalid close payload length")

	// ErrInvalidCloseCode reports a close code that may not appear on the
	// wire (see ValidCloseCode).
	ErrInvalidCloseCode = errors.New("frame: invalid close code")

	// ErrCloseReasonTooLong reports a close reason longer than 123 bytes.
	ErrCloseReasonTooLong = errors.New("frame: close reason longer than 123 bytes")

	// ErrInvalidUTF8 reports text (a close reason) that is not valid UTF-8.
	ErrInvalidUTF8 = errors.New("frame: invalid UTF-8")
)
