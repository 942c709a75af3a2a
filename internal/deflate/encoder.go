package deflate

import (
	"compress/flate"
	"fmt"
	"io"
	"sync"
)

// syncTail is the end of every sync flush (an empty stored block's LEN and
// NLEN): RFC 7692 section 7.2.1 removes it from the message and section
// 7.2.2 appends it again before inflating.
var syncTail = [4]byte{0x00, 0x00, 0xff, 0xff}

// Encoder compresses the messages of one direction of one connection, one
// message at a time, into a caller-supplied io.Writer. For each message it
// writes the compressed bytes of RFC 7692 section 7.2.1: a DEFLATE stream
// ended by a sync flush, without the trailing 00 00 ff ff.
//
// A message is Reset(dst), any number of Write calls, then Close. Only the
// bytes written to dst between Reset and the return of Close belong to the
// message; dst is not retained after Close.
//
// An Encoder is not safe for concurrent use: one goroutine (or the holder
// of the connection's write lock) drives it.
//
// # Compression
//
// The Encoder is this package's own DEFLATE compressor (RFC 1951): LZ77
// with a window of exactly 2^windowBits bytes, as negotiated, then for
// every block of input the smallest of a stored, a fixed-Huffman and a
// dynamic-Huffman block. Back-references never reach further than the
// window, nor, without context takeover, before the start of the message.
// Level 1 (flate.BestSpeed, the default) is the fast matcher: one hash
// probe per position, greedy, whose ratio is that of compress/flate's
// level 1 or better. Levels 2 to 9 search hash chains (from 4 to 2,048
// candidates per position) with lazy matching from level 4, for better
// ratios at more CPU. flate.HuffmanOnly writes literals only.
//
// # Memory
//
// The LZ77 state of an Encoder is its window: 2^windowBits bytes of
// history, room for the input not yet compressed (2^windowBits/2 bytes, at
// least 4 KiB) and a hash table of 2^min(windowBits,12) two-byte entries.
// With context takeover this state is allocated at the first message and
// kept until Release: 57,536 bytes in all at 15 bits, 16,576 at 12, 7,616
// at 10, 5,568 at 8 (TestEncoderMemory); levels 2 to 9 add the hash
// chains, two bytes per window byte (64 KiB more at 15 bits). Without context takeover it is
// borrowed from a pool, per window size, for one message, and the Encoder
// holds nothing between messages (112 bytes, itself). The per-block
// scratch (tokens and Huffman codes, about 140 KiB) is always pooled and
// borrowed for one message only.
type Encoder struct {
	level    int  // flate.HuffmanOnly or 1..9
	wbits    int  // negotiated window bits
	takeover bool // keep win across messages
	open     bool // between Reset and Close
	inBlock  bool // work holds tokens of a block not yet written
	released bool
	err      error // sticky: ErrContextLost with takeover

	win  *window    // non-nil while a message is open, and with takeover once used
	work *blockWork // non-nil while a message is open
	bw   bitWriter  // output: appended to the caller's slice, or work.out
	sink io.Writer  // destination of a streaming message; nil when appending
}

// window is the LZ77 state of an Encoder: buf holds the history (the last
// bytes compressed, at most 2^wbits of which may be referred to) followed
// by the input not yet compressed, buf[hist:]. table maps the hash of 4
// bytes to the position where they last occurred, as the low 16 bits of
// its stream offset: an entry is only a hint, checked against the bytes
// before use, so stale entries (from earlier messages or an earlier owner
// of a pooled window) never produce an invalid match.
type window struct {
	buf     []byte
	hist    int
	base    uint32 // stream offset of buf[0]
	table   []uint16
	shift   uint32   // 32 - hash bits
	pending int      // largest input block
	prev    []uint16 // levels 2-9: hash chains, by stream offset mod 2^wbits
}

// maxPending is the largest input block, for 15 window bits.
const maxPending = 1 << 14

// windowPools holds idle windows without context, per window bits - 8,
// without ([0]) and with ([1]) hash chains.
var windowPools [2][8]sync.Pool

func windowSizes(wbits int) (size, pending, hashBits int) {
	size = 1 << wbits
	pending = max(size/2, 4096)
	hashBits = min(wbits, 12)
	return
}

func newWindow(wbits int, chained bool) *window {
	size, pending, hb := windowSizes(wbits)
	w := &window{
		buf:     make([]byte, 0, size+pending),
		table:   make([]uint16, 1<<hb),
		shift:   uint32(32 - hb),
		pending: pending,
	}
	if chained {
		w.prev = make([]uint16, size)
	}
	return w
}

// pool returns the pool of the Encoder's kind of window.
func (e *Encoder) pool() *sync.Pool {
	k := 0
	if e.level >= 2 {
		k = 1
	}
	return &windowPools[k][e.wbits-8]
}

// NewEncoder returns an Encoder for one direction of one connection.
//
// level is a compress/flate level: flate.HuffmanOnly, flate.DefaultCompression
// or flate.BestSpeed..flate.BestCompression; 0 means flate.BestSpeed (not
// flate.NoCompression), flate.DefaultCompression means 6 (see the type
// documentation for what the levels do). windowBits (8..15) is the
// negotiated maximum LZ77 window of this compressor, *_max_window_bits of
// RFC 7692 section 7.1.2. contextTakeover keeps the LZ77 context from one
// message to the next (the "no_context_takeover" parameter for this
// direction was not negotiated); it is ignored with flate.HuffmanOnly,
// which has no context.
//
// NewEncoder panics if level or windowBits is out of range: both come from
// the caller's configuration and negotiation, never from the wire.
func NewEncoder(level, windowBits int, contextTakeover bool) *Encoder {
	switch {
	case level == 0:
		level = flate.BestSpeed
	case level == flate.DefaultCompression:
		level = 6
	case level < flate.HuffmanOnly || level > flate.BestCompression:
		panic(fmt.Sprintf("deflate: invalid compression level %d", level))
	}
	if windowBits < 8 || windowBits > 15 {
		panic(fmt.Sprintf("deflate: invalid window bits %d", windowBits))
	}
	if level == flate.HuffmanOnly {
		contextTakeover = false
	}
	return &Encoder{level: level, wbits: windowBits, takeover: contextTakeover}
}

// Level reports the level the Encoder uses: flate.HuffmanOnly or 1..9 (0
// is reported as flate.BestSpeed, flate.DefaultCompression as 6).
func (e *Encoder) Level() int { return e.level }

// ContextTakeover reports whether the Encoder keeps LZ77 context between
// messages: context takeover was asked for and the level is not
// flate.HuffmanOnly.
func (e *Encoder) ContextTakeover() bool { return e.takeover }

// Reset begins a message whose compressed bytes go to dst. Output is written
// to dst during Write and Close (only the end of the message's last block
// may wait for Close); the 4-byte sync tail is never written.
//
// Calling Reset while a message is open abandons it. Without context
// takeover that is harmless; with context takeover the peer's window can no
// longer match ours, so every later Write and Close returns ErrContextLost.
func (e *Encoder) Reset(dst io.Writer) {
	if e.released {
		return
	}
	e.begin(dst, nil)
}

// begin opens a message: to sink when it is not nil, else appended to out.
func (e *Encoder) begin(sink io.Writer, out []byte) {
	if e.open {
		if e.takeover {
			e.err = ErrContextLost
		}
		e.finish()
	}
	if e.win == nil {
		if w, ok := e.pool().Get().(*window); ok {
			e.win = w
		} else {
			e.win = newWindow(e.wbits, e.level >= 2)
		}
		e.win.buf = e.win.buf[:0]
		e.win.hist = 0
	} else if !e.takeover {
		// Unreachable: finish pools the window without takeover.
		e.win.buf, e.win.hist = e.win.buf[:0], 0
	}
	e.work = workPool.Get().(*blockWork)
	e.sink = sink
	if sink != nil {
		out = e.work.out[:0]
	}
	e.bw = bitWriter{out: out}
	e.open = true
}

// Write compresses p as more of the current message. Compressed output may
// be written to the destination before Write returns. It returns len(p) and
// nil, or an error from the destination (after which, with context
// takeover, the Encoder returns ErrContextLost), ErrContextLost,
// ErrNoMessage or ErrReleased.
func (e *Encoder) Write(p []byte) (int, error) {
	if err := e.check(); err != nil {
		return 0, err
	}
	n := len(p)
	w := e.win
	for len(p) > 0 {
		// At most one block's worth of input waits (maxPending at 15
		// bits), so that a block's tokens fit the scratch.
		limit := min(cap(w.buf), w.hist+w.pending)
		if len(w.buf) == limit {
			e.compressPending(false)
			if err := e.emit(); err != nil {
				e.fail()
				return n - len(p), err
			}
			limit = min(cap(w.buf), w.hist+w.pending)
		}
		k := copy(w.buf[len(w.buf):limit], p)
		w.buf = w.buf[:len(w.buf)+k]
		p = p[k:]
	}
	return n, nil
}

// Close ends the current message: it compresses the input still pending,
// ends the message with a sync flush, drops the 00 00 ff ff tail and
// writes the rest to the destination, which is then no longer referenced.
// Without context takeover the LZ77 state goes back to its pool. Close
// returns an error from the destination, ErrContextLost, ErrNoMessage or
// ErrReleased.
//
// A message with no bytes compresses to the single byte 0x00 (RFC 7692
// section 7.2.3.6); every compressed message is at least one byte long.
func (e *Encoder) Close() error {
	_, err := e.end()
	return err
}

// end is Close; it also returns the output slice of an appended message.
func (e *Encoder) end() ([]byte, error) {
	if err := e.check(); err != nil {
		e.finish()
		return nil, err
	}
	if e.win.hist < len(e.win.buf) || e.inBlock {
		e.compressPending(true)
	}
	// The sync flush: an empty stored block, whose LEN and NLEN
	// (00 00 ff ff) are not sent.
	e.bw.put(0, 3)
	e.bw.align()
	out := e.bw.out
	err := e.emit()
	if err != nil {
		e.fail()
	}
	e.finish()
	return out, err
}

// compressPending tokenizes the pending input and makes it history,
// sliding the window when the buffer is full. The tokens are written as a
// block at the end of the message (final), or now unless they compress so
// well (under 1 token per 8 bytes) that saving a block header matters more
// than keeping the option of a stored block: then the block goes on with
// the next chunk of input, while there is room for its tokens.
func (e *Encoder) compressPending(final bool) {
	w, wk := e.win, e.work
	raw := w.buf[w.hist:]
	if !e.inBlock {
		wk.resetFreq()
	}
	n0 := len(wk.tokens)
	if e.level == flate.HuffmanOnly {
		for _, c := range raw {
			wk.tokens = append(wk.tokens, uint32(c))
			wk.litFreq[c]++
		}
	} else if e.level >= 2 {
		w.chained(wk, 1<<e.wbits, e.level)
	} else {
		w.greedy(wk, 1<<e.wbits)
	}
	if !final && len(wk.tokens)+w.pending <= cap(wk.tokens) && (len(wk.tokens)-n0)*8 < len(raw) {
		e.inBlock = true
	} else {
		if e.inBlock {
			raw = nil // the block's input is not all at hand
		}
		wk.writeBlock(&e.bw, raw)
		e.inBlock = false
	}
	w.hist = len(w.buf)
	if len(w.buf) == cap(w.buf) {
		keep := 1 << e.wbits
		drop := len(w.buf) - keep
		copy(w.buf, w.buf[drop:])
		w.buf = w.buf[:keep]
		w.hist = keep
		w.base += uint32(drop)
	}
}

// emit writes the whole bytes produced so far to the destination of a
// streaming message.
func (e *Encoder) emit() error {
	if e.sink == nil || len(e.bw.out) == 0 {
		return nil
	}
	n, err := e.sink.Write(e.bw.out)
	if err == nil && n != len(e.bw.out) {
		err = io.ErrShortWrite
	}
	e.bw.out = e.bw.out[:0]
	return err
}

// check reports why Write or Close cannot proceed.
func (e *Encoder) check() error {
	switch {
	case e.released:
		return ErrReleased
	case e.err != nil:
		return e.err
	case !e.open:
		return ErrNoMessage
	}
	return nil
}

// fail records that the peer's view of the stream may now differ from ours.
func (e *Encoder) fail() {
	if e.takeover {
		e.err = ErrContextLost
	}
}

// finish ends the open message, if any: it forgets the destination, gives
// back the block scratch, and pools the LZ77 state when no context is kept.
func (e *Encoder) finish() {
	if !e.open {
		return
	}
	e.open = false
	e.inBlock = false
	if e.sink != nil {
		e.work.out = e.bw.out[:0]
	}
	e.sink = nil
	e.bw = bitWriter{}
	workPool.Put(e.work)
	e.work = nil
	if !e.takeover {
		e.pool().Put(e.win)
		e.win = nil
	}
}

// Release ends the Encoder's life: its LZ77 state goes back to the pool.
// Every later call returns ErrReleased (Reset does nothing). Release may
// be called more than once, and in the middle of a message.
func (e *Encoder) Release() {
	if e.released {
		return
	}
	e.finish()
	if e.win != nil {
		e.pool().Put(e.win)
		e.win = nil
	}
	e.released = true
}

// AppendCompressed compresses msg as one whole message and appends its
// compressed bytes (without the 00 00 ff ff tail) to dst, returning the
// extended slice. It is Reset, Write and Close with dst as destination, so
// it is meant for prepared or broadcast messages built with an Encoder
// without context takeover; with context takeover msg becomes part of the
// Encoder's context like any other message. It returns the same errors as
// Close; on error the returned slice holds dst and possibly part of the
// output.
func (e *Encoder) AppendCompressed(dst, msg []byte) ([]byte, error) {
	if e.released {
		return dst, ErrReleased
	}
	e.begin(nil, dst)
	if _, err := e.Write(msg); err != nil {
		e.finish()
		return dst, err
	}
	out, err := e.end()
	if err != nil {
		return dst, err
	}
	return out, nil
}
