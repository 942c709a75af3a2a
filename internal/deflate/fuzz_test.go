package deflate

import (
	"bytes"
	"compress/flate"
	"errors"
	"io"
	"testing"

	"github.com/rfc6455/websocket/internal/deflatetest"
)

// fuzzLimit is how much output FuzzDecode reads from one message before it
// stops, as a connection's read limit would.
const fuzzLimit = 1 << 20

// refMessage inflates one compressed message with the reference inflater,
// applying the Decoder's rules for the end of a message.
func refMessage(hist, data []byte) (out []byte, ok, tooLong bool) {
	stream := append(append([]byte(nil), data...), inflateTail[:]...)
	if len(data) == 0 {
		stream = inflateTail[len(syncTail):]
	}
	res, err := deflatetest.Inflate(hist, stream, deflatetest.FinalBlock, fuzzLimit)
	if errors.Is(err, deflatetest.ErrTooLong) {
		return nil, false, true
	}
	if err != nil {
		return nil, false, false
	}
	switch {
	case len(data) == 0:
	case res.Used == len(data)+len(inflateTail), res.Used == len(data)+len(syncTail):
	case res.Used <= len(data):
		rest := data[res.Used:]
		if len(rest) > 1 || len(rest) == 1 && rest[0] != 0 {
			return nil, false, false
		}
	default:
		return nil, false, false
	}
	return res.Out, true, false
}

// FuzzDecode inflates arbitrary bytes as a compressed message, twice (the
// second time with the first's output as context when takeover is set):
// it must never panic, fail only with ErrCorrupt, keep at most one window
// of history, and agree with the reference inflater whenever it succeeds.
func FuzzDecode(f *testing.F) {
	for _, s := range []string{
		"f2 48 cd c9 c9 07 00", "f2 00 11 00 00", "00 05 00 fa ff 48 65 6c 6c 6f 00",
		"f3 48 cd c9 c9 07 00 00", "f2 48 05 00 00 00 ff ff ca c9 c9 07 00", "00", "03", "07",
		"f3 48 cd c9 c9 07 00 00 00", "00 64 00 9b ff 61 62 63", "04 ff ff ff ff",
	} {
		f.Add(hexBytes(s), false, uint8(7), uint8(0))
		f.Add(hexBytes(s), true, uint8(0), uint8(3))
	}
	for i, level := range []int{flate.HuffmanOnly, 1, 6, 9} {
		var buf bytes.Buffer
		fw, _ := flate.NewWriter(&buf, level)
		fw.Write(jsonLike(uint64(i), 300+i*700))
		fw.Flush()
		f.Add(bytes.TrimSuffix(buf.Bytes(), syncTail[:]), i%2 == 0, uint8(i+5), uint8(i))
	}
	f.Add(deflatetest.EncodeFixed(append(deflatetest.Literals([]byte("abc")), deflatetest.Sym{Length: 258, Dist: 3})), true, uint8(7), uint8(1))
	f.Add(deflatetest.EncodeFixed([]deflatetest.Sym{{Length: 3, Dist: 1}}), true, uint8(0), uint8(2))

	f.Fuzz(func(t *testing.T, data []byte, takeover bool, wb, split uint8) {
		windowBits := 8 + int(wb%8)
		d := NewDecoder(windowBits, takeover)
		defer d.Release()
		var hist []byte
		for round := range 2 {
			src := &chunkReader{data: data, sizes: []int{1 + int(split), 1 + int(split)*7}, eofWithData: split%2 == 1}
			d.Reset(src)
			buf := make([]byte, 1000+int(split))
			var out []byte
			var err error
			for len(out) < fuzzLimit {
				var n int
				n, err = d.Read(buf)
				out = append(out, buf[:n]...)
				if err != nil {
					break
				}
			}
			if len(d.hist) > d.window {
				t.Fatalf("history of %d bytes, window %d", len(d.hist), d.window)
			}
			if err != nil && err != io.EOF && !errors.Is(err, ErrCorrupt) && !errors.Is(err, ErrContextLost) {
				t.Fatalf("round %d: unexpected error %v", round, err)
			}
			if err == nil || err == io.EOF && !takeover && round == 1 {
				// Stopped at the limit, or nothing new to check.
				return
			}
			want, ok, tooLong := refMessage(hist, data)
			if err == io.EOF {
				if !ok && !tooLong {
					t.Fatalf("round %d: Decoder inflated %d bytes, the reference inflater rejects the message", round, len(out))
				}
				if ok && !bytes.Equal(out, want) {
					t.Fatalf("round %d: Decoder and reference inflater differ: %d and %d bytes", round, len(out), len(want))
				}
			}
			if err != io.EOF || !takeover {
				return
			}
			hist = append(hist, out...)
			if len(hist) > 1<<windowBits {
				hist = hist[len(hist)-1<<windowBits:]
			}
		}
	})
}

// FuzzRoundTrip compresses a sequence of messages with parameters taken
// from the input (level, window bits, context takeover on each side, Write
// and source chunking), inflates them, and checks the stream with the
// reference inflater (output, back-reference distances within the window).
func FuzzRoundTrip(f *testing.F) {
	f.Add([]byte{0, 7, 3, 0, 0}, []byte("Hello|Hello||"+string(jsonLike(1, 400))))
	f.Add([]byte{3, 7, 1, 5, 9}, []byte("abcabcabc|abc|"+string(jsonLike(2, 1000))))
	f.Add([]byte{8, 0, 3, 1, 31}, jsonLike(3, 2000))
	f.Add([]byte{11, 2, 2, 200, 3}, randomBytes(4, 500))
	f.Add([]byte{1, 7, 3, 17, 255}, bytes.Repeat([]byte("xyz|"), 50))

	f.Fuzz(func(t *testing.T, params, data []byte) {
		p := make([]byte, 5)
		copy(p, params)
		level := int(p[0]%12) - 2
		windowBits := 8 + int(p[1]%8)
		encTake := p[2]&1 == 1
		decTake := encTake || p[2]&2 == 2
		pieces := []int{1 + int(p[3]), 1 + int(p[3])*13}
		repeat := 1 + int(p[4]%64)

		var msgs [][]byte
		for _, m := range bytes.Split(data, []byte("|")) {
			msgs = append(msgs, bytes.Repeat(m, repeat))
		}
		e := NewEncoder(level, windowBits, encTake)
		defer e.Release()
		d := NewDecoder(windowBits, decTake)
		defer d.Release()
		var stream [][]byte
		for i, m := range msgs {
			c, err := compress(e, m, pieces)
			if err != nil {
				t.Fatalf("message %d: %v", i, err)
			}
			if len(c) == 0 {
				t.Fatalf("message %d: empty payload", i)
			}
			src := &chunkReader{data: c, sizes: pieces, eofWithData: i%2 == 0}
			got, err := inflate(d, src, 1+int(p[3])*3, len(m)+1)
			if err != nil {
				t.Fatalf("message %d: inflate: %v", i, err)
			}
			if !bytes.Equal(got, m) {
				t.Fatalf("message %d: got %d bytes, want %d", i, len(got), len(m))
			}
			stream = append(stream, c)
		}
		checkStream(t, stream, msgs, windowBits, e.ContextTakeover())
	})
}
