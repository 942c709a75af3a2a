package frame

import (
	"encoding/binary"
	"io"
	"math"
	"strconv"
)

// Opcode is the 4-bit frame opcode (RFC 6455 section 5.2). Values above 0xF
// never come off the wire; they are treated as reserved.
type Opcode uint8

// Opcodes defined by RFC 6455. All other values are reserved.
const (
	OpContinuation Opcode = 0x0
	OpText         Opcode = 0x1
	OpBinary       Opcode = 0x2
	OpClose        Opcode = 0x8
	OpPing         Opcode = 0x9
	OpPong         Opcode = 0xA
)

// IsControl reports whether op is a control opcode (0x8 and above,
// including the reserved control opcodes 0xB-0xF).
func (op Opcode) IsControl() bool { return op >= 0x8 }

// IsReserved reports whether op is reserved for future use: 0x3-0x7,
// 0xB-0xF, and any value that does not fit in 4 bits.
func (op Opcode) IsReserved() bool {
	switch op {
	case OpContinuation, OpText, OpBinary, OpClose, OpPing, OpPong:
		return false
	}
	return true
}

// String returns the Go name of a defined opcode ("OpText") or
// "Opcode(0x3)" for a reserved one.
func (op Opcode) String() string {
	switch op {
	case OpContinuation:
		return "OpContinuation"
	case OpText:
		return "OpText"
	case OpBinary:
		return "OpBinary"
	case OpClose:
		return "OpClose"
	case OpPing:
		return "OpPing"
	case OpPong:
		return "OpPong"
	}
	return "Opcode(0x" + strconv.FormatUint(uint64(op), 16) + ")"
}

// RSV bits exactly as they sit in the first header byte. Header.Rsv holds
// any combination of them.
const (
	Rsv1 uint8 = 0x40
	Rsv2 uint8 = 0x20
	Rsv3 uint8 = 0x10
)

const (
	// MaxHeaderSize is the largest encoded header: 2 fixed bytes, an
	// 8-byte extended length and a 4-byte masking key.
	MaxHeaderSize = 14

	// MaxControlPayload is the largest payload a control frame may carry.
	MaxControlPayload = 125
)

const (
	bitFin    = 0x80
	bitsRsv   = Rsv1 | Rsv2 | Rsv3
	bitsOp    = 0x0F
	bitMask   = 0x80
	bitsLen7  = 0x7F
	len16Mark = 126
	len64Mark = 127
)

// Header is a decoded frame header. It is a plain value: copy it freely.
type Header struct {
	Fin    bool
	Rsv    uint8   // any combination of Rsv1|Rsv2|Rsv3
	Opcode Opcode  // 4 bits on the wire
	Masked bool    // a masking key follows the length
	Key    [4]byte // masking key, meaningful only when Masked
	Length int64   // payload length, 0..math.MaxInt64
}

// Size returns the encoded size of h in bytes (2 to MaxHeaderSize), the
// number of bytes AppendHeader appends and ParseHeader consumes.
func (h Header) Size() int {
	n := 2
	switch {
	case h.Length >= 1<<16 || h.Length < 0:
		n += 8
	case h.Length > 125:
		n += 2
	}
	if h.Masked {
		n += 4
	}
	return n
}

// ParseHeader decodes a header from the front of b. It never retains b.
//
// On success it returns the header and n, the number of header bytes
// consumed; the payload starts at b[n]. If b is too short it returns
// ErrShortHeader and n = the total number of bytes needed as far as can be
// known: 2 when len(b) < 2, else the full header size implied by the first
// two bytes (so calling again with at least n bytes succeeds or fails with
// an encoding error). Encoding errors are ErrLengthOverflow (64-bit length
// with the most significant bit set) and ErrNonMinimalLength (16-bit form
// for a length < 126, 64-bit form for a length < 65536); with them n is 0.
// On any error h is the zero Header.
//
// ParseHeader checks only the encoding; use Header.Validate for the
// protocol rules.
func ParseHeader(b []byte) (h Header, n int, err error) {
	if len(b) < 2 {
		return Header{}, 2, ErrShortHeader
	}
	b0, b1 := b[0], b[1]
	n = 2
	l7 := b1 & bitsLen7
	switch l7 {
	case len16Mark:
		n += 2
	case len64Mark:
		n += 8
	}
	masked := b1&bitMask != 0
	if masked {
		n += 4
	}
	if len(b) < n {
		return Header{}, n, ErrShortHeader
	}
	var length int64
	p := 2
	switch l7 {
	case len16Mark:
		l := binary.BigEndian.Uint16(b[2:4])
		if l < len16Mark {
			return Header{}, 0, ErrNonMinimalLength
		}
		length = int64(l)
		p = 4
	case len64Mark:
		l := binary.BigEndian.Uint64(b[2:10])
		if l > math.MaxInt64 {
			return Header{}, 0, ErrLengthOverflow
		}
		if l < 1<<16 {
			return Header{}, 0, ErrNonMinimalLength
		}
		length = int64(l)
		p = 10
	default:
		length = int64(l7)
	}
	h = Header{
		Fin:    b0&bitFin != 0,
		Rsv:    b0 & bitsRsv,
		Opcode: Opcode(b0 & bitsOp),
		Masked: masked,
		Length: length,
	}
	if masked {
		copy(h.Key[:], b[p:p+4])
	}
	return h, n, nil
}

// ReadHeader reads exactly one header from r, using scratch as its buffer
// so that it does not allocate; scratch may be reused as soon as
// ReadHeader returns. It makes at most two io.ReadFull calls on r and never
// reads past the header.
//
// Errors: io.EOF if r returned EOF before any byte of the header;
// io.ErrUnexpectedEOF if EOF came mid-header; ErrLengthOverflow or
// ErrNonMinimalLength for a badly encoded length; any other error from r
// as returned. Like ParseHeader it checks only the encoding.
//
// ReadHeader is as safe for concurrent use as r is; scratch must not be
// shared between concurrent calls.
func ReadHeader(r io.Reader, scratch *[MaxHeaderSize]byte) (Header, error) {
	if _, err := io.ReadFull(r, scratch[:2]); err != nil {
		return Header{}, err // io.EOF only when no byte was read
	}
	_, n, err := ParseHeader(scratch[:2])
	if err == ErrShortHeader {
		if _, err := io.ReadFull(r, scratch[2:n]); err != nil {
			if err == io.EOF {
				err = io.ErrUnexpectedEOF
			}
			return Header{}, err
		}
	}
	h, _, err := ParseHeader(scratch[:n])
	return h, err
}

// AppendHeader appends the encoded header h to dst, with the payload
// length in its minimal encoding, and returns the extended slice. The
// masking key is written only when h.Masked. Bits of h.Rsv outside
// Rsv1|Rsv2|Rsv3 and of h.Opcode above 0xF are ignored. AppendHeader does
// not check the protocol rules (see Validate); it panics if h.Length is
// negative. It allocates only if dst lacks capacity for h.Size() bytes.
func AppendHeader(dst []byte, h Header) []byte {
	if h.Length < 0 {
		panic("frame: AppendHeader with negative payload length")
	}
	b0 := byte(h.Opcode)&bitsOp | h.Rsv&bitsRsv
	if h.Fin {
		b0 |= bitFin
	}
	var b1 byte
	if h.Masked {
		b1 = bitMask
	}
	switch {
	case h.Length <= 125:
		dst = append(dst, b0, b1|byte(h.Length))
	case h.Length < 1<<16:
		dst = append(dst, b0, b1|len16Mark)
		dst = binary.BigEndian.AppendUint16(dst, uint16(h.Length))
	default:
		dst = append(dst, b0, b1|len64Mark)
		dst = binary.BigEndian.AppendUint64(dst, uint64(h.Length))
	}
	if h.Masked {
		dst = append(dst, h.Key[0], h.Key[1], h.Key[2], h.Key[3])
	}
	return dst
}

// Role is the role of the endpoint that receives the frame being
// validated.
type Role uint8

// Roles for Header.Validate.
const (
	RoleServer Role = iota // server receives: frames must be masked
	RoleClient             // client receives: frames must not be masked
)

// String returns "server" or "client".
func (r Role) String() string {
	switch r {
	case RoleServer:
		return "server"
	case RoleClient:
		return "client"
	}
	return "Role(" + strconv.Itoa(int(r)) + ")"
}

// Validate applies the RFC 6455 receive rules to a parsed header, as seen
// by an endpoint of the given role, and returns the first violation:
// ErrReservedOpcode, ErrReservedBits (an RSV bit not in allowedRsv, the
// bits a negotiated extension defines), ErrControlTooLong (control payload
// longer than MaxControlPayload), ErrControlFragmented (control frame with
// FIN clear), ErrUnmaskedFrame (RoleServer got an unmasked frame) or
// ErrMaskedFrame (RoleClient got a masked frame). Every one of them calls
// for closing with CloseProtocolError.
//
// Validate does not know message state (a continuation without a started
// message, a new data frame inside a fragmented message) nor extension
// rules such as permessage-deflate's RSV1 only on the first data frame:
// those are the caller's business. It does not modify h.
func (h *Header) Validate(role Role, allowedRsv uint8) error {
	switch {
	case h.Opcode.IsReserved():
		return ErrReservedOpcode
	case h.Rsv&^allowedRsv != 0:
		return ErrReservedBits
	}
	if h.Opcode.IsControl() {
		if h.Length > MaxControlPayload {
			return ErrControlTooLong
		}
		if !h.Fin {
			return ErrControlFragmented
		}
	}
	if role == RoleServer {
		if !h.Masked {
			return ErrUnmaskedFrame
		}
	} else if h.Masked {
		return ErrMaskedFrame
	}
	return nil
}
