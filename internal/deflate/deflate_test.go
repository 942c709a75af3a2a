package deflate

import (
	"bytes"
	"compress/flate"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/rfc6455/websocket/internal/deflatetest"
)

var testLevels = []int{flate.HuffmanOnly, 0, flate.BestSpeed, 2, flate.DefaultCompression, 6, flate.BestCompression}

// TestRoundTrip compresses sequences of varied messages with every window
// size, several levels and each valid pairing of context takeover on the
// encoder (the peer's compressor) and the decoder, inflates them with
// varied source chunking and read sizes, and checks the compressed stream
// with the independent reference inflater: same output, and no
// back-reference longer than the negotiated window.
func TestRoundTrip(t *testing.T) {
	pairs := []struct {
		name     string
		enc, dec bool
	}{
		{"no-takeover", false, false},
		{"decoder-keeps-history", false, true},
		{"takeover", true, true},
	}
	pieces := [][]int{nil, {1}, {7, 300}, {4096}, {65536, 3}}
	srcChunks := [][]int{{1 << 20}, {1}, {2, 5, 1000}, {125}}
	bufSizes := []int{1, 7, 512, 1 << 16}
	seed := uint64(0)
	for wb := 8; wb <= 15; wb++ {
		for _, level := range testLevels {
			for _, pair := range pairs {
				seed++
				t.Run(fmt.Sprintf("wb=%d/level=%d/%s", wb, level, pair.name), func(t *testing.T) {
					count := 12
					if testing.Short() {
						count = 5
					}
					msgs := messageMix(seed, count, wb == 15)
					e := NewEncoder(level, wb, pair.enc)
					defer e.Release()
					d := NewDecoder(wb, pair.dec)
					defer d.Release()
					if want := pair.enc && level != flate.HuffmanOnly; e.ContextTakeover() != want {
						t.Fatalf("ContextTakeover() = %v, want %v", e.ContextTakeover(), want)
					}
					var stream [][]byte
					for i, m := range msgs {
						c, err := compress(e, m, pieces[i%len(pieces)])
						if err != nil {
							t.Fatalf("message %d: compress: %v", i, err)
						}
						if len(c) == 0 {
							t.Fatalf("message %d: empty compressed payload", i)
						}
						src := &chunkReader{data: c, sizes: srcChunks[i%len(srcChunks)], eofWithData: i%2 == 0}
						got, err := inflate(d, src, bufSizes[i%len(bufSizes)], len(m)+1)
						if err != nil {
							t.Fatalf("message %d (%d bytes, %d compressed): inflate: %v", i, len(m), len(c), err)
						}
						if !bytes.Equal(got, m) {
							t.Fatalf("message %d: inflated %d bytes, want %d", i, len(got), len(m))
						}
						stream = append(stream, c)
					}
					checkStream(t, stream, msgs, wb, e.ContextTakeover())
				})
			}
		}
	}
}

// checkStream inflates the compressed messages with the reference
// inflater, as one stream when the encoder kept context and one by one
// otherwise, and checks the output and the largest back-reference.
func checkStream(t *testing.T, stream, msgs [][]byte, windowBits int, takeover bool) {
	t.Helper()
	var want, got []byte
	maxDist := 0
	if takeover {
		res, err := deflatetest.Inflate(nil, withTail(stream...), deflatetest.EndOfInput, 1<<30)
		if err != nil {
			t.Fatalf("reference inflater: %v", err)
		}
		got, maxDist = res.Out, res.MaxDist
	} else {
		for i, c := range stream {
			res, err := deflatetest.Inflate(nil, withTail(c), deflatetest.EndOfInput, 1<<30)
			if err != nil {
				t.Fatalf("reference inflater, message %d: %v", i, err)
			}
			got = append(got, res.Out...)
			maxDist = max(maxDist, res.MaxDist)
		}
	}
	for _, m := range msgs {
		want = append(want, m...)
	}
	if !bytes.Equal(got, want) {
		t.Fatalf("reference inflater output differs: %d bytes, want %d", len(got), len(want))
	}
	if maxDist > 1<<windowBits {
		t.Fatalf("back-reference distance %d exceeds the window of %d bytes", maxDist, 1<<windowBits)
	}
}

// TestWindowBitsBound checks the compressed output with the reference
// inflater on very repetitive input: at every window size there are
// back-references (so the check can see them), none longer than the
// window, and those of the periodic input reach exactly as far as its
// period when that fits in the window.
func TestWindowBitsBound(t *testing.T) {
	inputs := map[string][]byte{
		"zeros":  make([]byte, 50_000),
		"json":   jsonLike(3, 50_000),
		"period": bytes.Repeat(randomBytes(4, 1000), 40),
	}
	for name, in := range inputs {
		for wb := 8; wb <= 15; wb++ {
			levels := []int{1, 6, 9}
			if wb < 15 {
				levels = []int{1, 6} // 9 differs from 6 by effort only
			}
			for _, level := range levels {
				e := NewEncoder(level, wb, true)
				var stream [][]byte
				for range 3 {
					c, err := compress(e, in, nil)
					if err != nil {
						t.Fatal(err)
					}
					stream = append(stream, c)
				}
				e.Release()
				res, err := deflatetest.Inflate(nil, withTail(stream...), deflatetest.EndOfInput, 1<<30)
				if err != nil {
					t.Fatalf("%s wb=%d level=%d: reference inflater: %v", name, wb, level, err)
				}
				if want := bytes.Repeat(in, 3); !bytes.Equal(res.Out, want) {
					t.Fatalf("%s wb=%d level=%d: output differs", name, wb, level)
				}
				switch {
				case res.MaxDist > 1<<wb || res.MaxDist == 0 && (name != "period" || 1000 <= 1<<wb):
					t.Errorf("%s wb=%d level=%d: largest distance %d, want 1..%d", name, wb, level, res.MaxDist, 1<<wb)
				case name == "period" && 1000 <= 1<<wb && res.MaxDist < 1000:
					t.Errorf("%s wb=%d level=%d: largest distance %d, want the period 1000 at least", name, wb, level, res.MaxDist)
				}
			}
		}
	}
}

// TestContextTakeover checks that with context takeover a repeated message
// compresses to a fraction of its first size, and without it to exactly
// the same bytes; and that a decoder without the context cannot inflate
// the second message.
func TestContextTakeover(t *testing.T) {
	msg := jsonLike(7, 2000)
	for _, level := range []int{0, 1, 2, 4, 6, 9, flate.DefaultCompression} {
		t.Run(fmt.Sprintf("level=%d", level), func(t *testing.T) {
			on := NewEncoder(level, 15, true)
			defer on.Release()
			first, err := on.AppendCompressed(nil, msg)
			if err != nil {
				t.Fatal(err)
			}
			second, err := on.AppendCompressed(nil, msg)
			if err != nil {
				t.Fatal(err)
			}
			if len(second)*5 > len(first) {
				t.Errorf("with context takeover: second copy %d bytes, first %d: want under a fifth", len(second), len(first))
			}

			off := NewEncoder(level, 15, false)
			defer off.Release()
			first2, _ := off.AppendCompressed(nil, msg)
			second2, _ := off.AppendCompressed(nil, msg)
			if !bytes.Equal(first2, second2) || !bytes.Equal(first, first2) {
				t.Errorf("without context takeover: %d then %d bytes (with takeover first %d), want identical payloads",
					len(first2), len(second2), len(first))
			}

			d := NewDecoder(15, true)
			defer d.Release()
			for i, c := range [][]byte{first, second} {
				got, err := inflate(d, bytes.NewReader(c), 4096, 1<<20)
				if err != nil || !bytes.Equal(got, msg) {
					t.Fatalf("takeover decoder, message %d: %d bytes, %v", i, len(got), err)
				}
			}
			nd := NewDecoder(15, false)
			defer nd.Release()
			if _, err := inflate(nd, bytes.NewReader(first), 4096, 1<<20); err != nil {
				t.Fatal(err)
			}
			got, err := inflate(nd, bytes.NewReader(second), 4096, 1<<20)
			if !errors.Is(err, ErrCorrupt) {
				t.Errorf("decoder without context on a context message: %d bytes, err %v, want ErrCorrupt", len(got), err)
			}
		})
	}
}

// TestSplitWrites checks that the compressed bytes do not depend on how a
// message is cut into Write calls.
func TestSplitWrites(t *testing.T) {
	msgs := [][]byte{jsonLike(11, 70_000), jsonLike(12, 3000), randomBytes(13, 40_000), nil, []byte("Hello")}
	splits := [][]int{{1}, {3, 1, 4, 1, 5, 9, 2, 6}, {4095}, {65535, 2}}
	for _, level := range []int{flate.HuffmanOnly, 1, 6, 9} {
		for _, takeover := range []bool{false, true} {
			whole := NewEncoder(level, 15, takeover)
			var want [][]byte
			for _, m := range msgs {
				c, err := compress(whole, m, nil)
				if err != nil {
					t.Fatal(err)
				}
				want = append(want, c)
			}
			whole.Release()
			for _, split := range splits {
				e := NewEncoder(level, 15, takeover)
				for i, m := range msgs {
					c, err := compress(e, m, split)
					if err != nil {
						t.Fatal(err)
					}
					if !bytes.Equal(c, want[i]) {
						t.Errorf("level %d takeover %v split %v message %d: %d bytes differ from one Write (%d)",
							level, takeover, split, i, len(c), len(want[i]))
					}
				}
				e.Release()
			}
		}
	}
}

// TestEmptyMessage checks that an empty message compresses to the single
// byte 0x00 (RFC 7692 section 7.2.3.6) however it is written, that it
// inflates back, and that it does not disturb the context.
func TestEmptyMessage(t *testing.T) {
	for _, level := range testLevels {
		for _, wb := range []int{8, 12, 15} {
			for _, takeover := range []bool{false, true} {
				e := NewEncoder(level, wb, takeover)
				d := NewDecoder(wb, takeover)
				var out bytes.Buffer
				e.Reset(&out)
				if _, err := e.Write(nil); err != nil {
					t.Fatal(err)
				}
				if _, err := e.Write([]byte{}); err != nil {
					t.Fatal(err)
				}
				if err := e.Close(); err != nil {
					t.Fatal(err)
				}
				msgs := [][]byte{jsonLike(1, 500), nil, jsonLike(1, 500), nil}
				for i, m := range msgs {
					c, err := e.AppendCompressed(nil, m)
					if err != nil {
						t.Fatal(err)
					}
					if m == nil && !bytes.Equal(c, []byte{0}) {
						t.Errorf("level %d wb %d takeover %v: empty message compressed to % x, want 00", level, wb, takeover, c)
					}
					got, err := inflate(d, bytes.NewReader(c), 100, 1000)
					if err != nil || !bytes.Equal(got, m) {
						t.Errorf("level %d wb %d takeover %v: message %d inflated to %q, %v", level, wb, takeover, i, got, err)
					}
				}
				if !bytes.Equal(out.Bytes(), []byte{0}) {
					t.Errorf("empty Writes then Close gave % x, want 00", out.Bytes())
				}
				e.Release()
				d.Release()
			}
		}
	}
	// Lenient: a payload of zero bytes is taken as an empty message too.
	d := NewDecoder(15, true)
	got, err := inflate(d, bytes.NewReader(nil), 10, 10)
	if err != nil || len(got) != 0 {
		t.Errorf("zero-byte payload: %q, %v", got, err)
	}
}

func hexBytes(s string) []byte {
	var b []byte
	for _, f := range bytes.Fields([]byte(s)) {
		var v byte
		if _, err := fmt.Sscanf(string(f), "%02x", &v); err != nil {
			panic(err)
		}
		b = append(b, v)
	}
	return b
}

// TestRFC7692Examples inflates the examples of RFC 7692 section 7.2.3 and
// checks that the Encoder reproduces those it can.
func TestRFC7692Examples(t *testing.T) {
	tests := []struct {
		name     string
		takeover bool
		frames   [][]string // per message, its frames' payloads
		want     []string
	}{
		{"7.2.3.1 one frame", false, [][]string{{"f2 48 cd c9 c9 07 00"}}, []string{"Hello"}},
		{"7.2.3.1 two frames", false, [][]string{{"f2 48 cd", "c9 c9 07 00"}}, []string{"Hello"}},
		{"7.2.3.2 shared window", true, [][]string{{"f2 48 cd c9 c9 07 00"}, {"f2 00 11 00 00"}}, []string{"Hello", "Hello"}},
		{"7.2.3.3 no compression", false, [][]string{{"00 05 00 fa ff 48 65 6c 6c 6f 00"}}, []string{"Hello"}},
		{"7.2.3.4 BFINAL", false, [][]string{{"f3 48 cd c9 c9 07 00 00"}}, []string{"Hello"}},
		{"7.2.3.4 BFINAL then context", true, [][]string{{"f3 48 cd c9 c9 07 00 00"}, {"f2 00 11 00 00"}}, []string{"Hello", "Hello"}},
		{"7.2.3.5 two blocks", false, [][]string{{"f2 48 05 00 00 00 ff ff ca c9 c9 07 00"}}, []string{"Hello"}},
		{"7.2.3.6 empty", false, [][]string{{"00"}}, []string{""}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := NewDecoder(15, tt.takeover)
			defer d.Release()
			var got []string
			for _, frames := range tt.frames {
				var payload []byte
				var sizes []int
				for _, f := range frames {
					b := hexBytes(f)
					payload = append(payload, b...)
					sizes = append(sizes, len(b))
				}
				out, err := inflate(d, &chunkReader{data: payload, sizes: sizes}, 64, 64)
				if err != nil {
					t.Fatalf("inflate % x: %v", payload, err)
				}
				got = append(got, string(out))
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("inflated messages (-want +got):\n%s", diff)
			}
		})
	}

	encodes := []struct {
		level int
		want  string
	}{
		{6, "f2 48 cd c9 c9 07 00"}, // 7.2.3.1: fixed Huffman is smallest
		{1, "f2 48 cd c9 c9 07 00"},
		{flate.HuffmanOnly, "f2 48 cd c9 c9 07 00"},
	}
	for _, tt := range encodes {
		e := NewEncoder(tt.level, 15, false)
		got, err := e.AppendCompressed(nil, []byte("Hello"))
		e.Release()
		if err != nil || !bytes.Equal(got, hexBytes(tt.want)) {
			t.Errorf("level %d: Hello compressed to % x (%v), want %s", tt.level, got, err, tt.want)
		}
	}
	// 7.2.3.2: with context takeover the second Hello is one reference
	// (to 4 bytes, 02 13 00 00: the RFC's encoder spends a fifth on a
	// block boundary).
	e := NewEncoder(1, 15, true)
	defer e.Release()
	d := NewDecoder(15, true)
	defer d.Release()
	for i, want := range []string{"f2 48 cd c9 c9 07 00", "02 13 00 00"} {
		got, err := e.AppendCompressed(nil, []byte("Hello"))
		if err != nil || !bytes.Equal(got, hexBytes(want)) {
			t.Errorf("takeover message %d: Hello compressed to % x (%v), want %s", i, got, err, want)
		}
		if out, err := inflate(d, bytes.NewReader(got), 64, 64); err != nil || string(out) != "Hello" {
			t.Errorf("takeover message %d: inflated to %q, %v", i, out, err)
		}
	}
}

// TestInteropFlate inflates streams made by compress/flate directly: one
// Writer flushed after each message (context takeover), a fresh Writer
// closed after each message with the tail stripped, and unstripped.
func TestInteropFlate(t *testing.T) {
	msgs := messageMix(99, 10, true)
	for level := flate.HuffmanOnly; level <= flate.BestCompression; level++ {
		// Context takeover: one writer, sync flush per message.
		var buf bytes.Buffer
		fw, err := flate.NewWriter(&buf, level)
		if err != nil {
			t.Fatal(err)
		}
		d := NewDecoder(15, true)
		for i, m := range msgs {
			buf.Reset()
			fw.Write(m)
			fw.Flush()
			c := bytes.TrimSuffix(buf.Bytes(), syncTail[:])
			if len(c) != buf.Len()-4 {
				t.Fatalf("flush did not end with the sync tail")
			}
			got, err := inflate(d, bytes.NewReader(c), 1000, len(m)+1)
			if err != nil || !bytes.Equal(got, m) {
				t.Fatalf("level %d flushed message %d: %d bytes, %v", level, i, len(got), err)
			}
		}
		d.Release()

		// A writer closed per message (BFINAL set), with and without the
		// 00 00 ff ff of its final empty stored block stripped.
		for _, strip := range []bool{true, false} {
			d := NewDecoder(15, false)
			for i, m := range msgs {
				var buf bytes.Buffer
				fw, _ := flate.NewWriter(&buf, level)
				fw.Write(m)
				fw.Close()
				c := buf.Bytes()
				if strip {
					c = bytes.TrimSuffix(c, syncTail[:])
				}
				got, err := inflate(d, bytes.NewReader(c), 1000, len(m)+1)
				if err != nil || !bytes.Equal(got, m) {
					t.Fatalf("level %d closed message %d (strip %v): %d bytes, %v", level, i, strip, len(got), err)
				}
			}
			d.Release()
		}
	}
}

// TestDecoderWindow checks that with context takeover the Decoder keeps
// exactly the last 2^windowBits bytes of output: a back-reference of
// exactly that distance into the previous messages works, one byte more is
// corrupt (at 15 window bits, 32768 is the largest distance DEFLATE can
// express).
func TestDecoderWindow(t *testing.T) {
	for wb := 8; wb <= 15; wb++ {
		w := 1 << wb
		// Several messages whose total exceeds the window, so that the
		// history has wrapped.
		prev := [][]byte{randomBytes(uint64(wb), w/3), randomBytes(uint64(wb+20), w), randomBytes(uint64(wb+40), w/2+5)}
		var all []byte
		for _, p := range prev {
			all = append(all, p...)
		}
		for _, dist := range []int{1, w - 1, w, w + 1} {
			if dist > 1<<15 {
				continue
			}
			d := NewDecoder(wb, true)
			e := NewEncoder(1, 15, false) // stored or Huffman-only: no references
			for _, p := range prev {
				c, _ := e.AppendCompressed(nil, p)
				if got, err := inflate(d, bytes.NewReader(c), 999, len(p)+1); err != nil || !bytes.Equal(got, p) {
					t.Fatalf("wb %d: setup message: %v", wb, err)
				}
			}
			e.Release()
			got, err := inflate(d, bytes.NewReader(deflatetest.EncodeFixed([]deflatetest.Sym{{Length: 5, Dist: dist}})), 999, 100)
			if dist <= w {
				hist := append([]byte(nil), all...)
				for range 5 {
					hist = append(hist, hist[len(hist)-dist])
				}
				if want := hist[len(all):]; err != nil || !bytes.Equal(got, want) {
					t.Errorf("wb %d dist %d: got % x, %v; want % x", wb, dist, got, err, want)
				}
			} else if !errors.Is(err, ErrCorrupt) {
				t.Errorf("wb %d dist %d (window %d): got % x, %v; want ErrCorrupt", wb, dist, w, got, err)
			}
			d.Release()
		}
	}
}

// TestCorrupt checks that invalid messages fail with ErrCorrupt.
func TestCorrupt(t *testing.T) {
	hello := hexBytes("f2 48 cd c9 c9 07 00")
	tests := []struct {
		name    string
		payload []byte
	}{
		{"reserved block type", []byte{0x07}},
		{"garbage", []byte{0xff, 0xff, 0xff, 0xff, 0xff}},
		{"truncated huffman", hello[:3]},
		{"truncated stored", hexBytes("00 05 00 fa ff 48 65")},
		{"stored length mismatch", hexBytes("00 05 00 fb ff 48 65 6c 6c 6f 00")},
		{"stored block needs more input", append(hexBytes("00 64 00 9b ff"), "abc"...)},
		{"two bytes after final block", hexBytes("f3 48 cd c9 c9 07 00 00 00")},
		{"non-zero byte after final block", hexBytes("f3 48 cd c9 c9 07 00 01")},
		{"message after final block", append(hexBytes("f3 48 cd c9 c9 07 00"), hello...)},
		{"final block ends inside the tail", hexBytes("03")},
		{"distance before start", deflatetest.EncodeFixed(append(deflatetest.Literals([]byte("a")), deflatetest.Sym{Length: 3, Dist: 2}))},
		{"bad dynamic header", hexBytes("04 ff ff ff ff")},
	}
	for _, tt := range tests {
		for _, takeover := range []bool{false, true} {
			d := NewDecoder(15, takeover)
			got, err := inflate(d, bytes.NewReader(tt.payload), 64, 1000)
			if !errors.Is(err, ErrCorrupt) {
				t.Errorf("%s (takeover %v): got %q, %v; want ErrCorrupt", tt.name, takeover, got, err)
			}
			// The error is terminal for the message.
			if _, err2 := d.Read(make([]byte, 10)); err2 != err {
				t.Errorf("%s: second Read returned %v, want %v again", tt.name, err2, err)
			}
			d.Release()
		}
	}
}

// TestFinalBlockForms checks the final-block endings a sender may use
// (RFC 7692 sections 7.2.1 and 7.2.3.4) are accepted.
func TestFinalBlockForms(t *testing.T) {
	for _, p := range []string{
		"f3 48 cd c9 c9 07 00 00",                         // final block, then the 0x00 stored header
		"f3 48 cd c9 c9 07 00",                            // final block, nothing after
		"f2 48 cd c9 c9 07 00 00 00 ff ff 01",             // then a final empty stored block, stripped
		"f2 48 cd c9 c9 07 00 00 00 ff ff 01 00 00 ff ff", // ... unstripped
	} {
		d := NewDecoder(15, false)
		got, err := inflate(d, bytes.NewReader(hexBytes(p)), 64, 100)
		if err != nil || string(got) != "Hello" {
			t.Errorf("% s: %q, %v", p, got, err)
		}
	}
}

// TestSourceError checks that errors from the source other than io.EOF
// come back unchanged, and that they end a context takeover stream.
func TestSourceError(t *testing.T) {
	c, _ := NewEncoder(6, 15, false).AppendCompressed(nil, jsonLike(5, 5000))
	for _, cut := range []int{0, 1, len(c) / 2, len(c)} {
		d := NewDecoder(15, true)
		_, err := inflate(d, &errReader{data: c[:cut], err: errTest}, 100, 1<<20)
		if err != errTest {
			t.Errorf("cut %d: err %v, want errTest unchanged", cut, err)
		}
		d.Reset(bytes.NewReader(c))
		if _, err := d.Read(make([]byte, 10)); !errors.Is(err, ErrContextLost) {
			t.Errorf("cut %d: next message with context takeover: %v, want ErrContextLost", cut, err)
		}
		d.Release()
	}
}

// TestStateErrors checks the errors for calls out of order and the
// context-loss rules.
func TestStateErrors(t *testing.T) {
	msg := jsonLike(8, 3000)

	e := NewEncoder(1, 15, true)
	if _, err := e.Write(msg); !errors.Is(err, ErrNoMessage) {
		t.Errorf("Write before Reset: %v", err)
	}
	if err := e.Close(); !errors.Is(err, ErrNoMessage) {
		t.Errorf("Close before Reset: %v", err)
	}
	e.Reset(io.Discard)
	e.Write(msg)
	e.Reset(io.Discard) // abandons a message with context takeover
	if _, err := e.Write(msg); !errors.Is(err, ErrContextLost) {
		t.Errorf("Write after abandoning a takeover message: %v", err)
	}
	if err := e.Close(); !errors.Is(err, ErrContextLost) {
		t.Errorf("Close after abandoning a takeover message: %v", err)
	}
	e.Release()
	e.Release()
	if _, err := e.Write(msg); !errors.Is(err, ErrReleased) {
		t.Errorf("Write after Release: %v", err)
	}
	if _, err := e.AppendCompressed(nil, msg); !errors.Is(err, ErrReleased) {
		t.Errorf("AppendCompressed after Release: %v", err)
	}

	// Without takeover, abandoning is harmless.
	e = NewEncoder(1, 15, false)
	e.Reset(io.Discard)
	e.Write(msg)
	if c, err := compress(e, msg, nil); err != nil {
		t.Errorf("message after an abandoned one without takeover: %v", err)
	} else if got, err := inflate(NewDecoder(15, false), bytes.NewReader(c), 512, len(msg)+1); err != nil || !bytes.Equal(got, msg) {
		t.Errorf("inflating it: %v", err)
	}

	// A failing destination loses the context with takeover only.
	for _, takeover := range []bool{false, true} {
		e := NewEncoder(1, 15, takeover)
		e.Reset(&failWriter{})
		_, werr := e.Write(jsonLike(9, 200_000))
		cerr := e.Close()
		if !errors.Is(werr, errTest) && !errors.Is(cerr, errTest) {
			t.Errorf("takeover %v: failing destination: Write %v, Close %v", takeover, werr, cerr)
		}
		_, err := e.AppendCompressed(nil, msg)
		if takeover && !errors.Is(err, ErrContextLost) || !takeover && err != nil {
			t.Errorf("takeover %v: next message after a failed one: %v", takeover, err)
		}
		e.Release()
	}

	d := NewDecoder(15, true)
	if _, err := d.Read(make([]byte, 10)); !errors.Is(err, ErrNoMessage) {
		t.Errorf("Read before Reset: %v", err)
	}
	c, _ := NewEncoder(1, 15, false).AppendCompressed(nil, msg)
	d.Reset(bytes.NewReader(c))
	d.Read(make([]byte, 10))
	d.Reset(bytes.NewReader(c)) // abandons a message with context takeover
	if _, err := d.Read(make([]byte, 10)); !errors.Is(err, ErrContextLost) {
		t.Errorf("Read after abandoning a takeover message: %v", err)
	}
	d.Release()
	if _, err := d.Read(make([]byte, 10)); !errors.Is(err, ErrReleased) {
		t.Errorf("Read after Release: %v", err)
	}

	d = NewDecoder(15, false)
	d.Reset(bytes.NewReader(c))
	d.Read(make([]byte, 10))
	if got, err := inflate(d, bytes.NewReader(c), 100, len(msg)+1); err != nil || !bytes.Equal(got, msg) {
		t.Errorf("message after an abandoned one without takeover: %v", err)
	}
	if n, err := d.Read(make([]byte, 10)); n != 0 || err != io.EOF {
		t.Errorf("Read after the end: %d, %v; want 0, io.EOF", n, err)
	}
}

type failWriter struct{ n int }

func (w *failWriter) Write(p []byte) (int, error) {
	if w.n += len(p); w.n > 1000 {
		return 0, errTest
	}
	return len(p), nil
}

func TestNewPanics(t *testing.T) {
	for _, f := range []func(){
		func() { NewEncoder(10, 15, false) },
		func() { NewEncoder(-3, 15, false) },
		func() { NewEncoder(1, 7, false) },
		func() { NewEncoder(1, 16, false) },
		func() { NewDecoder(7, false) },
		func() { NewDecoder(16, true) },
	} {
		func() {
			defer func() {
				if recover() == nil {
					t.Error("no panic on an invalid argument")
				}
			}()
			f()
		}()
	}
}

// TestInteropZlib inflates messages compressed by zlib (the library behind
// most browsers and servers), with and without context takeover, at
// several window sizes and levels: testdata/zlib_vectors.json, made by
// testdata/gen_zlib_vectors.py.
func TestInteropZlib(t *testing.T) {
	raw, err := os.ReadFile("testdata/zlib_vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var v struct {
		Messages []string
		Sets     []struct {
			WindowBits int
			Level      int
			Takeover   bool
			Compressed [][]byte // base64 in JSON
		}
	}
	if err := json.Unmarshal(raw, &v); err != nil {
		t.Fatal(err)
	}
	if len(v.Sets) == 0 {
		t.Fatal("no vectors")
	}
	for _, s := range v.Sets {
		d := NewDecoder(s.WindowBits, s.Takeover)
		var got []string
		for _, c := range s.Compressed {
			out, err := inflate(d, bytes.NewReader(c), 300, 1<<20)
			if err != nil {
				t.Fatalf("wb %d level %d takeover %v: %v", s.WindowBits, s.Level, s.Takeover, err)
			}
			got = append(got, string(out))
		}
		if diff := cmp.Diff(v.Messages, got); diff != "" {
			t.Errorf("wb %d level %d takeover %v (-want +got):\n%s", s.WindowBits, s.Level, s.Takeover, diff)
		}
		d.Release()
	}
}
