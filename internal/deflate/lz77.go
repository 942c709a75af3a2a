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

// chainParams are the search effort of levels 2 to 9 (after zlib's
// configuration table): how many earlier positions with the same hash
// are tried, the match length that ends the search at once, and whether
// a match is deferred when the next position has a longer one (lazy
// matching).
var chainParams = [10]struct {
	chain, nice int
	lazy        bool
}{
	2: {4, 16, false},
	3: {8, 32, false},
	4: {16, 32, true},
	5: {32, 64, true},
	6: {64, 128, true},
	7: {128, 258, true},
	8: {512, 258, true},
	9: {2048, 258, true},
}

// insert records position i (buffer index; i+4 <= len(w.buf)) in the
// hash table and its chain.
func (w *window) insert(i int) {
	h := ((load32(w.buf, i) * hashMul) >> w.shift) & uint32(len(w.table)-1)
	pos := uint16(w.base + uint32(i))
	w.prev[int(pos)&(len(w.prev)-1)] = w.table[h]
	w.table[h] = pos
}

// longest returns the longest match for position i (at most limit bytes,
// limit >= minMatch) among up to chain earlier positions with the same
// hash, no further back than maxDist nor before buf[0]: its length (0 if
// under minMatch) and distance. Chain entries are hints like the table's:
// each candidate is checked, and the walk stops as soon as a distance
// does not grow, so stale entries cost a probe at most.
func (w *window) longest(i, limit, maxDist, chain, nice int) (int, int) {
	b := w.buf
	cur := w.base + uint32(i)
	cand := w.table[((load32(b, i)*hashMul)>>w.shift)&uint32(len(w.table)-1)]
	bestLen, bestDist := minMatch-1, 0
	last := 0
	mask := len(w.prev) - 1
	for ; chain > 0; chain-- {
		d := int(uint16(cur - uint32(cand)))
		if d <= last || d > maxDist || d > i {
			break
		}
		last = d
		j := i - d
		if b[j+bestLen] == b[i+bestLen] && load32(b, j) == load32(b, i) {
			l := minMatch + matchLen(b[i+minMatch:i+limit], b[j+minMatch:])
			if l > bestLen {
				bestLen, bestDist = l, d
				if l >= nice || l == limit {
					break
				}
			}
		}
		cand = w.prev[int(cand)&mask]
	}
	if bestDist == 0 {
		return 0, 0
	}
	return bestLen, bestDist
}

// chained tokenizes the pending input like greedy, but searching hash
// chains (levels 2 to 9): every position is inserted, and with lazy
// matching a match is emitted only if the next position has no longer
// one.
func (w *window) chained(wk *blockWork, maxDist, level int) {
	p := chainParams[level]
	b := w.buf
	end := len(b)
	toks := wk.tokens
	lit := func(c byte) {
		toks = append(toks, uint32(c))
		wk.litFreq[c]++
	}
	match := func(l, d int) {
		toks = append(toks, matchToken(l, d))
		wk.litFreq[257+int(lengthCode[l-3])]++
		wk.distFreq[distCode(uint32(d-1))]++
	}
	i := w.hist
	prevLen, prevDist := 0, 0 // a match found at i-1, not yet emitted (lazy)
	for i <= end-minMatch {
		limit := min(maxMatch, end-i)
		l, d := 0, 0
		if prevLen < p.nice {
			l, d = w.longest(i, limit, maxDist, p.chain, p.nice)
		}
		w.insert(i)
		switch {
		case prevLen >= minMatch && l <= prevLen:
			// The match at i-1 is at least as good: emit it, and
			// insert the positions it covers.
			match(prevLen, prevDist)
			stop := min(i-1+prevLen, end-minMatch+1)
			for j := i + 1; j < stop; j++ {
				w.insert(j)
			}
			i = i - 1 + prevLen
			prevLen = 0
		case prevLen >= minMatch:
			// A longer match at i: the byte at i-1 goes as a literal.
			lit(b[i-1])
			prevLen, prevDist = l, d
			i++
		case l >= minMatch && p.lazy && l < p.nice:
			prevLen, prevDist = l, d
			i++
		case l >= minMatch:
			match(l, d)
			stop := min(i+l, end-minMatch+1)
			for j := i + 1; j < stop; j++ {
				w.insert(j)
			}
			i += l
		default:
			lit(b[i])
			i++
		}
	}
	if prevLen >= minMatch {
		match(prevLen, prevDist)
		i = i - 1 + prevLen
	}
	for ; i < end; i++ {
		lit(b[i])
	}
	wk.tokens = toks
}
