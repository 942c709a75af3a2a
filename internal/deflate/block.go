package deflate

import (
	"math"
	"sync"
)

// Tokens are what the matcher produces for one block: a literal byte is
// the byte itself; a match is matchFlag | (length-3)<<16 | (distance-1).
const matchFlag = 1 << 31

func matchToken(length, dist int) uint32 {
	return matchFlag | uint32(length-3)<<16 | uint32(dist-1)
}

// blockWork is the scratch memory of one block: its tokens, the symbol
// frequencies, the codes built for it and the output buffer of a streaming
// message. It is borrowed from workPool while a message is being encoded
// and holds nothing of value between blocks, so no Encoder keeps one
// between messages.
type blockWork struct {
	tokens   []uint32 // cap 2*maxPending
	litFreq  [numLitLen]uint32
	distFreq [numDist]uint32
	lit      code
	dist     code
	cl       code // code length code (first 19 symbols used)
	clFreq   [numCodeLen]uint32
	rle      []uint8 // run-length encoded code lengths: symbol, then extra value
	huff     huffScratch
	out      []byte // streaming output waiting to be written
}

var workPool = sync.Pool{New: func() any {
	return &blockWork{
		tokens: make([]uint32, 0, 2*maxPending),
		rle:    make([]uint8, 0, 2*(numLitLen+numDist)),
	}
}}

// bitWriter appends DEFLATE's bit stream, least significant bit first, to
// out. At most 7 bits stay in acc after flushBytes.
type bitWriter struct {
	acc   uint64
	nbits uint
	out   []byte
}

// put writes the n (<= 32) low bits of v.
func (w *bitWriter) put(v uint32, n uint) {
	w.acc |= uint64(v) << w.nbits
	w.nbits += n
	if w.nbits >= 32 {
		w.out = append(w.out, byte(w.acc), byte(w.acc>>8), byte(w.acc>>16), byte(w.acc>>24))
		w.acc >>= 32
		w.nbits -= 32
	}
}

// flushBytes moves the whole bytes of acc to out.
func (w *bitWriter) flushBytes() {
	for w.nbits >= 8 {
		w.out = append(w.out, byte(w.acc))
		w.acc >>= 8
		w.nbits -= 8
	}
}

// align pads with zero bits to a byte boundary and flushes everything.
func (w *bitWriter) align() {
	w.flushBytes()
	if w.nbits > 0 {
		w.out = append(w.out, byte(w.acc))
		w.acc, w.nbits = 0, 0
	}
}

// resetFreq clears the frequencies for a new block.
func (b *blockWork) resetFreq() {
	clear(b.litFreq[:])
	clear(b.distFreq[:])
	b.tokens = b.tokens[:0]
}

// writeBlock writes the tokens of b, whose input was raw (still available
// for a stored block), as the smallest of a stored, a fixed-Huffman and a
// dynamic-Huffman block, none of them final. raw is nil when the input
// is no longer at hand (no stored block then).
func (b *blockWork) writeBlock(w *bitWriter, raw []byte) {
	b.litFreq[endOfBlock]++
	// Extra bits are the same in fixed and dynamic blocks.
	extra := 0
	for i := range 29 {
		extra += int(b.litFreq[257+i]) * int(lengthExtra[i])
	}
	for i := range numDist {
		extra += int(b.distFreq[i]) * int(distExtra[i])
	}
	fixedBits := 3 + extra
	for s, f := range b.litFreq {
		fixedBits += int(f) * int(fixedLit.len[s])
	}
	for _, f := range b.distFreq {
		fixedBits += int(f) * 5
	}

	b.lit.build(b.litFreq[:], numLitLen, maxBits, &b.huff)
	b.dist.build(b.distFreq[:], numDist, maxBits, &b.huff)
	nlit, ndist := b.rleLengths()
	b.cl.build(b.clFreq[:], numCodeLen, maxCLBits, &b.huff)
	ncl := numCodeLen
	for ncl > 4 && b.cl.len[codeLenOrder[ncl-1]] == 0 {
		ncl--
	}
	dynBits := 3 + 5 + 5 + 4 + 3*ncl + extra
	for s, f := range b.clFreq {
		dynBits += int(f) * int(b.cl.len[s])
	}
	dynBits += 2*int(b.clFreq[16]) + 3*int(b.clFreq[17]) + 7*int(b.clFreq[18])
	for s, f := range b.litFreq {
		dynBits += int(f) * int(b.lit.len[s])
	}
	for s, f := range b.distFreq {
		dynBits += int(f) * int(b.dist.len[s])
	}

	storedBits := math.MaxInt // not an option: never the smallest
	if raw != nil && len(raw) <= 0xffff {
		pad := (8 - (w.nbits+3)%8) % 8
		storedBits = 3 + int(pad) + 32 + 8*len(raw)
	}

	switch {
	case storedBits <= fixedBits && storedBits <= dynBits:
		w.put(0, 3)
		w.align()
		n := len(raw)
		w.out = append(w.out, byte(n), byte(n>>8), byte(^n), byte(^n>>8))
		w.out = append(w.out, raw...)
	case fixedBits <= dynBits:
		w.put(1<<1, 3)
		b.writeTokens(w, &fixedLit, &fixedDist)
	default:
		w.put(2<<1, 3)
		w.put(uint32(nlit-257), 5)
		w.put(uint32(ndist-1), 5)
		w.put(uint32(ncl-4), 4)
		for _, s := range codeLenOrder[:ncl] {
			w.put(uint32(b.cl.len[s]), 3)
		}
		rle := b.rle
		for i := 0; i < len(rle); i += 2 {
			s := rle[i]
			w.put(uint32(b.cl.bits[s]), uint(b.cl.len[s]))
			switch s {
			case 16:
				w.put(uint32(rle[i+1]), 2)
			case 17:
				w.put(uint32(rle[i+1]), 3)
			case 18:
				w.put(uint32(rle[i+1]), 7)
			}
		}
		b.writeTokens(w, &b.lit, &b.dist)
	}
	w.flushBytes()
}

// writeTokens writes the tokens and the end of block with the given codes.
func (b *blockWork) writeTokens(w *bitWriter, lit, dist *code) {
	for _, t := range b.tokens {
		if t < matchFlag {
			w.put(uint32(lit.bits[t]), uint(lit.len[t]))
			continue
		}
		l := (t >> 16) & 0xff
		lc := uint32(lengthCode[l])
		sym := 257 + lc
		w.put(uint32(lit.bits[sym])|(l-uint32(lengthBase[lc]))<<lit.len[sym], uint(lit.len[sym])+uint(lengthExtra[lc]))
		d := t & 0xffff
		dc := distCode(d)
		w.put(uint32(dist.bits[dc])|(d-uint32(distBase[dc]))<<dist.len[dc], uint(dist.len[dc])+uint(distExtra[dc]))
	}
	w.put(uint32(lit.bits[endOfBlock]), uint(lit.len[endOfBlock]))
}

// rleLengths run-length encodes the code lengths of b.lit and b.dist (RFC
// 1951 section 3.2.7) into b.rle, counting the symbols in b.clFreq, and
// returns HLIT and HDIST (the numbers of lengths sent).
func (b *blockWork) rleLengths() (nlit, ndist int) {
	nlit = numLitLen
	for nlit > 257 && b.lit.len[nlit-1] == 0 {
		nlit--
	}
	ndist = numDist
	for ndist > 1 && b.dist.len[ndist-1] == 0 {
		ndist--
	}
	var all [numLitLen + numDist]uint8
	n := copy(all[:], b.lit.len[:nlit])
	n += copy(all[n:], b.dist.len[:ndist])
	seq := all[:n]
	clear(b.clFreq[:])
	rle := b.rle[:0]
	for i := 0; i < len(seq); {
		l := seq[i]
		run := 1
		for i+run < len(seq) && seq[i+run] == l {
			run++
		}
		i += run
		if l == 0 {
			for run >= 11 {
				r := min(run, 138)
				rle = append(rle, 18, uint8(r-11))
				b.clFreq[18]++
				run -= r
			}
			if run >= 3 {
				rle = append(rle, 17, uint8(run-3))
				b.clFreq[17]++
				run = 0
			}
		} else {
			rle = append(rle, l, 0)
			b.clFreq[l]++
			run--
			for run >= 3 {
				r := min(run, 6)
				rle = append(rle, 16, uint8(r-3))
				b.clFreq[16]++
				run -= r
			}
		}
		for ; run > 0; run-- {
			rle = append(rle, l, 0)
			b.clFreq[l]++
		}
	}
	b.rle = rle
	return nlit, ndist
}
