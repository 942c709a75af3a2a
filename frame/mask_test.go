package frame

import (
	"bytes"
	"math/rand/v2"
	"testing"
)

func naiveMask(key [4]byte, pos int, b []byte) int {
	for i := range b {
		b[i] ^= key[(pos+i)%4]
	}
	return (pos + len(b)) % 4
}

func TestMaskRFCExample(t *testing.T) {
	b := []byte("Hello")
	if pos := Mask(rfcKey, 0, b); pos != 1 {
		t.Errorf("Mask returned position %d, want 1", pos)
	}
	if want := []byte{0x7f, 0x9f, 0x4d, 0x51, 0x58}; !bytes.Equal(b, want) {
		t.Errorf("masked Hello = % x, want % x", b, want)
	}
	Mask(rfcKey, 0, b)
	if string(b) != "Hello" {
		t.Errorf("unmasked = %q, want Hello", b)
	}
}

func TestMask(t *testing.T) {
	key := [4]byte{0x01, 0x23, 0x45, 0x67}
	rng := rand.New(rand.NewPCG(1, 2))
	backing := make([]byte, 300)
	for n := 0; n <= 200; n++ {
		for off := 0; off < 8; off++ {
			for pos := -1; pos <= 7; pos++ {
				for i := range backing {
					backing[i] = byte(rng.Uint32())
				}
				want := bytes.Clone(backing)
				got := bytes.Clone(backing)
				wp := naiveMask(key, pos&3, want[off:off+n])
				gp := Mask(key, pos, got[off:off+n])
				if gp != wp {
					t.Fatalf("n=%d off=%d pos=%d: position %d, want %d", n, off, pos, gp, wp)
				}
				if !bytes.Equal(got, want) {
					t.Fatalf("n=%d off=%d pos=%d: masked bytes differ (or bytes outside b touched)", n, off, pos)
				}
			}
		}
	}
}

func TestMaskNoAlloc(t *testing.T) {
	b := make([]byte, 1000)
	if allocs := testing.AllocsPerRun(100, func() { Mask(rfcKey, 3, b) }); allocs != 0 {
		t.Errorf("Mask allocates %v times", allocs)
	}
}

// FuzzMask compares Mask with a byte loop over a payload split into pieces
// at fuzzer-chosen points, starting at a fuzzer-chosen offset (alignment).
func FuzzMask(f *testing.F) {
	f.Add([]byte("Hello"), uint32(0x37fa213d), uint8(0), uint8(0), []byte{})
	f.Add(bytes.Repeat([]byte{0xAA}, 200), uint32(0x01020304), uint8(3), uint8(5), []byte{1, 7, 64, 9})
	f.Add(bytes.Repeat([]byte("abcdefgh"), 40), uint32(0xFFFFFFFF), uint8(1), uint8(2), []byte{63, 65, 8, 0, 100})
	f.Fuzz(func(t *testing.T, data []byte, k uint32, off, pos uint8, splits []byte) {
		key := [4]byte{byte(k), byte(k >> 8), byte(k >> 16), byte(k >> 24)}
		o := int(off % 8)
		buf := make([]byte, o+len(data)+3)
		copy(buf[o:], data)
		want := bytes.Clone(buf)
		p0 := int(pos)
		wp := naiveMask(key, p0&3, want[o:o+len(data)])
		gp := p0
		rest := buf[o : o+len(data)]
		for _, s := range splits {
			n := min(int(s), len(rest))
			gp = Mask(key, gp, rest[:n])
			rest = rest[n:]
		}
		gp = Mask(key, gp, rest)
		if gp != wp {
			t.Fatalf("position %d, want %d", gp, wp)
		}
		if !bytes.Equal(buf, want) {
			t.Fatalf("got % x\nwant % x", buf, want)
		}
	})
}
