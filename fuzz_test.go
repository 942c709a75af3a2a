package websocket

import (
	"bytes"
	"errors"
	"io"
	"net"
	"testing"
	"time"

	"github.com/rfc6455/websocket/frame"
	"github.com/rfc6455/websocket/handshake"
)

// fuzzConn is a net.Conn reading a fixed input once and recording writes.
type fuzzConn struct {
	in  *bytes.Reader
	out bytes.Buffer
}

func (f *fuzzConn) Read(p []byte) (int, error)       { return f.in.Read(p) }
func (f *fuzzConn) Write(p []byte) (int, error)      { return f.out.Write(p) }
func (f *fuzzConn) Close() error                     { return nil }
func (f *fuzzConn) LocalAddr() net.Addr              { return &net.TCPAddr{} }
func (f *fuzzConn) RemoteAddr() net.Addr             { return &net.TCPAddr{} }
func (f *fuzzConn) SetDeadline(time.Time) error      { return nil }
func (f *fuzzConn) SetReadDeadline(time.Time) error  { return nil }
func (f *fuzzConn) SetWriteDeadline(time.Time) error { return nil }

func fuzzFrame(fin bool, rsv uint8, op frame.Opcode, payload string) []byte {
	h := frame.Header{Fin: fin, Rsv: rsv, Opcode: op, Masked: true, Key: [4]byte{9, 8, 7, 6}, Length: int64(len(payload))}
	b := frame.AppendHeader(nil, h)
	start := len(b)
	b = append(b, payload...)
	frame.Mask(h.Key, 0, b[start:])
	return b
}

// FuzzConnRead feeds arbitrary bytes to a server Conn's message reader,
// with and without permessage-deflate: it must never panic, never return a
// message over the read limit, only return valid UTF-8 as text, and end
// every failure with a close frame carrying a valid code.
func FuzzConnRead(f *testing.F) {
	cat := func(parts ...[]byte) []byte { return bytes.Join(parts, nil) }
	f.Add(cat(fuzzFrame(true, 0, frame.OpText, "hello")), false)
	f.Add(cat(fuzzFrame(false, 0, frame.OpText, "hel"), fuzzFrame(true, 0, frame.OpPing, "p"), fuzzFrame(true, 0, frame.OpContinuation, "lo")), false)
	f.Add(cat(fuzzFrame(true, 0, frame.OpBinary, "\xff\x00"), fuzzFrame(true, 0, frame.OpClose, "\x03\xe8bye")), false)
	f.Add(cat(fuzzFrame(true, 0, frame.OpText, "\xed\xa0\x80")), false)
	f.Add(cat(fuzzFrame(true, frame.Rsv1, frame.OpText, "\xf2\x48\xcd\xc9\xc9\x07\x00")), true)
	f.Add(cat(fuzzFrame(false, frame.Rsv1, frame.OpText, "\xf2\x48\xcd"), fuzzFrame(true, 0, frame.OpContinuation, "\xc9\xc9\x07\x00")), true)
	f.Add(cat(fuzzFrame(true, frame.Rsv1, frame.OpBinary, "\x00")), true)
	f.Add([]byte{0x82, 0xff, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 1, 2, 3, 4}, false)
	f.Fuzz(func(t *testing.T, in []byte, compress bool) {
		const limit = 1 << 16
		fc := &fuzzConn{in: bytes.NewReader(in)}
		var neg *handshake.Deflate
		if compress {
			neg = &handshake.Deflate{ServerMaxWindowBits: 15, ClientMaxWindowBits: 15}
		}
		o := (&Options{ReadLimit: limit, CloseTimeout: time.Millisecond}).resolve()
		c := newConn(fc, RoleServer, o, "", neg, nil)
		for i := 0; ; i++ {
			mt, p, err := c.ReadMessage()
			if err != nil {
				if errors.Is(err, ErrProtocol) || errors.Is(err, ErrInvalidUTF8) || errors.Is(err, ErrMessageTooBig) {
					// A failure must have sent a close frame with a valid code.
					out := fc.out.Bytes()
					var last frame.Header
					var payload []byte
					for len(out) > 0 {
						h, n, herr := frame.ParseHeader(out)
						if herr != nil {
							t.Fatalf("we wrote an unparsable frame: %v", herr)
						}
						last, payload = h, out[n:n+int(h.Length)]
						out = out[n+int(h.Length):]
					}
					if last.Opcode != frame.OpClose {
						t.Fatalf("failure %v without a close frame", err)
					}
					if code, _, cerr := frame.ParseClose(payload); cerr != nil || !frame.ValidCloseCode(code) {
						t.Fatalf("bad close payload %x: %v", payload, cerr)
					}
				} else if !errors.Is(err, io.ErrUnexpectedEOF) && !errors.Is(err, io.EOF) && CloseStatus(err) < 0 && !errors.Is(err, ErrClosed) {
					t.Fatalf("unexpected error kind: %v", err)
				}
				return
			}
			if len(p) > limit {
				t.Fatalf("message of %d bytes over the %d limit", len(p), limit)
			}
			if mt == TextMessage && !frame.ValidUTF8(p) {
				t.Fatalf("invalid UTF-8 returned as text")
			}
			if i > len(in) {
				t.Fatal("more messages than input bytes")
			}
		}
	})
}
