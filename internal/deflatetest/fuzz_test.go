package deflatetest

import (
	"bytes"
	"compress/flate"
	"errors"
	"io"
	"testing"
)

// FuzzInflate decodes arbitrary bytes, with and without a history, in both
// modes: it must never panic, keep Used and Out within bounds, fail only
// with this package's errors, and, where compress/flate also decodes the
// stream to its final block, agree with it.
func FuzzInflate(f *testing.F) {
	for _, s := range [][]byte{
		{0xf2, 0x48, 0xcd, 0xc9, 0xc9, 0x07, 0x00}, {0xf2, 0x00, 0x11, 0x00, 0x00},
		{0x00, 0x05, 0x00, 0xfa, 0xff, 'H', 'e', 'l', 'l', 'o'}, {0x07}, {0x04, 0xff, 0xff, 0xff, 0xff},
		{0x01, 0x00, 0x00, 0xff, 0xff}, {0x03, 0x00},
		EncodeFixed(LZ77(nil, bytes.Repeat([]byte("abcab"), 100), 256)),
	} {
		f.Add(s, []byte("Hello"), false)
		f.Add(append(s, finalTail...), []byte(nil), true)
	}
	for _, level := range []int{flate.HuffmanOnly, 1, 9} {
		var buf bytes.Buffer
		fw, _ := flate.NewWriter(&buf, level)
		fw.Write(text(uint64(level+5), 2000))
		fw.Close()
		f.Add(buf.Bytes(), []byte(nil), true)
	}
	const maxOut = 1 << 20
	f.Fuzz(func(t *testing.T, stream, hist []byte, final bool) {
		end := EndOfInput
		if final {
			end = FinalBlock
		}
		res, err := Inflate(hist, stream, end, maxOut)
		if err != nil {
			if !errors.Is(err, ErrShort) && !errors.Is(err, ErrTooFar) && !errors.Is(err, ErrTooLong) && !errors.Is(err, ErrCorrupt) {
				t.Fatalf("error matches none of the sentinels: %v", err)
			}
			if res.Out != nil {
				t.Fatalf("Out set on error: %d bytes", len(res.Out))
			}
			return
		}
		if len(res.Out) > maxOut || res.Used > len(stream) || res.MaxDist > len(hist)+len(res.Out) || res.MaxDist > 32768 {
			t.Fatalf("out of bounds: %d bytes out, used %d of %d, MaxDist %d", len(res.Out), res.Used, len(stream), res.MaxDist)
		}
		if final && !res.Final {
			t.Fatal("FinalBlock mode returned without a final block")
		}
		if !res.Final {
			return
		}
		got, ferr := io.ReadAll(io.LimitReader(flate.NewReaderDict(bytes.NewReader(stream), hist), maxOut+1))
		if ferr == nil && !bytes.Equal(got, res.Out) {
			t.Fatalf("compress/flate decodes %d bytes, Inflate %d", len(got), len(res.Out))
		}
	})
}

// FuzzLZ77 encodes arbitrary messages after arbitrary histories with every
// window size: Inflate and compress/flate must both give the message
// back, with no reference beyond the window.
func FuzzLZ77(f *testing.F) {
	f.Add([]byte("Hello"), []byte("Hello"), uint8(0))
	f.Add([]byte(nil), bytes.Repeat([]byte("abc"), 400), uint8(7))
	f.Add(mix(1, 3000), text(2, 3000), uint8(4))
	f.Add(randBytes(3, 600), bytes.Repeat(randBytes(3, 300), 3), uint8(1))
	f.Fuzz(func(t *testing.T, hist, msg []byte, wb uint8) {
		window := 1 << (8 + wb%8)
		if len(hist) > 1<<15 {
			hist = hist[len(hist)-1<<15:]
		}
		p := EncodeFixed(LZ77(hist, msg, window))
		res, err := InflateMessage(hist, p, len(msg))
		if err != nil || !bytes.Equal(res.Out, msg) {
			t.Fatalf("Inflate: %v (%d bytes, want %d)", err, len(res.Out), len(msg))
		}
		if res.MaxDist > window {
			t.Fatalf("MaxDist %d beyond the window of %d", res.MaxDist, window)
		}
		got, err := flateInflate(hist, p)
		if err != nil || !bytes.Equal(got, msg) {
			t.Fatalf("compress/flate: %v (%d bytes, want %d)", err, len(got), len(msg))
		}
	})
}

// BenchmarkInflateMessage measures the oracle on 64 KiB of text compressed
// by compress/flate: tests pay this per checked message.
func BenchmarkInflateMessage(b *testing.B) {
	in := text(9, 64<<10)
	p := flateMessage(b, in, flate.DefaultCompression)
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		if _, err := InflateMessage(nil, p, len(in)); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkLZ77 measures the encoder on 64 KiB of text with a 32 KiB
// window.
func BenchmarkLZ77(b *testing.B) {
	in := text(10, 64<<10)
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		EncodeFixed(LZ77(nil, in, 1<<15))
	}
}
