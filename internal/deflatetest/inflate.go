// Package deflatetest holds test oracles for DEFLATE (RFC 1951) as used by
// permessage-deflate (RFC 7692): a small, slow, independent reference
// inflater that reports the largest back-reference distance it decoded,
// and a small LZ77 encoder with a bounded window that writes fixed-Huffman
// blocks and can aim back-references at exact distances.
//
// Neither trusts the codec under test nor compress/flate: the inflater is
// written after Mark Adler's puff.c, and the encoder emits the bits itself.
// Tests use them to check on the wire that a compressor honours
// *_max_window_bits and *_no_context_takeover, and to hand a decompressor
// streams that compress/flate would never produce.
//
// Only tests import this package. Nothing here is tuned for speed or for
// hostile input beyond the limits the caller passes. Every function is
// safe for concurrent use; none keeps a reference to its arguments.
package deflatetest

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// Errors returned by [Inflate] and [InflateMessage]; match them with
// [errors.Is] (ErrCorrupt is wrapped with a description of the fault).
var (
	// ErrShort means the input ends inside a block (or, with
	// [FinalBlock], before a final block).
	ErrShort = errors.New("deflatetest: input ends inside a block")
	// ErrTooFar means a back-reference points before the start of the
	// history passed in.
	ErrTooFar = errors.New("deflatetest: back-reference before the start of the history")
	// ErrTooLong means the output grew past the caller's limit.
	ErrTooLong = errors.New("deflatetest: output over the limit")
	// ErrCorrupt means the input is not valid DEFLATE: a reserved block
	// type, a stored block whose LEN and NLEN disagree, an over-subscribed
	// or unusable Huffman code, or an invalid symbol.
	ErrCorrupt = errors.New("deflatetest: invalid block")
)

// End says where [Inflate] stops decoding.
type End int

const (
	// EndOfInput stops without error at the start of a block when no
	// whole byte of input is left (only the padding bits of the last
	// byte; no block fits in fewer than 8 bits), or after a block with
	// BFINAL set. This is how a permessage-deflate message, or several
	// in a row, ends.
	EndOfInput End = iota
	// FinalBlock stops only after a block with BFINAL set: input that
	// runs out before one is [ErrShort].
	FinalBlock
)

// Result is what [Inflate] decoded.
type Result struct {
	// Out is the output, without the history. It is newly allocated and
	// aliases neither argument of Inflate; the caller owns it.
	Out []byte
	// MaxDist is the largest back-reference distance decoded (0 when
	// there was none). It counts references into the history too.
	MaxDist int
	// Used is how many bytes of input were consumed, the last one
	// possibly in part.
	Used int
	// Final reports whether a block with BFINAL set was decoded (decoding
	// stops after it).
	Final bool
}

// Inflate decodes stream from its first bit, with hist as the output that
// precedes it (the sliding window of context takeover: back-references may
// reach into hist, but not before its start), until end says to stop. It
// fails with [ErrTooLong] as soon as the output exceeds maxOut bytes, and
// with [ErrShort], [ErrTooFar] or [ErrCorrupt] on bad input. On error the
// Result holds what was learnt so far (MaxDist, Final) but no Out.
//
// Incomplete Huffman codes are accepted, as puff.c accepts them;
// over-subscribed ones are not.
func Inflate(hist, stream []byte, end End, maxOut int) (Result, error) {
	r := &bitReader{b: stream}
	buf := append(make([]byte, 0, len(hist)+4*len(stream)+64), hist...)
	var res Result
	for !res.Final {
		if end == EndOfInput && (r.pos+7)>>3 >= len(stream) {
			break
		}
		last, err := r.bits(1)
		if err != nil {
			return res, err
		}
		typ, err := r.bits(2)
		if err != nil {
			return res, err
		}
		switch typ {
		case 0:
			r.pos = (r.pos + 7) &^ 7
			i := r.pos >> 3
			if i+4 > len(stream) {
				return res, ErrShort
			}
			n := int(binary.LittleEndian.Uint16(stream[i:]))
			if ^uint16(n) != binary.LittleEndian.Uint16(stream[i+2:]) {
				return res, fmt.Errorf("%w: stored block LEN/NLEN mismatch", ErrCorrupt)
			}
			if i+4+n > len(stream) {
				return res, ErrShort
			}
			buf = append(buf, stream[i+4:i+4+n]...)
			r.pos += (4 + n) * 8
		case 1:
			buf, err = r.codes(buf, len(hist), fixedLit, fixedDist, &res, maxOut)
		case 2:
			var lit, dist *huffman
			if lit, dist, err = r.dynamic(); err == nil {
				buf, err = r.codes(buf, len(hist), lit, dist, &res, maxOut)
			}
		default:
			return res, fmt.Errorf("%w: reserved block type 3", ErrCorrupt)
		}
		if err != nil {
			return res, err
		}
		if len(buf)-len(hist) > maxOut {
			return res, ErrTooLong
		}
		res.Final = last == 1
	}
	res.Out = buf[len(hist):]
	res.Used = (r.pos + 7) >> 3
	return res, nil
}

// InflateMessage decodes one permessage-deflate message payload, as sent
// on the wire without its trailing 00 00 ff ff (RFC 7692 section 7.2.1),
// which it appends before calling [Inflate] with [EndOfInput]. hist is the
// output of earlier messages with context takeover, nil without (then any
// reference before the message's own output is [ErrTooFar]). Result.Used
// counts the appended four bytes.
func InflateMessage(hist, payload []byte, maxOut int) (Result, error) {
	src := append(append(make([]byte, 0, len(payload)+4), payload...), 0x00, 0x00, 0xff, 0xff)
	return Inflate(hist, src, EndOfInput, maxOut)
}

// bitReader reads DEFLATE's bit stream: least significant bit first.
type bitReader struct {
	b   []byte
	pos int // bits consumed
}

func (r *bitReader) bits(n int) (int, error) {
	v := 0
	for i := range n {
		if r.pos>>3 >= len(r.b) {
			return 0, ErrShort
		}
		v |= int(r.b[r.pos>>3]>>(r.pos&7)&1) << i
		r.pos++
	}
	return v, nil
}

// huffman is a canonical Huffman code: how many codes of each length, and
// the symbols in code order.
type huffman struct {
	count  [16]int
	symbol []int
}

// newHuffman builds a canonical Huffman decoder from code lengths. It
// accepts incomplete codes (as puff.c does) but not over-subscribed ones.
func newHuffman(lengths []int) (*huffman, error) {
	h := &huffman{symbol: make([]int, len(lengths))}
	for _, l := range lengths {
		h.count[l]++
	}
	left := 1
	for l := 1; l < 16; l++ {
		left = left<<1 - h.count[l]
		if left < 0 {
			return nil, fmt.Errorf("%w: over-subscribed code", ErrCorrupt)
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

// decode reads one symbol of h, one bit at a time (Huffman codes are
// packed most significant bit first).
func (r *bitReader) decode(h *huffman) (int, error) {
	code, first, index := 0, 0, 0
	for l := 1; l < 16; l++ {
		b, err := r.bits(1)
		if err != nil {
			return 0, err
		}
		code |= b
		n := h.count[l]
		if code-n < first {
			return h.symbol[index+code-first], nil
		}
		index += n
		first = (first + n) << 1
		code <<= 1
	}
	return 0, fmt.Errorf("%w: no such code", ErrCorrupt)
}

// The tables of RFC 1951 section 3.2.5 (length and distance codes) and
// 3.2.7 (the order of the code length code lengths).
var (
	lenBase   = [29]int{3, 4, 5, 6, 7, 8, 9, 10, 11, 13, 15, 17, 19, 23, 27, 31, 35, 43, 51, 59, 67, 83, 99, 115, 131, 163, 195, 227, 258}
	lenExtra  = [29]int{0, 0, 0, 0, 0, 0, 0, 0, 1, 1, 1, 1, 2, 2, 2, 2, 3, 3, 3, 3, 4, 4, 4, 4, 5, 5, 5, 5, 0}
	distBase  = [30]int{1, 2, 3, 4, 5, 7, 9, 13, 17, 25, 33, 49, 65, 97, 129, 193, 257, 385, 513, 769, 1025, 1537, 2049, 3073, 4097, 6145, 8193, 12289, 16385, 24577}
	distExtra = [30]int{0, 0, 0, 0, 1, 1, 2, 2, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 8, 9, 9, 10, 10, 11, 11, 12, 12, 13, 13}
	clOrder   = [19]int{16, 17, 18, 0, 8, 7, 9, 6, 10, 5, 11, 4, 12, 3, 13, 2, 14, 1, 15}
)

// fixedLit and fixedDist are the fixed Huffman codes of RFC 1951 section
// 3.2.6.
var fixedLit, fixedDist = func() (*huffman, *huffman) {
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
	lit, _ := newHuffman(l[:])
	dist, _ := newHuffman(d[:])
	return lit, dist
}()

// dynamic reads the code definitions of a dynamic-Huffman block header.
func (r *bitReader) dynamic() (*huffman, *huffman, error) {
	var v [3]int
	for i, n := range []int{5, 5, 4} {
		x, err := r.bits(n)
		if err != nil {
			return nil, nil, err
		}
		v[i] = x
	}
	nlen, ndist, ncode := v[0]+257, v[1]+1, v[2]+4
	if nlen > 286 || ndist > 30 {
		return nil, nil, fmt.Errorf("%w: bad counts %d %d", ErrCorrupt, nlen, ndist)
	}
	var cl [19]int
	for i := range ncode {
		x, err := r.bits(3)
		if err != nil {
			return nil, nil, err
		}
		cl[clOrder[i]] = x
	}
	ch, err := newHuffman(cl[:])
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
		val, rep := 0, 0
		switch sym {
		case 16:
			if i == 0 {
				return nil, nil, fmt.Errorf("%w: repeat with no previous length", ErrCorrupt)
			}
			val = lengths[i-1]
			x, err := r.bits(2)
			if err != nil {
				return nil, nil, err
			}
			rep = 3 + x
		case 17:
			x, err := r.bits(3)
			if err != nil {
				return nil, nil, err
			}
			rep = 3 + x
		default:
			x, err := r.bits(7)
			if err != nil {
				return nil, nil, err
			}
			rep = 11 + x
		}
		if i+rep > len(lengths) {
			return nil, nil, fmt.Errorf("%w: too many lengths", ErrCorrupt)
		}
		for ; rep > 0; rep-- {
			lengths[i] = val
			i++
		}
	}
	if lengths[256] == 0 {
		return nil, nil, fmt.Errorf("%w: no end-of-block code", ErrCorrupt)
	}
	lit, err := newHuffman(lengths[:nlen])
	if err != nil {
		return nil, nil, err
	}
	dist, err := newHuffman(lengths[nlen:])
	if err != nil {
		return nil, nil, err
	}
	return lit, dist, nil
}

// codes decodes the symbols of one Huffman block up to its end-of-block
// code, appending to buf (whose first histLen bytes are the history).
func (r *bitReader) codes(buf []byte, histLen int, lit, dist *huffman, res *Result, maxOut int) ([]byte, error) {
	for {
		sym, err := r.decode(lit)
		if err != nil {
			return buf, err
		}
		switch {
		case sym < 256:
			buf = append(buf, byte(sym))
		case sym == 256:
			return buf, nil
		default:
			sym -= 257
			if sym >= 29 {
				return buf, fmt.Errorf("%w: length symbol %d", ErrCorrupt, sym+257)
			}
			x, err := r.bits(lenExtra[sym])
			if err != nil {
				return buf, err
			}
			length := lenBase[sym] + x
			ds, err := r.decode(dist)
			if err != nil {
				return buf, err
			}
			if ds >= 30 {
				return buf, fmt.Errorf("%w: distance symbol %d", ErrCorrupt, ds)
			}
			y, err := r.bits(distExtra[ds])
			if err != nil {
				return buf, err
			}
			d := distBase[ds] + y
			if d > len(buf) {
				return buf, fmt.Errorf("%w: distance %d with %d bytes of history", ErrTooFar, d, len(buf))
			}
			res.MaxDist = max(res.MaxDist, d)
			for range length {
				buf = append(buf, buf[len(buf)-d])
			}
		}
		if len(buf)-histLen > maxOut {
			return buf, ErrTooLong
		}
	}
}
