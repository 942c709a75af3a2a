package websocket

import (
	"compress/flate"
	"errors"
	"fmt"
	"log/slog"
	"time"
)

// MessageType is the type of a data message. The values are the RFC 6455
// opcodes, as in gorilla/websocket.
type MessageType int

const (
	// TextMessage is a UTF-8 text message (opcode 0x1).
	TextMessage MessageType = 1
	// BinaryMessage is a binary message (opcode 0x2).
	BinaryMessage MessageType = 2
	// CloseMessage is the close control frame type (opcode 0x8).
	CloseMessage MessageType = 8
	// PingMessage is the ping control frame type (opcode 0x9).
	PingMessage MessageType = 9
	// PongMessage is the pong control frame type (opcode 0xA).
	PongMessage MessageType = 10
)

func (t MessageType) String() string {
	switch t {
	case TextMessage:
		return "text"
	case BinaryMessage:
		return "binary"
	case CloseMessage:
		return "close"
	case PingMessage:
		return "ping"
	case PongMessage:
		return "pong"
	}
	return "unknown"
}

// Role says which end of the connection a Conn is.
type Role uint8

const (
	// RoleServer is the accepting end: it receives masked frames and sends
	// unmasked ones, and closes the TCP connection first.
	RoleServer Role = iota
	// RoleClient is the dialing end: it masks what it sends.
	RoleClient
)

// Defaults used when an Options field is zero.
const (
	DefaultReadLimit        = 32 << 20 // 32 MiB per message
	DefaultCloseTimeout     = 5 * time.Second
	DefaultHandshakeTimeout = 10 * time.Second
	DefaultReadBufferSize   = 4096
	DefaultWriteBufferSize  = 4096
)

// Options are the connection settings shared by both roles. The zero value
// of each field means its default.
type Options struct {
	// ReadLimit is the largest message, in bytes after decompression, that
	// a read accepts; a larger one fails the connection with close code
	// 1009 before its payload is read. Zero means DefaultReadLimit; a
	// negative value means no limit (not recommended for servers).
	ReadLimit int64

	// CloseTimeout bounds the close handshake: how long Close waits for the
	// peer's close frame, and how long a client waits for the server to
	// close TCP. Zero means DefaultCloseTimeout.
	CloseTimeout time.Duration

	// WriteTimeout bounds every write to the transport: a frame, or a
	// piece of at most 1 MiB of a larger frame, that the peer does not
	// accept within WriteTimeout fails the connection (it is closed; the
	// write returns an error matching ErrWriteTimeout, and so do later
	// reads). It is what frees a connection whose peer stopped reading.
	// Control frames (pongs, pings, close) are always bounded: by
	// WriteTimeout, or by CloseTimeout when WriteTimeout is negative,
	// including the wait for a data frame in flight. Zero means
	// DefaultWriteTimeout (10 s); a negative value means data writes wait
	// as long as the peer makes them (SetWriteDeadline still applies).
	WriteTimeout time.Duration

	// PingInterval, when positive, makes the connection send a ping once
	// PingInterval has passed without a byte from the peer; if still no
	// byte comes within PongTimeout (default: PingInterval) the connection
	// is failed: a peer that stopped sending is detected within
	// PingInterval + PongTimeout of its last byte (plus timer scheduling,
	// a few milliseconds). A close frame with code 1001 is sent when the
	// write side is free, the transport is closed (which also ends a write
	// stuck on that peer), and reads return an error matching
	// ErrKeepaliveTimeout. Pongs are only seen while some goroutine reads.
	PingInterval time.Duration
	PongTimeout  time.Duration

	// ReadBufferSize is the size of the read buffer taken from a pool when
	// input arrives; an idle TCP or Unix connection gives it back and holds
	// none (other transports, TLS among them, keep theirs). WriteBufferSize
	// is the fragment size of message writers (NextWriter). Zero means the
	// defaults.
	ReadBufferSize  int
	WriteBufferSize int

	// Compression enables permessage-deflate (RFC 7692) when non-nil.
	Compression *CompressionOptions

	// Logger receives connection-level debug events. Nil means no logging.
	Logger *slog.Logger
}

// CompressionOptions configure permessage-deflate (RFC 7692). See the
// Compression section of the package documentation for the memory each
// setting costs per connection.
type CompressionOptions struct {
	// Level is a compress/flate level, 0 meaning flate.BestSpeed (1): the
	// fast compressor, whose ratio is that of compress/flate's level 1 or
	// better. Levels 2 to 9 (flate.DefaultCompression is 6) search hash
	// chains for ratios like compress/flate's at the same level, for more
	// CPU and, with ContextTakeover, 64 KiB more memory per connection at
	// 15 window bits. flate.HuffmanOnly sends literals only.
	Level int
	// Threshold: messages shorter than this many bytes are sent
	// uncompressed (RFC 7692 allows mixing). Zero means 128, or 32 with
	// ContextTakeover (small messages compress well against earlier ones,
	// and an uncompressed message adds nothing to the shared window); a
	// negative value compresses everything. It applies where the length
	// is known up front (WriteMessage, Write, prepared messages); a
	// NextWriter message is compressed whatever its length, unless
	// Conn.EnableWriteCompression(false).
	Threshold int
	// ContextTakeover keeps the compressor's LZ77 window across messages
	// when the peer allows it: small messages compress to a fraction
	// (JSON chat messages of 50-300 bytes: 31% of their size instead of
	// 81%), for a window allocated once per connection: 56 KiB at the
	// usual 15 window bits, 7.4 KiB at 10. Off by default, so that an
	// idle compressed connection holds no compressor at all (it is then
	// borrowed from a pool for one message at a time).
	ContextTakeover bool
	// RequestNoContextTakeover asks the peer to reset its compressor per
	// message, which lets this end pool its decompressor between messages
	// (otherwise it keeps the peer's last 2^window bits bytes: up to 32
	// KiB).
	RequestNoContextTakeover bool
}

// ErrInvalidCompressionLevel is returned by Upgrade and Dial for a
// CompressionOptions.Level outside compress/flate's range (-2 to 9).
var ErrInvalidCompressionLevel = errors.New("websocket: invalid compression level")

// check validates the options; nil is valid (compression off).
func (o *CompressionOptions) check() error {
	if o != nil && (o.Level < flate.HuffmanOnly || o.Level > flate.BestCompression) {
		return fmt.Errorf("%w %d", ErrInvalidCompressionLevel, o.Level)
	}
	return nil
}

func (o *CompressionOptions) level() int {
	if o.Level == 0 {
		return flate.BestSpeed
	}
	return o.Level
}

func (o *CompressionOptions) threshold() int {
	switch {
	case o.Threshold == 0 && o.ContextTakeover:
		return 32
	case o.Threshold == 0:
		return 128
	case o.Threshold < 0:
		return 0
	}
	return o.Threshold
}

// resolved holds Options with defaults applied.
type resolved struct {
	readLimit    int64
	closeTimeout time.Duration
	writeTimeout time.Duration
	pingInterval time.Duration
	pongTimeout  time.Duration
	readBufSize  int
	writeBufSize int
	compression  *CompressionOptions
	logger       *slog.Logger
}

func (o *Options) resolve() resolved {
	var r resolved
	if o != nil {
		r = resolved{o.ReadLimit, o.CloseTimeout, o.WriteTimeout, o.PingInterval, o.PongTimeout,
			o.ReadBufferSize, o.WriteBufferSize, o.Compression, o.Logger}
	}
	if r.readLimit == 0 {
		r.readLimit = DefaultReadLimit
	}
	if r.closeTimeout <= 0 {
		r.closeTimeout = DefaultCloseTimeout
	}
	if r.writeTimeout == 0 {
		r.writeTimeout = DefaultWriteTimeout
	}
	if r.pingInterval > 0 && r.pongTimeout <= 0 {
		r.pongTimeout = r.pingInterval
	}
	if r.readBufSize <= 0 {
		r.readBufSize = DefaultReadBufferSize
	}
	if r.readBufSize < 256 {
		r.readBufSize = 256
	}
	if r.writeBufSize <= 0 {
		r.writeBufSize = DefaultWriteBufferSize
	}
	return r
}
