package deflate

import (
	"bytes"
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"sync"
)

// syncTail is the end of every sync flush (an empty stored block's LEN and
// NLEN): RFC 7692 section 7.2.1 removes it from the message and section
// 7.2.2 appends it again before inflating.
var syncTail = [4]byte{0x00, 0x00, 0xff, 0xff}

// writerPools holds idle *flate.Writer values, one pool per compress/flate
// level (index level-flate.HuffmanOnly). A writer taken from a pool is
// always Reset before use, so its previous state never matters.
var writerPools [flate.BestCompression - flate.HuffmanOnly + 1]sync.Pool

func getWriter(level int, dst io.Writer) *flate.Writer {
	if fw, ok := writerPools[level-flate.HuffmanOnly].Get().(*flate.Writer); ok {
		fw.Reset(dst)
		return fw
	}
	fw, err := flate.NewWriter(dst, level)
	if err != nil {
		// Unreachable: NewEncoder validated the level.
		panic(err)
	}
	return fw
}

// putWriter pools fw. It is not Reset here (getWriter does it), because
// resetting costs a 640 KiB clear at levels 2 to 9; fw may still point at
// the tailWriter of its last Encoder, whose destination is already nil.
func putWriter(level int, fw *flate.Writer) {
	writerPools[level-flate.HuffmanOnly].Put(fw)
}

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
// # Memory
//
// A compress/flate Writer is large: its hash chains live inline in the
// struct, so each one costs about 1.2 MiB at level 1 (BestSpeed) and about
// 0.8 MiB at levels 2 to 9 (see TestEncoderMemory). Without context
// takeover the Encoder borrows a writer from a process-wide pool for the
// duration of one message (Reset to Close) and holds nothing between
// messages: its own size is under 100 bytes. With context takeover the
// writer, and therefore that whole cost, stays with the Encoder until
// Release.
//
// Reusing a pooled writer at levels 2 to 9 clears its 640 KiB of hash
// tables, once per message: without context takeover, level 1 avoids that
// cost (its Reset is cheap).
//
// # Window bits below 15
//
// compress/flate cannot bound its LZ77 window below 32 KiB. When the
// negotiated window is smaller (windowBits < 15) the Encoder compresses with
// flate.HuffmanOnly, which emits no back-references at all: the output is
// valid DEFLATE that honours any window limit, at a lower compression ratio
// (Huffman coding of literals only, typically 60-70% of the input for text).
// Such an Encoder keeps no LZ77 context, so it pools its writer between
// messages even when context takeover was negotiated: nothing the peer
// relies on is lost.
//
// # Level 1 and small messages
//
// At flate.BestSpeed, compress/flate forgets its history whenever it is
// flushed with fewer than 128 bytes pending, so with context takeover a
// message shorter than 128 bytes gains nothing from earlier messages (and
// the next message none from it). Levels 2 to 9 keep the history.
type Encoder struct {
	level    int  // compress/flate level actually used
	takeover bool // keep fw across messages (false when level is HuffmanOnly)
	open     bool // between Reset and Close
	released bool

	fw  *flate.Writer // non-nil while a message is open, or always with takeover once used
	out tailWriter    // the writer fw writes to
	err error         // sticky: ErrContextLost with takeover

	app sliceWriter // destination of AppendCompressed
}

// NewEncoder returns an Encoder for one direction of one connection.
//
// level is a compress/flate level: flate.HuffmanOnly, flate.DefaultCompression
// or flate.BestSpeed..flate.BestCompression; 0 means flate.BestSpeed (not
// flate.NoCompression). windowBits (8..15) is the negotiated maximum LZ77
// window of this compressor, *_max_window_bits of RFC 7692 section 7.1.2;
// below 15 the Encoder uses flate.HuffmanOnly whatever the level (see the
// type documentation). contextTakeover keeps the LZ77 context from one
// message to the next (the "no_context_takeover" parameter for this
// direction was not negotiated).
//
// NewEncoder panics if level or windowBits is out of range: both come from
// the caller's configuration and negotiation, never from the wire.
func NewEncoder(level, windowBits int, contextTakeover bool) *Encoder {
	if level == 0 {
		level = flate.BestSpeed
	}
	if level < flate.HuffmanOnly || level > flate.BestCompression {
		panic(fmt.Sprintf("deflate: invalid compression level %d", level))
	}
	if windowBits < 8 || windowBits > 15 {
		panic(fmt.Sprintf("deflate: invalid window bits %d", windowBits))
	}
	if windowBits < 15 {
		level = flate.HuffmanOnly
	}
	if level == flate.HuffmanOnly {
		contextTakeover = false
	}
	return &Encoder{level: level, takeover: contextTakeover}
}

// Level reports the compress/flate level the Encoder uses: flate.HuffmanOnly
// when its window bits are below 15, else the level given to NewEncoder
// (0 replaced by flate.BestSpeed).
func (e *Encoder) Level() int { return e.level }

// ContextTakeover reports whether the Encoder keeps LZ77 context, and
// therefore its compress/flate Writer, between messages. It is false when
// context takeover was not asked for, and when the window bits are below 15
// (Huffman-only output has no context to keep).
func (e *Encoder) ContextTakeover() bool { return e.takeover }

// Reset begins a message whose compressed bytes go to dst. Output is written
// to dst during Write and Close, except the 4-byte sync tail, which is held
// back and never written.
//
// Calling Reset while a message is open abandons it. Without context
// takeover that is harmless; with context takeover the peer's window can no
// longer match ours, so every later Write and Close returns ErrContextLost.
func (e *Encoder) Reset(dst io.Writer) {
	if e.released {
		return
	}
	if e.open && e.takeover {
		e.err = ErrContextLost
	}
	e.out = tailWriter{dst: dst}
	e.open = true
	if e.takeover {
		if e.fw == nil {
			// The writer writes to e.out for its whole life with the Encoder.
			e.fw = getWriter(e.level, &e.out)
		}
		return
	}
	if e.fw == nil {
		e.fw = getWriter(e.level, &e.out)
	} else {
		e.fw.Reset(&e.out)
	}
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
	n, err := e.fw.Write(p)
	if err != nil {
		e.fail()
	}
	return n, err
}

// Close ends the current message: it sync-flushes the compressor, drops the
// 00 00 ff ff tail and writes the rest to the destination, which is then no
// longer referenced. Without context takeover the compressor goes back to
// the pool. Close returns an error from the destination, ErrContextLost,
// ErrNoMessage or ErrReleased.
//
// A message with no bytes compresses to the single byte 0x00 (RFC 7692
// section 7.2.3.6); every compressed message is at least one byte long.
func (e *Encoder) Close() error {
	if err := e.check(); err != nil {
		e.finish()
		return err
	}
	err := e.fw.Flush()
	if err == nil && !bytes.Equal(e.out.held[:e.out.n], syncTail[:]) {
		err = errors.New("deflate: internal error: flush did not end with 00 00 ff ff")
	}
	if err != nil {
		e.fail()
	}
	e.finish()
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

// finish ends the open message, if any: it forgets the destination and
// pools the compressor when no context is kept.
func (e *Encoder) finish() {
	e.open = false
	e.out = tailWriter{}
	if !e.takeover && e.fw != nil {
		putWriter(e.level, e.fw)
		e.fw = nil
	}
}

// Release ends the Encoder's life: the compressor, if it holds one, goes
// back to the pool. Every later call returns ErrReleased (Reset does
// nothing). Release may be called more than once, and in the middle of a
// message.
func (e *Encoder) Release() {
	if e.released {
		return
	}
	e.open = false
	e.out = tailWriter{}
	if e.fw != nil {
		putWriter(e.level, e.fw)
		e.fw = nil
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
	e.app.b = dst
	e.Reset(&e.app)
	_, err := e.Write(msg)
	if cerr := e.Close(); err == nil {
		err = cerr
	}
	out := e.app.b
	e.app.b = nil
	return out, err
}

// tailWriter forwards its input to dst except the last four bytes written
// so far, which it holds back: after a sync flush they are the 00 00 ff ff
// that RFC 7692 removes from every message.
type tailWriter struct {
	dst  io.Writer
	held [4]byte
	n    int // bytes in held
}

func (t *tailWriter) Write(p []byte) (int, error) {
	total := t.n + len(p)
	if total <= len(t.held) {
		t.n += copy(t.held[t.n:], p)
		return len(p), nil
	}
	emit := total - len(t.held) // bytes that are certainly not in the tail
	if t.n > 0 {
		k := min(t.n, emit)
		if err := t.emit(t.held[:k]); err != nil {
			return 0, err
		}
		t.n = copy(t.held[:], t.held[k:t.n])
		emit -= k
	}
	if emit > 0 {
		if err := t.emit(p[:emit]); err != nil {
			return 0, err
		}
	}
	t.n += copy(t.held[t.n:], p[emit:])
	return len(p), nil
}

func (t *tailWriter) emit(p []byte) error {
	if t.dst == nil {
		return ErrNoMessage
	}
	n, err := t.dst.Write(p)
	if err == nil && n != len(p) {
		err = io.ErrShortWrite
	}
	return err
}

// sliceWriter appends to b.
type sliceWriter struct{ b []byte }

func (w *sliceWriter) Write(p []byte) (int, error) {
	w.b = append(w.b, p...)
	return len(p), nil
}
