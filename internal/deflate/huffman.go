package deflate

import "math/bits"

// DEFLATE alphabets (RFC 1951 section 3.2.5).
const (
	numLitLen  = 286 // literal/length symbols that may appear: 0..285
	numDist    = 30  // distance symbols: 0..29
	numCodeLen = 19  // code length symbols: 0..18
	endOfBlock = 256
	maxBits    = 15 // longest literal/length or distance code
	maxCLBits  = 7  // longest code length code
	minMatch   = 4  // shortest match the matcher emits (DEFLATE allows 3)
	maxMatch   = 258
)

// lengthBase and lengthExtra describe length symbols 257+i in terms of
// length-3.
var (
	lengthBase  = [29]uint16{0, 1, 2, 3, 4, 5, 6, 7, 8, 10, 12, 14, 16, 20, 24, 28, 32, 40, 48, 56, 64, 80, 96, 112, 128, 160, 192, 224, 255}
	lengthExtra = [29]uint8{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0}
	distBase    = [30]uint16{0, 1, 2, 3, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024, 1536, 2048, 3072, 4096, 6144, 8192, 12288, 16384, 24576}
	distExtra   = [30]uint8{0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13}

	// lengthCode maps length-3 (0..255) to its length symbol minus 257.
	lengthCode [256]uint8

	// codeLenOrder is the order in which code length code lengths are sent.
	codeLenOrder = [numCodeLen]uint8{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}

	// fixedLit and fixedDist are the fixed Huffman codes of RFC 1951
	// section 3.2.6.
	fixedLit  code
	fixedDist code
)

func init() {
	for i := range 28 {
		for l := int(lengthBase[i]); l < int(lengthBase[i])+1<<lengthExtra[i] && l < 256; l++ {
			lengthCode[l] = uint8(i)
		}
	}
	lengthCode[255] = 28 // length 258 has a symbol of its own
	var lit [288]uint8
	for i := range lit {
		switch {
		case i < 144:
			lit[i] = 8
		case i < 256:
			lit[i] = 9
		case i < 280:
			lit[i] = 7
		default:
			lit[i] = 8
		}
	}
	fixedLit.len = lit
	fixedLit.assign(len(lit))
	for i := range numDist {
		fixedDist.len[i] = 5
	}
	fixedDist.assign(numDist)
}

// distCode returns the distance symbol of distance d+1 (d = distance-1).
func distCode(d uint32) uint32 {
	if d < 4 {
		return d
	}
	n := uint32(bits.Len32(d)) // >= 3
	return 2*(n-1) + (d>>(n-2))&1
}

// code is a canonical Huffman code over up to numLitLen symbols: len[s] is
// the code length of symbol s (0: unused), bits[s] its code, bit-reversed
// so that it can be written least significant bit first.
type code struct {
	len  [288]uint8 // 288: the fixed code defines 286 and 287 too
	bits [288]uint16
}

// assign computes the canonical codes of the first n symbols from their
// lengths (RFC 1951 section 3.2.2).
func (c *code) assign(n int) {
	var count [maxBits + 1]uint16
	for _, l := range c.len[:n] {
		count[l]++
	}
	count[0] = 0
	c.assignCounted(&count, n, nil)
}

// assignCounted is assign given the count of codes of each length; when
// used is not nil it lists, in ascending order, every symbol whose length
// is not zero, and only those are visited.
func (c *code) assignCounted(count *[maxBits + 1]uint16, n int, used []uint16) {
	var next [maxBits + 1]uint16
	var v uint16
	for l := 1; l <= maxBits; l++ {
		v = (v + count[l-1]) << 1
		next[l] = v
	}
	if used != nil {
		for _, s := range used {
			l := c.len[s]
			c.bits[s] = bits.Reverse16(next[l]) >> (16 - l)
			next[l]++
		}
		return
	}
	for s, l := range c.len[:n] {
		if l != 0 {
			c.bits[s] = bits.Reverse16(next[l]) >> (16 - l)
			next[l]++
		}
	}
}

// huffScratch is the working memory of build.
type huffScratch struct {
	used [numLitLen]uint16 // symbols with a non-zero frequency, ascending
	keys [numLitLen]uint32 // freq<<9 | symbol, sorted
	tmp  [numLitLen]uint32 // radix sort buffer
	w    [numLitLen]int32  // weights, then lengths (Moffat-Katajainen in place)
}

// sortKeys sorts keys (freq<<9 | symbol, symbols ascending on entry) by
// frequency, stably, so ties stay in symbol order: a radix sort on the
// frequency, one pass per significant byte of the largest.
func sortKeys(keys, tmp []uint32) {
	if len(keys) <= 48 {
		// Keys are distinct (the symbol is in them): insertion sort.
		for i := 1; i < len(keys); i++ {
			k := keys[i]
			j := i
			for ; j > 0 && keys[j-1] > k; j-- {
				keys[j] = keys[j-1]
			}
			keys[j] = k
		}
		return
	}
	maxKey := uint32(0)
	for _, k := range keys {
		maxKey = max(maxKey, k)
	}
	src, dst := keys, tmp[:len(keys)]
	for shift := uint(9); maxKey>>shift != 0; shift += 8 {
		var count [256]int
		for _, k := range src {
			count[(k>>shift)&0xff]++
		}
		pos := 0
		for i, c := range count {
			count[i] = pos
			pos += c
		}
		for _, k := range src {
			b := (k >> shift) & 0xff
			dst[count[b]] = k
			count[b]++
		}
		src, dst = dst, src
	}
	if &src[0] != &keys[0] {
		copy(keys, src)
	}
}

// build sets c.len[:n] to the lengths of an optimal prefix code for
// freq[:n] whose codes are at most limit bits long, and then the codes.
// The code is always complete (Kraft sum exactly 1): when fewer than two
// symbols have a non-zero frequency, symbols 0 and 1 are given length 1
// as needed, since a complete code is what every inflater accepts.
func (c *code) build(freq []uint32, n, limit int, s *huffScratch) {
	clear(c.len[:n])
	keys := s.keys[:0]
	used := s.used[:0]
	for sym, f := range freq[:n] {
		if f != 0 {
			// Frequencies are bounded by the block size (< 2^23).
			keys = append(keys, f<<9|uint32(sym))
			used = append(used, uint16(sym))
		}
	}
	if len(keys) < 2 {
		c.len[0], c.len[1] = 1, 1
		if len(keys) == 1 {
			if sym := keys[0] & 511; sym > 1 {
				c.len[1], c.len[sym] = 0, 1
			}
		}
		c.assign(n)
		return
	}
	sortKeys(keys, s.tmp[:])
	w := s.w[:len(keys)]
	for i, k := range keys {
		w[i] = int32(k >> 9)
	}
	lengths(w)
	// w[i] is now the length of keys[i]; lengths decrease with i.
	if int(w[0]) > limit {
		limitLengths(w, limit)
	}
	var count [maxBits + 1]uint16
	for i, k := range keys {
		c.len[k&511] = uint8(w[i])
		count[w[i]]++
	}
	c.assignCounted(&count, n, used)
}

// lengths replaces the ascending weights in a (len(a) >= 2) with the code
// lengths of a Huffman code for them, in place (Moffat and Katajainen, "In
// place calculation of minimum-redundancy codes", 1995): a[0] gets the
// longest code, a[len(a)-1] the shortest.
func lengths(a []int32) {
	n := len(a)
	// Phase 1: internal node weights and parent pointers.
	a[0] += a[1]
	root, leaf := 0, 2
	for next := 1; next < n-1; next++ {
		if leaf >= n || a[root] < a[leaf] {
			a[next] = a[root]
			a[root] = int32(next)
			root++
		} else {
			a[next] = a[leaf]
			leaf++
		}
		if leaf >= n || (root < next && a[root] < a[leaf]) {
			a[next] += a[root]
			a[root] = int32(next)
			root++
		} else {
			a[next] += a[leaf]
			leaf++
		}
	}
	// Phase 2: internal node depths.
	a[n-2] = 0
	for next := n - 3; next >= 0; next-- {
		a[next] = a[a[next]] + 1
	}
	// Phase 3: leaf depths.
	avail, used, depth := 1, 0, int32(0)
	root, next := n-2, n-1
	for avail > 0 {
		for root >= 0 && a[root] == depth {
			used++
			root--
		}
		for avail > used {
			a[next] = depth
			next--
			avail--
		}
		avail = 2 * used
		depth++
		used = 0
	}
}

// limitLengths shortens the code lengths in a (descending, a[0] longest)
// to at most limit while keeping the code complete, in the manner of
// zlib's gen_bitlen, then hands the lengths back in descending order, so
// that rarer symbols keep the longer codes.
func limitLengths(a []int32, limit int) {
	var count [32]int
	for _, l := range a {
		count[min(int(l), limit)]++
	}
	// kraft is the Kraft sum in units of 2^-limit; clipping made it
	// exceed 1<<limit. Each round moves one leaf from some depth d < limit
	// down to d+1, next to a leaf taken from depth limit: the sum drops by
	// one unit.
	kraft := 0
	for l := 1; l <= limit; l++ {
		kraft += count[l] << (limit - l)
	}
	for kraft > 1<<limit {
		d := limit - 1
		for count[d] == 0 {
			d--
		}
		count[d]--
		count[d+1] += 2
		count[limit]--
		kraft--
	}
	i := 0
	for l := limit; l >= 1; l-- {
		for range count[l] {
			a[i] = int32(l)
			i++
		}
	}
}
