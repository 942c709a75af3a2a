package deflate

import (
	"errors"
	"fmt"
)

// refInflate is a small, slow, independent DEFLATE decoder (RFC 1951, after
// Mark Adler's puff.c) used by the tests as an oracle. It decodes stream
// from its first bit, with hist as the preceding output (context), until
// the end of a final block or, with stopAtEnd false, until stream is
// exhausted at a block boundary. It reports the output (at most maxOut
// bytes: longer output returns errRefTooLong), the largest back-reference
// distance seen, how many bytes of stream it consumed, and whether a final
// block was seen.
type refResult struct {
	out     []byte
	maxDist int
	used    int // bytes of stream consumed (the last one possibly in part)
	final   bool
	types   []int // BTYPE of each block, in order
}

var (
	errRefTooLong = errors.New("ref: output too long")
	errRefShort   = errors.New("ref: input ends inside a block")
)

type refBits struct {
	b   []byte
	pos int // in bits
}

func (r *refBits) need(n int) (int, error) {
	v := 0
	for i := range n {
		if r.pos>>3 >= len(r.b) {
			return 0, errRefShort
		}
		v |= int(r.b[r.pos>>3]>>(r.pos&7)&1) << i
		r.pos++
	}
	return v, nil
}

type refHuff struct {
	count  [16]int
	symbol []int
}

// newRefHuff builds a canonical Huffman decoder from code lengths. It
// accepts incomplete codes (as puff.c does) but not over-subscribed ones.
func newRefHuff(lengths []int) (*refHuff, error) {
	h := &refHuff{symbol: make([]int, len(lengths))}
	for _, l := range lengths {
		h.count[l]++
	}
	left := 1
	for l := 1; l < 16; l++ {
		left <<= 1
		left -= h.count[l]
		if left < 0 {
			return nil, errors.New("ref: over-subscribed code")
		}
	}
	var offs [16]int
	for l := 1; l < 15; l++ {
		offs[l+1] = offs[l] + h.count[l]
	}
	for s, l := range lengths {
		if l != 0 {
			h.symbol[offs[l]] = s
			offs[l]++
		}
	}
	return h, nil
}

func (r *refBits) decode(h *refHuff) (int, error) {
	code, first, index := 0, 0, 0
	for l := 1; l < 16; l++ {
		b, err := r.need(1)
		if err != nil {
			return 0, err
		}
		code |= b
		count := h.count[l]
		if code-count < first {
			return h.symbol[index+(code-first)], nil
		}
		index += count
		first += count
		first <<= 1
		code <<= 1
	}
	return 0, errors.New("ref: invalid code")
}

var (
	refLenBase  = [29]int{3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258}
	refLenExtra = [29]int{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0}
	refDistBase = [30]int{1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577}
	refDistExt  = [30]int{0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13}
	refOrder    = [19]int{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}
)

func refFixed() (*refHuff, *refHuff) {
	var l [288]int
	for i := range l {
		switch {
		case i < 144:
			l[i] = 8
		case i < 256:
			l[i] = 9
		case i < 280:
			l[i] = 7
		default:
			l[i] = 8
		}
	}
	var d [30]int
	for i := range d {
		d[i] = 5
	}
	lh, _ := newRefHuff(l[:])
	dh, _ := newRefHuff(d[:])
	return lh, dh
}

func refInflate(hist, stream []byte, stopAtEnd bool, maxOut int) (refResult, error) {
	r := &refBits{b: stream}
	buf := append([]byte(nil), hist...)
	start := len(buf)
	var res refResult
	out := func() []byte { return buf[start:] }
	for {
		if !stopAtEnd && r.pos == 8*len(stream) {
			break
		}
		final, err := r.need(1)
		if err != nil {
			return res, err
		}
		typ, err := r.need(2)
		if err != nil {
			return res, err
		}
		res.types = append(res.types, typ)
		switch typ {
		case 0:
			r.pos = (r.pos + 7) &^ 7
			if r.pos/8+4 > len(stream) {
				return res, errRefShort
			}
			p := r.pos / 8
			n := int(stream[p]) | int(stream[p+1])<<8
			nn := int(stream[p+2]) | int(stream[p+3])<<8
			if n != ^nn&0xffff {
				return res, errors.New("ref: stored length mismatch")
			}
			p += 4
			if p+n > len(stream) {
				return res, errRefShort
			}
			buf = append(buf, stream[p:p+n]...)
			r.pos = 8 * (p + n)
		case 1, 2:
			var lh, dh *refHuff
			if typ == 1 {
				lh, dh = refFixed()
			} else if lh, dh, err = r.dynamic(); err != nil {
				return res, err
			}
			for {
				sym, err := r.decode(lh)
				if err != nil {
					return res, err
				}
				if sym < 256 {
					buf = append(buf, byte(sym))
				} else if sym == 256 {
					break
				} else {
					sym -= 257
					if sym >= 29 {
						return res, errors.New("ref: invalid length symbol")
					}
					x, err := r.need(refLenExtra[sym])
					if err != nil {
						return res, err
					}
					length := refLenBase[sym] + x
					ds, err := r.decode(dh)
					if err != nil {
						return res, err
					}
					if ds >= 30 {
						return res, errors.New("ref: invalid distance symbol")
					}
					x, err = r.need(refDistExt[ds])
					if err != nil {
						return res, err
					}
					dist := refDistBase[ds] + x
					if dist > len(buf) {
						return res, errors.New("ref: distance too far back")
					}
					res.maxDist = max(res.maxDist, dist)
					for range length {
						buf = append(buf, buf[len(buf)-dist])
					}
				}
				if len(buf)-start > maxOut {
					return res, errRefTooLong
				}
			}
		default:
			return res, errors.New("ref: reserved block type")
		}
		if len(buf)-start > maxOut {
			return res, errRefTooLong
		}
		if final == 1 {
			res.final = true
			if stopAtEnd {
				break
			}
		}
	}
	res.out = out()
	res.used = (r.pos + 7) / 8
	return res, nil
}

func (r *refBits) dynamic() (*refHuff, *refHuff, error) {
	nlen, err := r.need(5)
	if err != nil {
		return nil, nil, err
	}
	ndist, err := r.need(5)
	if err != nil {
		return nil, nil, err
	}
	ncode, err := r.need(4)
	if err != nil {
		return nil, nil, err
	}
	nlen += 257
	ndist++
	ncode += 4
	if nlen > 286 || ndist > 30 {
		return nil, nil, fmt.Errorf("ref: bad counts %d %d", nlen, ndist)
	}
	var cl [19]int
	for i := range ncode {
		if cl[refOrder[i]], err = r.need(3); err != nil {
			return nil, nil, err
		}
	}
	ch, err := newRefHuff(cl[:])
	if err != nil {
		return nil, nil, err
	}
	lengths := make([]int, nlen+ndist)
	for i := 0; i < len(lengths); {
		sym, err := r.decode(ch)
		if err != nil {
			return nil, nil, err
		}
		if sym < 16 {
			lengths[i] = sym
			i++
			continue
		}
		rep, val := 0, 0
		switch sym {
		case 16:
			if i == 0 {
				return nil, nil, errors.New("ref: repeat with no previous length")
			}
			val = lengths[i-1]
			x, err := r.need(2)
			if err != nil {
				return nil, nil, err
			}
			rep = 3 + x
		case 17:
			x, err := r.need(3)
			if err != nil {
				return nil, nil, err
			}
			rep = 3 + x
		default:
			x, err := r.need(7)
			if err != nil {
				return nil, nil, err
			}
			rep = 11 + x
		}
		if i+rep > len(lengths) {
			return nil, nil, errors.New("ref: too many lengths")
		}
		for range rep {
			lengths[i] = val
			i++
		}
	}
	if lengths[256] == 0 {
		return nil, nil, errors.New("ref: no end-of-block code")
	}
	lh, err := newRefHuff(lengths[:nlen])
	if err != nil {
		return nil, nil, err
	}
	dh, err := newRefHuff(lengths[nlen:])
	if err != nil {
		return nil, nil, err
	}
	return lh, dh, nil
}
