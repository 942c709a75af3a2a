package deflatetest

// Sym is one LZ77 symbol: a literal byte when Dist is 0, else a
// back-reference copying Length bytes (3..258) from Dist bytes back
// (1..32768).
type Sym struct {
	Lit          byte
	Length, Dist int
}

// Literals returns s as literal symbols, in a new slice.
func Literals(s []byte) []Sym {
	syms := make([]Sym, len(s))
	for i, c := range s {
		syms[i] = Sym{Lit: c}
	}
	return syms
}

// EncodeFixed encodes syms as one fixed-Huffman block with BFINAL clear,
// followed by the header bits of the empty stored block of a sync flush,
// padded to a byte: a complete permessage-deflate message payload as it
// goes on the wire, without its 00 00 ff ff (what a peer's compressor could
// send). Back-references are written as given, unchecked: a Length or
// Dist outside the ranges DEFLATE can express yields a stream that does
// not decode as intended, on purpose. The result is newly allocated.
func EncodeFixed(syms []Sym) []byte {
	w := &bitWriter{}
	w.bits(0, 1) // BFINAL
	w.bits(1, 2) // fixed Huffman
	for _, s := range syms {
		if s.Dist == 0 {
			w.litlen(int(s.Lit))
			continue
		}
		k := 28
		for lenBase[k] > s.Length {
			k--
		}
		w.litlen(257 + k)
		w.bits(s.Length-lenBase[k], lenExtra[k])
		j := 29
		for distBase[j] > s.Dist {
			j--
		}
		w.huff(j, 5)
		w.bits(s.Dist-distBase[j], distExtra[j])
	}
	w.litlen(256)
	w.bits(0, 3) // empty stored block header, then align
	if w.n > 0 {
		w.b = append(w.b, byte(w.acc))
	}
	return w.b
}

// LZ77 parses msg greedily (hash chains of 3-byte prefixes, at most 64
// candidates a position) into literals and back-references no farther
// than window bytes, into msg itself and into hist, the output that
// precedes msg (nil for none). Encoded with [EncodeFixed] and decoded with
// [Inflate] against the same hist, the symbols give back msg, with
// Result.MaxDist at most window.
func LZ77(hist, msg []byte, window int) []Sym {
	if len(hist) > window {
		hist = hist[len(hist)-window:]
	}
	buf := append(append(make([]byte, 0, len(hist)+len(msg)), hist...), msg...)
	head := make(map[uint32]int)
	prev := make([]int, len(buf))
	key := func(i int) uint32 { return uint32(buf[i])<<16 | uint32(buf[i+1])<<8 | uint32(buf[i+2]) }
	insert := func(i int) {
		if i+3 > len(buf) {
			return
		}
		k := key(i)
		prev[i] = -1
		if p, ok := head[k]; ok {
			prev[i] = p
		}
		head[k] = i
	}
	for i := range hist {
		insert(i)
	}
	var syms []Sym
	for i := len(hist); i < len(buf); {
		bestLen, bestDist := 0, 0
		if i+3 <= len(buf) {
			p, ok := head[key(i)]
			for steps := 0; ok && p >= 0 && i-p <= window && steps < 64; steps++ {
				l := 0
				for l < 258 && i+l < len(buf) && buf[p+l] == buf[i+l] {
					l++
				}
				if l > bestLen {
					bestLen, bestDist = l, i-p
				}
				p = prev[p]
			}
		}
		if bestLen >= 3 {
			syms = append(syms, Sym{Length: bestLen, Dist: bestDist})
			for j := i; j < i+bestLen; j++ {
				insert(j)
			}
			i += bestLen
			continue
		}
		syms = append(syms, Sym{Lit: buf[i]})
		insert(i)
		i++
	}
	return syms
}

// bitWriter packs DEFLATE's bit stream: least significant bit first.
type bitWriter struct {
	b   []byte
	acc uint64
	n   uint
}

// bits writes the n low bits of v. Bits of v above n are not masked off:
// they spill into what follows (EncodeFixed relies on this to write
// out-of-range extra bits unchanged).
func (w *bitWriter) bits(v, n int) {
	w.acc |= uint64(v) << w.n
	w.n += uint(n)
	for w.n >= 8 {
		w.b = append(w.b, byte(w.acc))
		w.acc >>= 8
		w.n -= 8
	}
}

// huff writes a Huffman code, whose bits go most significant first.
func (w *bitWriter) huff(code, n int) {
	rev := 0
	for i := range n {
		rev = rev<<1 | (code>>i)&1
	}
	w.bits(rev, n)
}

// litlen writes a literal/length symbol with the fixed code of RFC 1951
// section 3.2.6.
func (w *bitWriter) litlen(sym int) {
	switch {
	case sym < 144:
		w.huff(0x30+sym, 8)
	case sym < 256:
		w.huff(0x190+sym-144, 9)
	case sym < 280:
		w.huff(sym-256, 7)
	default:
		w.huff(0xc0+sym-280, 8)
	}
}
