package loadgen

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"strings"
	"time"
)

// The load generator's client is written from RFC 6455 directly, using
// none of the libraries under test, so every server faces the same peer.
// It is built for cheap operation on a shared machine: frames it sends are
// encoded (and masked) once per connection and re-sent as they are; frames
// it receives are parsed in place in a per-connection buffer.

// Errors the client reports.
var (
	ErrHandshake   = errors.New("loadgen: handshake failed")
	ErrBadFrame    = errors.New("loadgen: unexpected frame from server")
	ErrBadEcho     = errors.New("loadgen: echoed payload differs from what was sent")
	ErrServerClose = errors.New("loadgen: server sent a close frame")
)

var noDeadline time.Time

const wsGUID = "258EAFA5-E914-47DA-95CA-C5AB0DC85B11"

// client is one raw WebSocket client connection.
type client struct {
	nc   net.Conn
	buf  []byte
	r, w int // unread bytes are buf[r:w]
}

// dial opens a TCP connection from local (nil: any) to addr, performs the
// opening handshake for path, and returns a client whose read buffer is
// bufSize bytes (0: release it; the connection will only be held open).
func dial(ctx context.Context, addr string, local net.IP, path string, bufSize int) (*client, error) {
	c, _, err := dialHead(ctx, addr, local, path, bufSize, "")
	if err != nil {
		return nil, err
	}
	if bufSize == 0 {
		if c.r != c.w {
			c.nc.Close()
			return nil, fmt.Errorf("%w: data right after the handshake on an idle connection", ErrBadFrame)
		}
		c.buf = nil
	}
	return c, nil
}

// dialHead opens a TCP connection from local (nil: any) to addr and
// performs the opening handshake for path with the extra request header
// lines (each ending in CRLF); it returns the client, with a read buffer
// of bufSize bytes (at least 1 KiB), and the response head.
func dialHead(ctx context.Context, addr string, local net.IP, path string, bufSize int, extra string) (*client, string, error) {
	d := net.Dialer{}
	if local != nil {
		d.LocalAddr = &net.TCPAddr{IP: local}
	}
	nc, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return nil, "", err
	}
	c := &client{nc: nc, buf: make([]byte, max(bufSize, 1024))}
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
	}
	head, err := c.handshake(addr, path, extra)
	if err != nil {
		nc.Close()
		return nil, "", err
	}
	_ = nc.SetDeadline(noDeadline)
	return c, head, nil
}

// acceptKey is Sec-WebSocket-Accept for key (RFC 6455 section 4.2.2).
func acceptKey(key string) string {
	h := sha1.Sum([]byte(key + wsGUID))
	return base64.StdEncoding.EncodeToString(h[:])
}

// handshake sends the opening handshake for path (with the extra header
// lines) and checks the 101; it returns the response head.
func (c *client) handshake(addr, path, extra string) (string, error) {
	var k [16]byte
	_, _ = rand.Read(k[:])
	key := base64.StdEncoding.EncodeToString(k[:])
	req := "GET " + path + " HTTP/1.1\r\nHost: " + addr +
		"\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: " + key +
		"\r\nSec-WebSocket-Version: 13\r\n" + extra + "\r\n"
	if _, err := io.WriteString(c.nc, req); err != nil {
		return "", err
	}
	end := -1
	for end < 0 {
		if c.w == len(c.buf) {
			return "", fmt.Errorf("%w: response header over %d bytes", ErrHandshake, len(c.buf))
		}
		n, err := c.nc.Read(c.buf[c.w:])
		c.w += n
		if i := bytes.Index(c.buf[:c.w], []byte("\r\n\r\n")); i >= 0 {
			end = i + 4
		} else if err != nil {
			return "", fmt.Errorf("%w: %v", ErrHandshake, err)
		}
	}
	head := string(c.buf[:end])
	return head, checkResponse(head, acceptKey(key), func() { c.r = end })
}

// checkResponse verifies a 101 response head; ok runs when it passes.
func checkResponse(head, accept string, ok func()) error {
	lines := strings.Split(strings.TrimSuffix(head, "\r\n\r\n"), "\r\n")
	if f := strings.Fields(lines[0]); len(f) < 2 || f[1] != "101" {
		return fmt.Errorf("%w: status line %q", ErrHandshake, lines[0])
	}
	got := ""
	for _, l := range lines[1:] {
		name, value, found := strings.Cut(l, ":")
		if found && strings.EqualFold(strings.TrimSpace(name), "Sec-WebSocket-Accept") {
			got = strings.TrimSpace(value)
		}
	}
	if got != accept {
		return fmt.Errorf("%w: Sec-WebSocket-Accept %q, want %q", ErrHandshake, got, accept)
	}
	ok()
	return nil
}

// maskedFrame encodes payload as one final client frame of opcode op,
// masked with key.
func maskedFrame(op byte, payload []byte, key [4]byte) []byte {
	n := len(payload)
	b := make([]byte, 0, 14+n)
	b = append(b, 0x80|op)
	switch {
	case n < 126:
		b = append(b, 0x80|byte(n))
	case n <= 0xFFFF:
		b = append(b, 0x80|126)
		b = binary.BigEndian.AppendUint16(b, uint16(n))
	default:
		b = append(b, 0x80|127)
		b = binary.BigEndian.AppendUint64(b, uint64(n))
	}
	b = append(b, key[:]...)
	start := len(b)
	b = append(b, payload...)
	for i := range b[start:] {
		b[start+i] ^= key[i&3]
	}
	return b
}

// randomKey returns a masking key; each connection uses its own.
func randomKey() [4]byte {
	var k [4]byte
	_, _ = rand.Read(k[:])
	return k
}

// frameHeader parses the header of a server frame at the start of b. It
// returns the header length (0 when b holds too few bytes), the opcode,
// the FIN bit and the payload length.
func frameHeader(b []byte) (hlen int, op byte, fin bool, n int64, err error) {
	if len(b) < 2 {
		return 0, 0, false, 0, nil
	}
	if b[1]&0x80 != 0 {
		return 0, 0, false, 0, fmt.Errorf("%w: masked frame from a server", ErrBadFrame)
	}
	if b[0]&0x70 != 0 {
		return 0, 0, false, 0, fmt.Errorf("%w: reserved bits %#x", ErrBadFrame, b[0]&0x70)
	}
	op, fin = b[0]&0x0F, b[0]&0x80 != 0
	switch l := b[1] & 0x7F; l {
	case 126:
		if len(b) < 4 {
			return 0, 0, false, 0, nil
		}
		return 4, op, fin, int64(binary.BigEndian.Uint16(b[2:])), nil
	case 127:
		if len(b) < 10 {
			return 0, 0, false, 0, nil
		}
		n := binary.BigEndian.Uint64(b[2:])
		if n > 1<<62 {
			return 0, 0, false, 0, fmt.Errorf("%w: length %d", ErrBadFrame, n)
		}
		return 10, op, fin, int64(n), nil
	default:
		return 2, op, fin, int64(l), nil
	}
}

// parseBuffered consumes the complete, unfragmented data messages at the
// front of the buffer, checking each payload against want (nil: length
// only, len(want) bytes). It returns how many it consumed; it stops at the
// first incomplete frame. Pings and pongs are skipped.
func (c *client) parseBuffered(want []byte, checkContent bool) (int, error) {
	count := 0
	for {
		b := c.buf[c.r:c.w]
		hlen, op, fin, n, err := frameHeader(b)
		if err != nil {
			return count, err
		}
		if hlen == 0 || int64(len(b)-hlen) < n {
			if hlen > 0 && int64(hlen)+n > int64(len(c.buf)) {
				return count, fmt.Errorf("%w: %d-byte frame exceeds the %d-byte read buffer", ErrBadFrame, n, len(c.buf))
			}
			return count, nil
		}
		payload := b[hlen : hlen+int(n)]
		c.r += hlen + int(n)
		switch op {
		case 0x9, 0xA:
			continue
		case 0x8:
			return count, fmt.Errorf("%w: %x", ErrServerClose, payload)
		case 0x1, 0x2:
			if !fin {
				return count, fmt.Errorf("%w: fragmented %d-byte message", ErrBadFrame, len(want))
			}
		default:
			return count, fmt.Errorf("%w: opcode %#x", ErrBadFrame, op)
		}
		if len(payload) != len(want) || (checkContent && !bytes.Equal(payload, want)) {
			return count, fmt.Errorf("%w: got %d bytes, want %d", ErrBadEcho, len(payload), len(want))
		}
		count++
	}
}

// readMessages blocks until at least one whole message is parsed, then
// returns all whole messages buffered (see parseBuffered).
func (c *client) readMessages(want []byte, checkContent bool) (int, error) {
	for {
		n, err := c.parseBuffered(want, checkContent)
		if n > 0 || err != nil {
			return n, err
		}
		if c.r == c.w {
			c.r, c.w = 0, 0
		} else if c.r > 0 && len(c.buf)-c.w < 4096 {
			c.w = copy(c.buf, c.buf[c.r:c.w])
			c.r = 0
		}
		m, err := c.nc.Read(c.buf[c.w:])
		c.w += m
		if m == 0 && err != nil {
			return 0, err
		}
	}
}

// readLarge reads one data message of any size, fragmented or not,
// streaming it through the buffer and comparing it with want.
func (c *client) readLarge(want []byte) error {
	off := 0
	for {
		if err := c.fillHeader(); err != nil {
			return err
		}
		hlen, op, fin, n, _ := frameHeader(c.buf[c.r:c.w])
		c.r += hlen
		switch {
		case op == 0x9 || op == 0xA:
			if err := c.skip(n); err != nil {
				return err
			}
			continue
		case op == 0x8:
			return ErrServerClose
		case op > 0x2 || (op == 0 && off == 0):
			return fmt.Errorf("%w: opcode %#x", ErrBadFrame, op)
		}
		if int64(off)+n > int64(len(want)) {
			return fmt.Errorf("%w: message over %d bytes", ErrBadEcho, len(want))
		}
		for n > 0 {
			if c.r == c.w {
				c.r, c.w = 0, 0
				m, err := c.nc.Read(c.buf)
				c.w = m
				if m == 0 && err != nil {
					return err
				}
			}
			k := int(min(n, int64(c.w-c.r)))
			if !bytes.Equal(c.buf[c.r:c.r+k], want[off:off+k]) {
				return ErrBadEcho
			}
			c.r += k
			off += k
			n -= int64(k)
		}
		if fin {
			if off != len(want) {
				return fmt.Errorf("%w: got %d bytes, want %d", ErrBadEcho, off, len(want))
			}
			return nil
		}
	}
}

// fillHeader reads until a whole frame header is buffered.
func (c *client) fillHeader() error {
	for {
		hlen, _, _, _, err := frameHeader(c.buf[c.r:c.w])
		if err != nil || hlen > 0 {
			return err
		}
		if c.r > 0 {
			c.w = copy(c.buf, c.buf[c.r:c.w])
			c.r = 0
		}
		m, err := c.nc.Read(c.buf[c.w:])
		c.w += m
		if m == 0 && err != nil {
			return err
		}
	}
}

func (c *client) skip(n int64) error {
	for n > 0 {
		if c.r == c.w {
			c.r, c.w = 0, 0
			m, err := c.nc.Read(c.buf)
			c.w = m
			if m == 0 && err != nil {
				return err
			}
		}
		k := int(min(n, int64(c.w-c.r)))
		c.r += k
		n -= int64(k)
	}
	return nil
}

func (c *client) close() error { return c.nc.Close() }
