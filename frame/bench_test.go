package frame

import (
	"strings"
	"testing"
	"unicode/utf8"
)

func BenchmarkMask(b *testing.B) {
	for _, size := range []struct {
		name string
		n    int
	}{{"16B", 16}, {"1KiB", 1 << 10}, {"64KiB", 64 << 10}, {"1MiB", 1 << 20}} {
		buf := make([]byte, size.n+1)
		b.Run(size.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(size.n))
			for b.Loop() {
				Mask(rfcKey, 1, buf[:size.n])
			}
		})
		b.Run(size.name+"/unaligned", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(size.n))
			for b.Loop() {
				Mask(rfcKey, 1, buf[1:])
			}
		})
	}
}

var (
	benchASCII = []byte(strings.Repeat("The quick brown fox jumps over the lazy dog. ", 64<<10/45))
	benchMixed = []byte(mixedText(64 << 10))
)

func BenchmarkUTF8(b *testing.B) {
	for _, in := range []struct {
		name string
		p    []byte
	}{{"ASCII", benchASCII}, {"Mixed", benchMixed}} {
		b.Run(in.name+"/UTF8.Write", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(in.p)))
			var v UTF8
			for b.Loop() {
				v.Reset()
				if !v.Write(in.p) || !v.Done() {
					b.Fatal("invalid")
				}
			}
		})
		b.Run(in.name+"/UTF8.Write-4KiB-pieces", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(in.p)))
			var v UTF8
			for b.Loop() {
				v.Reset()
				for p := in.p; len(p) > 0; {
					n := min(len(p), 4093) // odd size: pieces end inside code points
					if !v.Write(p[:n]) {
						b.Fatal("invalid")
					}
					p = p[n:]
				}
				if !v.Done() {
					b.Fatal("incomplete")
				}
			}
		})
		b.Run(in.name+"/ValidUTF8", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(in.p)))
			for b.Loop() {
				if !ValidUTF8(in.p) {
					b.Fatal("invalid")
				}
			}
		})
		b.Run(in.name+"/utf8.Valid", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(in.p)))
			for b.Loop() {
				if !utf8.Valid(in.p) {
					b.Fatal("invalid")
				}
			}
		})
	}
}

func BenchmarkParseHeader(b *testing.B) {
	for _, in := range []struct {
		name string
		wire []byte
	}{
		{"7bit", []byte{0x81, 0x05}},
		{"16bit-masked", []byte{0x82, 0xFE, 0x01, 0x00, 1, 2, 3, 4}},
		{"64bit-masked", []byte{0x82, 0xFF, 0, 0, 0, 0, 0, 1, 0, 0, 1, 2, 3, 4}},
	} {
		b.Run(in.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(in.wire)))
			for b.Loop() {
				if _, _, err := ParseHeader(in.wire); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func BenchmarkAppendHeader(b *testing.B) {
	for _, in := range []struct {
		name string
		h    Header
	}{
		{"7bit", Header{Fin: true, Opcode: OpText, Length: 5}},
		{"16bit-masked", Header{Fin: true, Opcode: OpBinary, Masked: true, Key: rfcKey, Length: 256}},
		{"64bit-masked", Header{Fin: true, Opcode: OpBinary, Masked: true, Key: rfcKey, Length: 1 << 20}},
	} {
		b.Run(in.name, func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(in.h.Size()))
			buf := make([]byte, 0, MaxHeaderSize)
			for b.Loop() {
				buf = AppendHeader(buf[:0], in.h)
			}
		})
	}
}
