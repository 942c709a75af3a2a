package deflate

import (
	"bytes"
	"compress/flate"
	"io"
	"testing"

	"github.com/rfc6455/websocket/internal/deflatetest"
)

// verifyMessage checks one compressed message against its input with two
// independent inflaters, given hist, the output of the earlier messages
// that the peer keeps (nil without context takeover): compress/flate with
// the last 2^wb bytes of hist as its dictionary, and the reference
// inflater with exactly those bytes as history, which fails on any
// back-reference further than the window (or, without takeover, before
// the message).
func verifyMessage(t *testing.T, hist, payload, msg []byte, wb int) {
	t.Helper()
	if w := 1 << wb; len(hist) > w {
		hist = hist[len(hist)-w:]
	}
	res, err := deflatetest.InflateMessage(hist, payload, len(msg)+1)
	if err != nil || !bytes.Equal(res.Out, msg) {
		t.Fatalf("reference inflater (wb=%d, history %d): %v, %d bytes out, want %d", wb, len(hist), err, len(res.Out), len(msg))
	}
	src := append(append(append([]byte(nil), payload...), syncTail[:]...), inflateTail[len(syncTail):]...)
	fr := flate.NewReaderDict(bytes.NewReader(src), hist)
	got, err := io.ReadAll(fr)
	if err != nil || !bytes.Equal(got, msg) {
		t.Fatalf("compress/flate (wb=%d, history %d): %v, %d bytes out, want %d", wb, len(hist), err, len(got), len(msg))
	}
}

// FuzzEncode compresses the input with the window size (8..15), context
// takeover and level (1 or flate.HuffmanOnly) picked by params, as two
// messages (the input, then its second half, which can refer to the first)
// and checks each one with compress/flate and the reference inflater. The
// seeds cover every window size with and without takeover.
func FuzzEncode(f *testing.F) {
	seeds := [][]byte{[]byte("Hello"), {}, jsonLike(1, 700), randomBytes(2, 300),
		bytes.Repeat([]byte("ab"), 700), append(randomBytes(3, 300), randomBytes(3, 300)...)}
	for i, s := range seeds {
		for p := range 16 {
			f.Add(uint8(p+16*(i%2)), s)
		}
	}
	f.Fuzz(func(t *testing.T, params uint8, data []byte) {
		wb := 8 + int(params&7)
		takeover := params&8 != 0
		level := 1
		if params&16 != 0 {
			level = flate.HuffmanOnly
		}
		e := NewEncoder(level, wb, takeover)
		defer e.Release()
		var hist []byte
		for _, m := range [][]byte{data, data[len(data)/2:]} {
			c, err := e.AppendCompressed(nil, m)
			if err != nil {
				t.Fatal(err)
			}
			verifyMessage(t, hist, c, m, wb)
			if e.ContextTakeover() {
				hist = append(hist, m...)
			}
		}
	})
}

// FuzzTakeoverSequence compresses an arbitrary sequence of messages with
// context takeover: each byte of ctl makes one message, of a length it
// gives (up to 1,016 bytes; up to 32 messages), cut from data read cyclically (so later messages repeat earlier
// ones, near and far), written in pieces of a size it also gives. Each
// message is checked with compress/flate and the reference inflater
// against the history the peer holds.
func FuzzTakeoverSequence(f *testing.F) {
	f.Add(uint8(7), []byte{10, 20, 0, 5, 200, 255, 3}, []byte("Hello, world! "))
	f.Add(uint8(0), []byte{127, 127, 255, 255, 1}, jsonLike(5, 900))
	f.Add(uint8(2), []byte{64, 64, 64, 64, 64, 64}, randomBytes(6, 200))
	f.Add(uint8(5), []byte{255, 0, 255, 0, 200}, append(randomBytes(7, 150), bytes.Repeat([]byte{'z'}, 100)...))
	f.Fuzz(func(t *testing.T, params uint8, ctl, data []byte) {
		if len(data) == 0 || len(ctl) > 32 {
			return
		}
		wb := 8 + int(params&7)
		level := 1
		if params&8 != 0 {
			level = 9
		}
		e := NewEncoder(level, wb, true)
		defer e.Release()
		var hist []byte
		off := 0
		for i, b := range ctl {
			n := int(b&0x7f) * (1 + int(b>>7)*7) // up to 1,016 bytes
			m := make([]byte, n)
			for j := range m {
				m[j] = data[off%len(data)]
				off++
			}
			piece := 1 + int(b%5)*int(params>>4+1)*37
			c, err := compress(e, m, []int{piece})
			if err != nil {
				t.Fatalf("message %d: %v", i, err)
			}
			verifyMessage(t, hist, c, m, wb)
			hist = append(hist, m...)
			if len(hist) > 1<<wb {
				hist = append(hist[:0], hist[len(hist)-1<<wb:]...)
			}
		}
	})
}
