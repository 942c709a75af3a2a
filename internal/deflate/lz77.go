package deflate

import (
	"encoding/binary"
	"math/bits"
)

const hashMul = 0x1e35a7bd

func load32(b []byte, i int) uint32 { return binary.LittleEndian.Uint32(b[i:]) }

// matchLen returns how many leading bytes of a and b are equal, at most
// len(a) (b must be at least as long as a).
func matchLen(a, b []byte) int {
	n := 0
	for len(a)-n >= 8 {
		x := binary.LittleEndian.Uint64(a[n:]) ^ binary.LittleEndian.Uint64(b[n:])
		if x != 0 {
			return n + bits.TrailingZeros64(x)>>3
		}
		n += 8
	}
	for n < len(a) && a[n] == b[n] {
		n++
	}
	return n
}

// greedy tokenizes the pending input w.buf[w.hist:] into wk: at each
// position one hash probe; a match of at least minMatch bytes no further
// back than maxDist (and not before buf[0]) is taken whole, extended
// backwards over bytes left as literals; after a run of misses the probes
// grow sparser, so incompressible input costs little.
func (w *window) greedy(wk *blockWork, maxDist int) {
	b := w.buf
	end := len(b)
	tab := w.table
	shift := w.shift
	base := w.base
	toks := wk.tokens
	lit := w.hist
	i := lit
	skip := 32
	last := 0 // distance of the previous match
	for i <= end-minMatch {
		x := load32(b, i)
		h := (x * hashMul) >> shift
		cur := base + uint32(i)
		cand := tab[h&uint32(len(tab)-1)]
		tab[h&uint32(len(tab)-1)] = uint16(cur)
		d := int(uint16(cur - uint32(cand)))
		if d == 0 || d > maxDist || d > i || load32(b, i-d) != x {
			// Try again the distance of the previous match.
			if d = last; d == 0 || d > i || load32(b, i-d) != x {
				i += skip >> 5
				skip++
				continue
			}
		}
		last = d
		skip = 32
		l := minMatch + matchLen(b[i+minMatch:min(end, i+maxMatch)], b[i-d+minMatch:])
		for l < maxMatch && i > lit && i-d > 0 && b[i-1] == b[i-d-1] {
			i--
			l++
		}
		for _, c := range b[lit:i] {
			toks = append(toks, uint32(c))
			wk.litFreq[c]++
		}
		toks = append(toks, matchToken(l, d))
		wk.litFreq[257+int(lengthCode[l-3])]++
		wk.distFreq[distCode(uint32(d-1))]++
		i += l
		lit = i
		// Remember the positions just before the next one, as
		// compress/flate's level 1 does.
		if i <= end-minMatch {
			for j := i - 2; j < i; j++ {
				tab[((load32(b, j)*hashMul)>>shift)&uint32(len(tab)-1)] = uint16(base + uint32(j))
			}
		}
	}
	for _, c := range b[lit:] {
		toks = append(toks, uint32(c))
		wk.litFreq[c]++
	}
	wk.tokens = toks
}
