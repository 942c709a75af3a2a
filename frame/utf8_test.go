package frame

import (
	"bytes"
	"math/rand/v2"
	"strings"
	"testing"
	"unicode/utf8"
)

// completions are continuation bytes enough to complete any valid
// unfinished sequence: every first-continuation range (80-BF, A0-BF, 80-9F,
// 90-BF, 80-8F) holds one of them.
var completions = []byte{0x80, 0x90, 0xA0, 0xBF}

// validPrefix reports whether p is a prefix of some valid UTF-8 text, by
// brute force: p itself is valid, or p plus up to three continuation
// bytes is.
func validPrefix(p []byte) bool {
	if utf8.Valid(p) {
		return true
	}
	buf := append(bytes.Clone(p), 0, 0, 0)
	n := len(p)
	for _, a := range completions {
		buf[n] = a
		if utf8.Valid(buf[:n+1]) {
			return true
		}
		for _, b := range completions {
			buf[n+1] = b
			if utf8.Valid(buf[:n+2]) {
				return true
			}
			for _, c := range completions {
				buf[n+2] = c
				if utf8.Valid(buf[:n+3]) {
					return true
				}
			}
		}
	}
	return false
}

func TestUTF8FailFast(t *testing.T) {
	tests := []struct {
		name   string
		in     string
		failAt int // index of the first impossible byte, -1 if none
		done   bool
	}{
		{"empty", "", -1, true},
		{"ascii", "hello", -1, true},
		{"2-byte", "\xc3\xa9", -1, true},
		{"3-byte", "\xe2\x82\xac", -1, true},
		{"4-byte", "\xf0\x9f\x98\x80", -1, true},
		{"max code point", "\xf4\x8f\xbf\xbf", -1, true},
		{"last before surrogates", "\xed\x9f\xbf", -1, true},
		{"first after surrogates", "\xee\x80\x80", -1, true},
		{"lone F0 incomplete", "\xf0", -1, false},
		{"F0 90 incomplete", "\xf0\x90", -1, false},
		{"E2 82 incomplete", "a\xe2\x82", -1, false},
		{"C2 incomplete", "\xc2", -1, false},
		{"surrogate ED A0", "\xed\xa0\x80", 1, false},
		{"surrogate ED BF", "\xed\xbf\xbf", 1, false},
		{"above max F4 90", "\xf4\x90\x80\x80", 1, false},
		{"F5", "\xf5\x80\x80\x80", 0, false},
		{"FF", "ab\xff", 2, false},
		{"C0 overlong", "\xc0\x80", 0, false},
		{"C1 overlong", "\xc1\xbf", 0, false},
		{"E0 80 overlong", "\xe0\x80\x80", 1, false},
		{"E0 9F overlong", "\xe0\x9f\xbf", 1, false},
		{"F0 80 overlong", "\xf0\x80\x80\x80", 1, false},
		{"F0 8F overlong", "\xf0\x8f\xbf\xbf", 1, false},
		{"stray continuation", "a\x80", 1, false},
		{"missing continuation", "\xe2\x82a", 2, false},
		{"too many continuations", "\xc3\xa9\xa9", 2, false},
		{"autobahn 6.4.1", "\xce\xba\xe1\xbd\xb9\xcf\x83\xce\xbc\xce\xb5\xf4\x90\x80\x80\x65\x64\x69\x74\x65\x64", 12, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			// Byte by byte: Write must turn false exactly at failAt.
			var v UTF8
			failAt := -1
			for i := 0; i < len(tc.in); i++ {
				ok := v.Write([]byte{tc.in[i]})
				if !ok && failAt < 0 {
					failAt = i
				}
				if ok && failAt >= 0 {
					t.Fatalf("Write returned true at %d after false at %d", i, failAt)
				}
			}
			if failAt != tc.failAt {
				t.Errorf("failed at byte %d, want %d", failAt, tc.failAt)
			}
			if v.Done() != tc.done {
				t.Errorf("Done() = %v, want %v", v.Done(), tc.done)
			}
			// Whole and at every split point: same verdict.
			for s := 0; s <= len(tc.in); s++ {
				var w UTF8
				ok := w.Write([]byte(tc.in[:s])) && w.Write([]byte(tc.in[s:]))
				if ok != (tc.failAt < 0) || w.Done() != tc.done {
					t.Errorf("split at %d: Write = %v, Done = %v", s, ok, w.Done())
				}
			}
			if ValidUTF8([]byte(tc.in)) != tc.done {
				t.Errorf("ValidUTF8 = %v, want %v", !tc.done, tc.done)
			}
		})
	}
}

func TestUTF8Reset(t *testing.T) {
	var v UTF8
	if v.Write([]byte{0xff}) || v.Write([]byte("ok")) || v.Done() {
		t.Fatal("invalid input not sticky")
	}
	v.Reset()
	if !v.Write([]byte("ok\xe2")) || v.Done() {
		t.Fatal("after Reset: unfinished sequence not reported")
	}
	v.Reset()
	if !v.Done() {
		t.Fatal("Done after Reset = false")
	}
	if v.Write([]byte("\x82\xac")) {
		t.Fatal("Reset did not drop the carried sequence: stray continuations accepted")
	}
}

// TestUTF8Exhaustive feeds every 1- and 2-byte input and every 4-byte
// input over a set of boundary bytes, one byte at a time, and compares
// each answer with the brute-force reference.
func TestUTF8Exhaustive(t *testing.T) {
	check := func(in []byte) {
		var v UTF8
		for i := range in {
			got := v.Write(in[i : i+1])
			if want := validPrefix(in[:i+1]); got != want {
				t.Fatalf("% x: Write after %d bytes = %v, reference says %v", in, i+1, got, want)
			}
		}
		if v.Done() != utf8.Valid(in) {
			t.Fatalf("% x: Done = %v", in, v.Done())
		}
		var w UTF8
		if w.Write(in) != validPrefix(in) || w.Done() != utf8.Valid(in) || ValidUTF8(in) != utf8.Valid(in) {
			t.Fatalf("% x: whole-slice verdict differs", in)
		}
	}
	for a := 0; a < 256; a++ {
		check([]byte{byte(a)})
		for b := 0; b < 256; b++ {
			check([]byte{byte(a), byte(b)})
		}
	}
	edges := []byte{0x00, 0x7F, 0x80, 0x8F, 0x90, 0x9F, 0xA0, 0xBF, 0xC0, 0xC1, 0xC2, 0xDF,
		0xE0, 0xE1, 0xEC, 0xED, 0xEE, 0xEF, 0xF0, 0xF1, 0xF3, 0xF4, 0xF5, 0xFF}
	if testing.Short() {
		edges = []byte{0x41, 0x80, 0x9F, 0xA0, 0xBF, 0xC1, 0xC2, 0xE0, 0xED, 0xF0, 0xF4, 0xF5}
	}
	in := make([]byte, 4)
	for _, a := range edges {
		for _, b := range edges {
			for _, c := range edges {
				for _, d := range edges {
					in[0], in[1], in[2], in[3] = a, b, c, d
					check(in)
				}
			}
		}
	}
}

func TestUTF8RandomSplits(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	texts := [][]byte{
		[]byte(mixedText(4096)),
		[]byte(strings.Repeat("ascii only text, ", 300)),
		append([]byte(mixedText(1000)), 0xED, 0xA0, 0x80),
		append([]byte(mixedText(1000)), 0xF0, 0x9F),
		append(append([]byte(strings.Repeat("x", 100)), 0xC0), mixedText(100)...),
	}
	for _, text := range texts {
		want := utf8.Valid(text)
		for trial := 0; trial < 200; trial++ {
			var v UTF8
			ok := true
			rest := text
			for len(rest) > 0 {
				n := 1 + rng.IntN(min(len(rest), 1+rng.IntN(64)))
				ok = v.Write(rest[:n])
				rest = rest[n:]
			}
			if ok && !validPrefix(text) || !ok && validPrefix(text) {
				t.Fatalf("Write = %v", ok)
			}
			if v.Done() != want {
				t.Fatalf("Done = %v, want %v", v.Done(), want)
			}
		}
	}
}

func TestUTF8NoAlloc(t *testing.T) {
	text := []byte(mixedText(1000))
	var v UTF8
	allocs := testing.AllocsPerRun(100, func() {
		v.Reset()
		v.Write(text[:333])
		v.Write(text[333:])
	})
	if allocs != 0 {
		t.Errorf("UTF8.Write allocates %v times", allocs)
	}
}

// mixedText returns about n bytes of text mixing 1- to 4-byte code points.
func mixedText(n int) string {
	const sample = "Hello, мир! Grüße aus Köln. 日本語のテキスト。 😀🎉 ελληνικά עברית 한국어 ok. "
	var b strings.Builder
	for b.Len() < n {
		b.WriteString(sample)
	}
	return b.String()
}

// FuzzUTF8 feeds data in fuzzer-chosen pieces. Every Write must answer
// exactly whether the bytes fed so far are a prefix of valid UTF-8 (so
// fail-fast holds and no valid text is refused), and Done must agree with
// utf8.Valid.
func FuzzUTF8(f *testing.F) {
	f.Add([]byte("hello"), []byte{2})
	f.Add([]byte(mixedText(200)), []byte{1, 2, 3, 4, 5, 6, 7})
	f.Add([]byte("\xed\xa0\x80"), []byte{1})
	f.Add([]byte("\xf4\x90\x80\x80"), []byte{1, 1})
	f.Add([]byte("\xf0\x9f\x98"), []byte{2})
	f.Add([]byte("\xe0\x80\xaf"), []byte{})
	f.Add([]byte("abc\xc0\xafdef"), []byte{3})
	f.Fuzz(func(t *testing.T, data, splits []byte) {
		var v UTF8
		fed := 0
		feed := func(n int) {
			got := v.Write(data[fed : fed+n])
			fed += n
			if want := validPrefix(data[:fed]); got != want {
				t.Fatalf("after %d of % x: Write = %v, reference %v", fed, data, got, want)
			}
		}
		for _, s := range splits {
			feed(min(int(s), len(data)-fed))
		}
		feed(len(data) - fed)
		if want := utf8.Valid(data); v.Done() != want || ValidUTF8(data) != want {
			t.Fatalf("% x: Done = %v, ValidUTF8 = %v, utf8.Valid = %v", data, v.Done(), ValidUTF8(data), want)
		}
	})
}
