package deflate

import (
	"compress/flate"
	"errors"
	"fmt"
	"io"
	"sync"
)

// inflateTail is appended to every message before inflating: the sync tail
// removed by the sender (RFC 7692 section 7.2.2), then an empty final
// stored block, so that compress/flate ends the message with io.EOF rather
// than io.ErrUnexpectedEOF.
var inflateTail = [...]byte{0x00, 0x00, 0xff, 0xff, 0x01, 0x00, 0x00, 0xff, 0xff}

// maxWindow is the largest DEFLATE window, 2^15 bytes.
const maxWindow = 1 << 15

// inflater is the per-message state of a Decoder, pooled between messages.
type inflater struct {
	fr      io.ReadCloser // a compress/flate reader; also a flate.Resetter
	in      input
	scratch []byte // contiguous copy of a wrapped dictionary (takeover only)
}

var inflaterPool = sync.Pool{New: func() any {
	f := new(inflater)
	f.fr = flate.NewReader(&f.in)
	return f
}}

// Decoder inflates the messages of one direction of one connection, one at
// a time: Reset(src), then Read until io.EOF or an error.
//
// A Decoder is not safe for concurrent use: one goroutine (the
// connection's reader) drives it.
//
// # Memory
//
// While a message is being read, the Decoder holds a pooled inflater
// (compress/flate's reader with its 32 KiB window, and a 4 KiB input
// buffer: about 45 KiB; 77 KiB once it has also served to put a wrapped
// context takeover history back in order), returned to the pool when Read
// reports io.EOF or an error. Between messages it holds nothing but itself
// without context takeover, and with context takeover the last
// 2^windowBits bytes of inflated output (grown as output arrives: at most
// 32 KiB plus the struct; see TestDecoderMemory). Read never allocates in
// proportion to the output: the caller's buffer receives the bytes, and a
// decompression bomb costs the window, nothing more. Enforce a size limit
// by counting what Read returns and stopping.
type Decoder struct {
	window   int // 1 << windowBits
	takeover bool
	released bool

	f   *inflater // non-nil while a message is in flight
	err error     // terminal result of the current message (io.EOF or error)

	// With context takeover: the last window bytes of output. hist grows
	// to len window; once full it is a ring whose oldest byte is at hpos.
	hist []byte
	hpos int
	lost bool // a message was abandoned: the context is gone
}

// NewDecoder returns a Decoder for one direction of one connection.
// windowBits (8..15) is the negotiated maximum LZ77 window of the peer's
// compressor; compress/flate inflates any window up to 15, so it only sets
// how much history is kept between messages with contextTakeover, which
// says whether the peer keeps LZ77 context from one message to the next
// (the "no_context_takeover" parameter for this direction was not
// negotiated).
//
// NewDecoder panics if windowBits is out of range.
func NewDecoder(windowBits int, contextTakeover bool) *Decoder {
	if windowBits < 8 || windowBits > 15 {
		panic(fmt.Sprintf("deflate: invalid window bits %d", windowBits))
	}
	return &Decoder{window: 1 << windowBits, takeover: contextTakeover, err: ErrNoMessage}
}

// Reset begins a message. src yields the message's compressed payload, all
// its frames in order and already unmasked, without the 00 00 ff ff tail
// (the Decoder appends it), and then io.EOF. src is not retained after
// Read returns io.EOF or an error.
//
// With context takeover each message must be read to io.EOF before the
// next Reset: Reset in the middle of a message discards the rest of it, and
// since later messages may refer to that output, every later Read returns
// ErrContextLost. Without context takeover abandoning a message is
// harmless.
func (d *Decoder) Reset(src io.Reader) {
	if d.released {
		return
	}
	if d.f != nil {
		if d.takeover {
			d.lost = true
		}
		d.putInflater()
	}
	if d.lost {
		d.err = ErrContextLost
		return
	}
	d.err = nil
	f := inflaterPool.Get().(*inflater)
	f.in.reset(src)
	// Reset of a compress/flate reader cannot fail.
	_ = f.fr.(flate.Resetter).Reset(&f.in, d.dictionary(f))
	d.f = f
}

// Read reads inflated bytes of the current message into p. At the end of
// the message it returns io.EOF (possibly with n > 0). Errors are terminal
// for the message and repeated by later calls:
//
//   - an error wrapping ErrCorrupt for data that is not a valid message;
//   - an error returned by src other than io.EOF, unchanged;
//   - ErrContextLost, ErrNoMessage or ErrReleased (see their docs).
//
// Read allocates nothing in proportion to the output and never holds more
// than one window of it.
func (d *Decoder) Read(p []byte) (int, error) {
	if d.released {
		return 0, ErrReleased
	}
	if d.f == nil {
		return 0, d.err
	}
	if len(p) == 0 {
		return 0, nil
	}
	n, err := d.f.fr.Read(p)
	if n > 0 && d.takeover {
		d.remember(p[:n])
	}
	if err == nil {
		return n, nil
	}
	switch {
	case d.f.in.srcErr != nil:
		err = d.f.in.srcErr
	case err == io.EOF:
		err = d.f.in.checkEnd()
	default:
		err = corrupt(err)
	}
	d.putInflater()
	if err == nil {
		err = io.EOF
	} else if d.takeover {
		// The message was not inflated to its end: later messages, which
		// may refer to its output, cannot be inflated either.
		d.lost = true
	}
	d.err = err
	return n, err
}

// Release ends the Decoder's life: a pooled inflater in use goes back to
// the pool and the history is dropped. Every later Read returns ErrReleased
// and Reset does nothing. Release may be called more than once.
func (d *Decoder) Release() {
	if d.f != nil {
		d.putInflater()
	}
	d.hist = nil
	d.released = true
}

func (d *Decoder) putInflater() {
	d.f.in.reset(nil)
	inflaterPool.Put(d.f)
	d.f = nil
}

func corrupt(err error) error {
	if errors.Is(err, ErrCorrupt) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrCorrupt, err)
}

// dictionary returns the preset dictionary for the next message: nil
// without context takeover, else the history in order, oldest first (copied
// into f.scratch when the ring has wrapped).
func (d *Decoder) dictionary(f *inflater) []byte {
	if !d.takeover || len(d.hist) < d.window || d.hpos == 0 {
		return d.hist
	}
	if cap(f.scratch) < maxWindow {
		f.scratch = make([]byte, maxWindow)
	}
	k := copy(f.scratch, d.hist[d.hpos:])
	copy(f.scratch[k:], d.hist[:d.hpos])
	return f.scratch[:d.window]
}

// remember records inflated output in the history.
func (d *Decoder) remember(b []byte) {
	if len(b) >= d.window {
		b = b[len(b)-d.window:]
	}
	if len(d.hist) < d.window {
		if len(d.hist)+len(b) <= d.window {
			if len(d.hist)+len(b) > cap(d.hist) {
				c := min(d.window, max(2*cap(d.hist), len(d.hist)+len(b), 1024))
				h := make([]byte, len(d.hist), c)
				copy(h, d.hist)
				d.hist = h
			}
			d.hist = append(d.hist, b...)
			return
		}
		// Fill up to the window, then continue as a ring whose oldest
		// byte is at hpos 0.
		h := make([]byte, d.window)
		copy(h, d.hist)
		k := copy(h[len(d.hist):], b)
		d.hist = h
		d.hpos = 0
		b = b[k:]
	}
	k := copy(d.hist[d.hpos:], b)
	if k < len(b) {
		d.hpos = copy(d.hist, b[k:])
	} else {
		d.hpos += k
		if d.hpos == d.window {
			d.hpos = 0
		}
	}
}

// input is the flate.Reader handed to compress/flate for one message: the
// bytes of src, then inflateTail. It counts what compress/flate consumes,
// so that the end of the DEFLATE stream can be checked against the end of
// the message.
type input struct {
	src    io.Reader
	buf    [4096]byte
	r, w   int   // buf[r:w] is read from src, not yet consumed
	srcEOF bool  // src returned io.EOF
	srcErr error // src returned another error
	srcN   int64 // bytes read from src
	tail   int   // bytes of inflateTail consumed
}

func (in *input) reset(src io.Reader) {
	in.src = src
	in.r, in.w = 0, 0
	in.srcEOF = src == nil
	in.srcErr = nil
	in.srcN = 0
	in.tail = 0
}

// fill reads more of src into buf, which must be empty. It returns false
// at the end of src or on an error (recorded in srcErr). An src with no
// bytes at all is taken as an empty message: the tail then starts at its
// final block, skipping the 00 00 ff ff that would complete no block.
func (in *input) fill() bool {
	in.r, in.w = 0, 0
	for range 100 {
		if in.srcErr != nil {
			return false
		}
		if in.srcEOF {
			if in.srcN == 0 && in.tail == 0 {
				in.tail = len(syncTail)
			}
			return false
		}
		n, err := in.src.Read(in.buf[:])
		in.w = n
		in.srcN += int64(n)
		if err == io.EOF {
			in.srcEOF = true
		} else if err != nil {
			in.srcErr = err
		}
		if n > 0 {
			return true
		}
	}
	in.srcErr = io.ErrNoProgress
	return false
}

func (in *input) ReadByte() (byte, error) {
	if in.r < in.w || in.fill() {
		c := in.buf[in.r]
		in.r++
		return c, nil
	}
	if in.srcErr != nil {
		return 0, in.srcErr
	}
	if in.tail < len(inflateTail) {
		c := inflateTail[in.tail]
		in.tail++
		return c, nil
	}
	return 0, io.EOF
}

// Read serves stored blocks (compress/flate reads their bytes with
// io.ReadFull).
func (in *input) Read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	if in.r < in.w || in.fill() {
		n := copy(p, in.buf[in.r:in.w])
		in.r += n
		return n, nil
	}
	if in.srcErr != nil {
		return 0, in.srcErr
	}
	if in.tail < len(inflateTail) {
		n := copy(p, inflateTail[in.tail:])
		in.tail += n
		return n, nil
	}
	return 0, io.EOF
}

// checkEnd is called when compress/flate has read a final block. The
// message is well formed if that block is the one appended by the Decoder
// and nothing is left, or if the final block was the sender's own (RFC 7692
// section 7.2.3.4) and at most a single 0x00 byte of src follows it. Any
// other data is corrupt.
func (in *input) checkEnd() error {
	if in.tail == len(inflateTail) || in.tail == len(syncTail) {
		// All of src then all of our tail formed the stream, or src ended
		// with a final empty stored block without its 00 00 ff ff
		// (RFC 7692 section 7.2.1 step 3 removes it).
		return nil
	}
	if in.tail > 0 {
		return fmt.Errorf("%w: final block ends inside the appended tail", ErrCorrupt)
	}
	// The sender's final block ended inside src. Look at what follows.
	var rest [2]byte
	n := 0
	for n < len(rest) {
		if in.r == in.w && !in.fill() {
			break
		}
		k := copy(rest[n:], in.buf[in.r:in.w])
		in.r += k
		n += k
	}
	switch {
	case in.srcErr != nil:
		return in.srcErr
	case n == 0, n == 1 && rest[0] == 0:
		return nil
	}
	return fmt.Errorf("%w: data after the final block", ErrCorrupt)
}
