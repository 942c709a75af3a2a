package deflatetest

import (
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// syncTail is what a sync flush ends with and permessage-deflate removes;
// finalTail adds an empty final stored block, so that compress/flate sees
// the stream end.
var (
	syncTail  = []byte{0x00, 0x00, 0xff, 0xff}
	finalTail = []byte{0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff}
)

// randBytes returns n reproducible random bytes.
func randBytes(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, seed^0x9e3779b97f4a7c15))
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(r.Uint32())
	}
	return b
}

// text returns about n bytes of JSON-like text: repetitive, but not
// periodic.
func text(seed uint64, n int) []byte {
	r := rand.New(rand.NewPCG(seed, 1))
	words := []string{"alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel"}
	var b strings.Builder
	for b.Len() < n {
		fmt.Fprintf(&b, `{"id":%d,"name":%q,"tags":[%q,%q]},`, r.IntN(100000),
			words[r.IntN(len(words))], words[r.IntN(len(words))], words[r.IntN(len(words))])
	}
	return []byte(b.String()[:n])
}

// mix returns n bytes alternating between text and random runs.
func mix(seed uint64, n int) []byte {
	var b []byte
	for i := uint64(0); len(b) < n; i++ {
		if i%2 == 0 {
			b = append(b, text(seed+i, 700)...)
		} else {
			b = append(b, randBytes(seed+i, 300)...)
		}
	}
	return b[:n]
}

// flateMessage compresses msg as one permessage-deflate message with
// compress/flate, sync tail removed.
func flateMessage(t testing.TB, msg []byte, level int) []byte {
	t.Helper()
	var buf bytes.Buffer
	fw, err := flate.NewWriter(&buf, level)
	if err != nil {
		t.Fatal(err)
	}
	fw.Write(msg)
	fw.Flush()
	b := buf.Bytes()
	if !bytes.HasSuffix(b, syncTail) {
		t.Fatalf("flush without sync tail: % x", b)
	}
	return b[:len(b)-len(syncTail)]
}

// flateInflate decodes a message payload with compress/flate and hist as
// its dictionary.
func flateInflate(hist, payload []byte) ([]byte, error) {
	src := append(bytes.Clone(payload), finalTail...)
	return io.ReadAll(flate.NewReaderDict(bytes.NewReader(src), hist))
}

var testInputs = [][]byte{nil, []byte("a"), []byte("Hello"), text(1, 3000), mix(2, 40000), randBytes(3, 5000),
	bytes.Repeat([]byte("abc"), 5000)}

// TestInflateFlate checks the inflater against compress/flate's output at
// several levels: same bytes, no final block, and no back-reference at
// all in Huffman-only output.
func TestInflateFlate(t *testing.T) {
	for i, in := range testInputs {
		for _, level := range []int{flate.HuffmanOnly, flate.BestSpeed, flate.DefaultCompression, flate.BestCompression} {
			res, err := InflateMessage(nil, flateMessage(t, in, level), 1<<24)
			if err != nil || !bytes.Equal(res.Out, in) || res.Final {
				t.Fatalf("input %d level %d: compress/flate -> Inflate: %v (equal %v, final %v)", i, level, err, bytes.Equal(res.Out, in), res.Final)
			}
			if level == flate.HuffmanOnly && res.MaxDist != 0 {
				t.Fatalf("input %d: Huffman-only output has a back-reference of %d", i, res.MaxDist)
			}
		}
	}
}

// TestLZ77 checks the encoder against both decoders, with a history
// (context takeover) and bounded windows: the input comes back, and no
// back-reference is farther than the window.
func TestLZ77(t *testing.T) {
	for i, in := range testInputs {
		for _, bits := range []int{8, 9, 12, 15} {
			hist := mix(uint64(i+10), 40000)
			hist = hist[len(hist)-1<<15:]
			p := EncodeFixed(LZ77(hist, in, 1<<bits))
			res, err := InflateMessage(hist, p, 1<<24)
			if err != nil || !bytes.Equal(res.Out, in) || res.MaxDist > 1<<bits {
				t.Fatalf("input %d bits %d: LZ77 -> Inflate: %v, MaxDist %d", i, bits, err, res.MaxDist)
			}
			got, err := flateInflate(hist, p)
			if err != nil || !bytes.Equal(got, in) {
				t.Fatalf("input %d bits %d: LZ77 -> compress/flate: %v", i, bits, err)
			}
		}
	}
	// Repetitive input does use the window, up to its edge.
	in := bytes.Repeat(randBytes(4, 1000), 8)
	for _, bits := range []int{8, 10, 15} {
		res, err := InflateMessage(nil, EncodeFixed(LZ77(nil, in, 1<<bits)), 1<<24)
		if err != nil || !bytes.Equal(res.Out, in) {
			t.Fatalf("bits %d: %v", bits, err)
		}
		want := 1000
		if 1<<bits < 1000 {
			want = 0 // the period does not fit, and random bytes do not repeat closer
		}
		if res.MaxDist != want {
			t.Errorf("bits %d: MaxDist %d, want %d", bits, res.MaxDist, want)
		}
	}
}

// TestEncodeFixed checks exact output: the RFC 7692 section 7.2.3
// examples, and a reference out of DEFLATE's range left as given.
func TestEncodeFixed(t *testing.T) {
	for _, tc := range []struct {
		name string
		syms []Sym
		want []byte
	}{
		{"hello", Literals([]byte("Hello")), []byte{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}},
		{"hello-again", []Sym{{Lit: 'H'}, {Length: 4, Dist: 5}}, []byte{0xf2, 0x00, 0x11, 0x00, 0x00}},
		{"hello-again-one-reference", []Sym{{Length: 5, Dist: 5}}, []byte{0x02, 0x13, 0x00, 0x00}},
		{"empty", nil, []byte{0x02, 0x00}},
		{"longest", []Sym{{Lit: 'x'}, {Length: 258, Dist: 1}}, []byte{0xaa, 0x18, 0x05, 0x00, 0x00}},
	} {
		if got := EncodeFixed(tc.syms); !bytes.Equal(got, tc.want) {
			t.Errorf("%s: % x, want % x", tc.name, got, tc.want)
		}
	}
	// 32769 is one past the farthest distance: its extra bits spill into
	// the next code, and the stream no longer decodes as the symbols say.
	p := EncodeFixed([]Sym{{Length: 3, Dist: 32769}})
	if res, err := InflateMessage(make([]byte, 40000), p, 1000); err == nil && res.MaxDist == 32769 {
		t.Fatalf("distance 32769 decoded as such")
	}
}

// TestInflateErrors covers the RFC 7692 examples and each kind of
// rejection, matched with errors.Is.
func TestInflateErrors(t *testing.T) {
	for _, tc := range []struct {
		name          string
		hist, payload []byte
		max           int
		want          string
		err           error
	}{
		{"hello", nil, []byte{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}, 1000, "Hello", nil},
		{"hello-takeover", []byte("Hello"), []byte{0xf2, 0x00, 0x11, 0x00, 0x00}, 1000, "Hello", nil},
		{"no-history", nil, []byte{0xf2, 0x00, 0x11, 0x00, 0x00}, 1000, "", ErrTooFar},
		{"reserved-type", nil, []byte{0x07}, 1000, "", ErrCorrupt},
		{"nlen-mismatch", nil, []byte{0x00, 0x05, 0x00, 0x00, 0x00}, 1000, "", ErrCorrupt},
		{"stored-short", nil, []byte{0x00, 0x0a, 0x00, 0xf5, 0xff, 'a'}, 1000, "", ErrShort},
		{"over-limit", nil, []byte{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}, 4, "", ErrTooLong},
		{"at-limit", nil, []byte{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}, 5, "Hello", nil},
		{"over-limit-stored", nil, []byte{0x00, 0x05, 0x00, 0xfa, 0xff, 'H', 'e', 'l', 'l', 'o'}, 4, "", ErrTooLong},
		{"dynamic-over-subscribed", nil, []byte{0x04, 0xff, 0xff, 0xff, 0xff}, 1000, "", ErrCorrupt},
	} {
		res, err := InflateMessage(tc.hist, tc.payload, tc.max)
		if !errors.Is(err, tc.err) || (err == nil && string(res.Out) != tc.want) {
			t.Errorf("%s: got %q, %v; want %q, %v", tc.name, res.Out, err, tc.want, tc.err)
		}
	}
}

// TestInflateEnds checks where decoding stops, what Used and Final say,
// and that Out aliases neither argument.
func TestInflateEnds(t *testing.T) {
	hello := []byte{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}
	again := []byte{0xf2, 0x00, 0x11, 0x00, 0x00}
	two := append(append(append(append([]byte(nil), hello...), syncTail...), again...), syncTail...)
	final := append(append([]byte(nil), two...), 0x01, 0x00, 0x00, 0xff, 0xff, 0xaa, 0xbb)
	type sum struct {
		Out     string
		MaxDist int
		Used    int
		Final   bool
		Err     error
	}
	for _, tc := range []struct {
		name   string
		stream []byte
		end    End
		want   sum
	}{
		{"empty", nil, EndOfInput, sum{}},
		{"empty-final", nil, FinalBlock, sum{Err: ErrShort}},
		{"two-messages", two, EndOfInput, sum{Out: "HelloHello", MaxDist: 5, Used: len(two)}},
		{"two-messages-no-final", two, FinalBlock, sum{Err: ErrShort}},
		{"final-then-junk", final, FinalBlock, sum{Out: "HelloHello", MaxDist: 5, Used: len(final) - 2, Final: true}},
		{"final-stops-end-of-input", final, EndOfInput, sum{Out: "HelloHello", MaxDist: 5, Used: len(final) - 2, Final: true}},
		{"padding-bits", EncodeFixed(Literals([]byte("Hello")))[:6], EndOfInput, sum{Err: ErrShort}},
		{"cut-inside-block", two[:5], EndOfInput, sum{Err: ErrShort}},
	} {
		res, err := Inflate(nil, tc.stream, tc.end, 1000)
		got := sum{string(res.Out), res.MaxDist, res.Used, res.Final, err}
		if err != nil {
			got = sum{Err: err}
		}
		if diff := cmp.Diff(tc.want, got, cmp.Comparer(func(a, b error) bool { return errors.Is(a, b) || errors.Is(b, a) })); diff != "" {
			t.Errorf("%s: (-want +got)\n%s", tc.name, diff)
		}
	}
	hist := []byte("Hello")
	stream := append(append([]byte(nil), again...), syncTail...)
	res, err := Inflate(hist, stream, EndOfInput, 1000)
	if err != nil || string(res.Out) != "Hello" {
		t.Fatalf("takeover: %q, %v", res.Out, err)
	}
	res.Out[0] = 'J'
	if string(hist) != "Hello" {
		t.Errorf("writing Out changed hist to %q", hist)
	}
}
