// Package frame is the RFC 6455 frame codec: the bytes of a WebSocket
// frame header, payload masking, close frame payloads and incremental
// UTF-8 validation of text messages.
//
// It knows bytes only. It never starts goroutines, never allocates per
// frame and keeps no connection state; reading, writing, timeouts,
// fragmentation state and the close handshake belong to the caller (the
// websocket package).
//
// # Headers
//
// ParseHeader decodes a header from a byte slice (for example the buffered
// bytes of a bufio.Reader) and reports how many bytes it needs when the
// slice is short; ReadHeader reads one header from an io.Reader into a
// caller-supplied scratch array. Both check only the encoding (minimal
// length, 63-bit length). Header.Validate then applies the receive rules
// of RFC 6455 section 5 for a server or a client. AppendHeader encodes.
// The payload length comes straight from the wire: check it against your
// read limit before allocating anything.
//
// # Masking
//
// Mask XORs a payload with a masking key in place, a word at a time, and
// can be called on consecutive pieces of one payload.
//
// # Close frames
//
// ParseClose and AppendClose convert between close payloads and
// (CloseCode, reason); ValidCloseCode tells which codes may be sent.
//
// # UTF-8
//
// UTF8 validates a text message fed in pieces split anywhere, failing on
// the first octet that no continuation could make valid (RFC 6455
// section 8.1 asks to fail the connection as soon as invalid text is
// seen); ValidUTF8 validates a whole slice.
//
// # Errors
//
// Errors are exported sentinel values (ErrReservedOpcode, ...) to match
// with errors.Is. The package never wraps them.
//
// # Concurrency
//
// All functions are safe for concurrent use on distinct data. A UTF8
// validator belongs to one message reader at a time.
package frame
