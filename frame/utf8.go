package frame

import "unicode/utf8"

// UTF8 validates a text message fed in pieces split anywhere, even inside
// a code point. The zero value is ready to use; it holds four bytes of
// state and never allocates. A UTF8 is not safe for concurrent use.
//
// Invalid means what unicode/utf8.Valid means: surrogates (U+D800-U+DFFF),
// overlong encodings (C0, C1, E0 80-9F, F0 80-8F), code points above
// U+10FFFF (F4 90-BF, F5-FF) and stray or missing continuation bytes.
type UTF8 struct {
	need   uint8 // continuation bytes still due for the carried code point
	lo, hi uint8 // range allowed for the next continuation byte
	bad    bool  // sticky: the bytes seen so far have no valid completion
}

// Write feeds the next bytes of the message. It returns false as soon as
// no continuation could make the bytes seen so far valid UTF-8: the
// verdict falls on the first impossible octet (e.g. "ED A0" is already
// false, a lone "F0" is only incomplete). False is sticky until Reset; p
// is not retained.
func (v *UTF8) Write(p []byte) bool {
	if v.bad {
		return false
	}
	// Finish the code point carried over from the previous piece.
	i := 0
	for v.need > 0 {
		if i == len(p) {
			return true
		}
		if !v.cont(p[i]) {
			return false
		}
		i++
	}
	p = p[i:]
	if len(p) == 0 {
		return true
	}
	// Find where an unfinished code point at the end of p would start: the
	// last non-continuation byte among the final three.
	j := len(p) - 1
	for j > 0 && j > len(p)-4 && p[j]&0xC0 == 0x80 {
		j--
	}
	if c := p[j]; c >= 0xC2 && c <= 0xF4 && len(p)-j < seqLen(c) {
		if !ValidUTF8(p[:j]) {
			v.bad = true
			return false
		}
		v.start(c)
		for _, c := range p[j+1:] {
			if !v.cont(c) {
				return false
			}
		}
		return true
	}
	// p ends with a complete code point or with garbage.
	if !ValidUTF8(p) {
		v.bad = true
		return false
	}
	return true
}

// seqLen returns the length of the sequence a valid lead byte c (C2-F4)
// starts.
func seqLen(c byte) int {
	switch {
	case c < 0xE0:
		return 2
	case c < 0xF0:
		return 3
	}
	return 4
}

// start records the valid lead byte c (C2-F4) of an unfinished sequence.
func (v *UTF8) start(c byte) {
	v.need = uint8(seqLen(c) - 1)
	v.lo, v.hi = 0x80, 0xBF
	switch c {
	case 0xE0:
		v.lo = 0xA0 // no overlongs
	case 0xED:
		v.hi = 0x9F // no surrogates
	case 0xF0:
		v.lo = 0x90 // no overlongs
	case 0xF4:
		v.hi = 0x8F // nothing above U+10FFFF
	}
}

// cont consumes continuation byte c of the carried code point.
func (v *UTF8) cont(c byte) bool {
	if c < v.lo || c > v.hi {
		v.bad = true
		return false
	}
	v.lo, v.hi = 0x80, 0xBF
	v.need--
	return true
}

// Done reports whether everything fed so far is valid and complete, with
// no unfinished code point. Call it at the end of the message.
func (v *UTF8) Done() bool { return !v.bad && v.need == 0 }

// Reset returns v to its zero state, ready for a new message.
func (v *UTF8) Reset() { *v = UTF8{} }

// ValidUTF8 reports whether p is entirely valid UTF-8, with the same
// verdict as unicode/utf8.Valid (which it calls: its ASCII fast path
// already checks 16 bytes per step).
func ValidUTF8(p []byte) bool { return utf8.Valid(p) }
