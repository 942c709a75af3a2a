package websocket

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"time"

	"github.com/rfc6455/websocket/frame"
)

// messageReader is the io.Reader NextReader returns: the connection
// itself under another method set, so reading a message costs no
// allocation and no field; it reads whatever message is current, which is
// why it is only valid until the next call to NextReader or ReadMessage.
type messageReader Conn

// Read reads the message's payload (inflated when compressed); io.EOF at
// its end. Text is checked as it arrives: invalid UTF-8 fails the
// connection at the first impossible byte.
func (r *messageReader) Read(p []byte) (int, error) {
	c := (*Conn)(r)
	if err := c.beginRead(); err != nil {
		return 0, err
	}
	defer c.endRead()
	for {
		n, err := c.readMessageData(p)
		if n == 0 && err == nil && len(p) > 0 {
			continue
		}
		return n, err
	}
}

// rawReader yields the raw payload of the current message across its
// frames: the decompressor's source (the connection itself, as for
// messageReader).
type rawReader Conn

func (r *rawReader) Read(p []byte) (int, error) { return (*Conn)(r).readRaw(p) }

// messageWriter streams one message as fragments of WriteBufferSize. Its
// mu serializes the calls on its handle with NextWriter closing it.
type messageWriter struct {
	c      *Conn
	mu     sync.Mutex
	open   bool         // mu: a message is under way (its writer holds the slot)
	public bool         // mu: opened by NextWriter (a later NextWriter closes it)
	op     frame.Opcode // opcode of the next frame
	rsv    uint8        // RSV bits of the next frame
	comp   bool
	bp     *[]byte
	err    error
}

// msgWriterHandle makes a stale writer (used after its Close) fail
// instead of writing into a later message.
type msgWriterHandle struct {
	w   *messageWriter
	gen uint64
}

// NextWriter returns a writer for one message of type mt, sent as
// fragments of WriteBufferSize bytes as data accumulates; Close sends the
// final fragment. Until that Close, other data-message writes on the
// connection wait (control frames do not). The writer is not for
// concurrent use. With compression negotiated the message is compressed
// (unless disabled with EnableWriteCompression).
//
// As in gorilla/websocket, a writer from an earlier NextWriter that is
// still open is closed first (its message ends there and the old writer
// returns ErrWriterClosed), so NextWriter never waits for it: stream from
// one goroutine at a time, and use WriteMessage, Write or WriteJSON, which
// wait for the message under way, from several. NextWriter returns at once
// with the connection's error once it is closed or a close frame was sent.
func (c *Conn) NextWriter(mt MessageType) (io.WriteCloser, error) {
	if w := c.writer.Load(); w != nil {
		w.closeOpen()
	}
	return c.nextWriter(nil, mt, true)
}

// nextWriter opens a message writer once the slot is free (or ctx, which
// may be nil, ends). public marks a NextWriter writer, which a later
// NextWriter closes; internal ones (WriteJSON) are only waited for.
func (c *Conn) nextWriter(ctx context.Context, mt MessageType, public bool) (io.WriteCloser, error) {
	op, err := dataOpcode(mt)
	if err != nil {
		return nil, err
	}
	w := c.msgWriter()
	if err := c.acquireSlot(ctx); err != nil {
		return nil, err
	}
	c.lockFrame(c.writeTimeout())
	err = c.writable()
	c.wmu.Unlock()
	if err != nil {
		c.releaseSlot()
		return nil, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.op, w.rsv, w.err = op, 0, nil
	w.comp = c.negotiated != nil && !c.noCompress.Load()
	if w.comp {
		enc := c.encoder()
		if enc == nil {
			c.releaseSlot()
			return nil, ErrClosed
		}
		w.rsv = frame.Rsv1
		enc.Reset(compressSink{w})
	}
	w.bp = getWriteBuf(c.o.writeBufSize)
	w.open, w.public = true, public
	return &msgWriterHandle{w: w, gen: c.writerGen.Add(1)}, nil
}

// msgWriter returns c's message writer state, made on first use: a
// connection that never streams a message holds none.
func (c *Conn) msgWriter() *messageWriter {
	if w := c.writer.Load(); w != nil {
		return w
	}
	w := &messageWriter{c: c}
	if c.writer.CompareAndSwap(nil, w) {
		return w
	}
	return c.writer.Load()
}

// valid reports whether h is the open writer (w.mu held).
func (h *msgWriterHandle) valid() bool { return h.w.open && h.gen == h.w.c.writerGen.Load() }

// closeOpen ends the open NextWriter message, if one is open.
func (w *messageWriter) closeOpen() {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.open && w.public {
		_ = w.finish()
	}
}

// Write adds p to the message.
func (h *msgWriterHandle) Write(p []byte) (int, error) {
	h.w.mu.Lock()
	defer h.w.mu.Unlock()
	if !h.valid() {
		return 0, ErrWriterClosed
	}
	return h.w.write(p)
}

// write adds p to the message (mu held).
func (w *messageWriter) write(p []byte) (int, error) {
	if w.err != nil {
		return 0, w.err
	}
	if w.comp {
		n, err := w.c.enc.Write(p)
		if err != nil && w.err == nil {
			w.err = err
		}
		return n, w.err
	}
	return w.append(p)
}

// ReadFrom copies r into the message until io.EOF, reading straight into
// the fragment buffer, so io.Copy needs no buffer of its own.
func (h *msgWriterHandle) ReadFrom(r io.Reader) (int64, error) {
	h.w.mu.Lock()
	defer h.w.mu.Unlock()
	if !h.valid() {
		return 0, ErrWriterClosed
	}
	w := h.w
	if w.err != nil {
		return 0, w.err
	}
	var total int64
	if w.comp {
		var scratch [2048]byte
		for {
			n, err := r.Read(scratch[:])
			if n > 0 {
				total += int64(n)
				if _, werr := w.write(scratch[:n]); werr != nil {
					return total, werr
				}
			}
			if err == io.EOF {
				return total, nil
			}
			if err != nil {
				return total, err
			}
		}
	}
	size := w.c.o.writeBufSize
	for {
		buf := *w.bp
		if cap(buf) < size {
			buf = append(buf[:cap(buf)], make([]byte, size-cap(buf))...)[:len(buf)]
		}
		n, err := r.Read(buf[len(buf):size])
		*w.bp = buf[:len(buf)+n]
		total += int64(n)
		if len(*w.bp) >= size {
			if ferr := w.flush(*w.bp, false); ferr != nil {
				return total, ferr
			}
			*w.bp = (*w.bp)[:0]
		}
		if err == io.EOF {
			return total, nil
		}
		if err != nil {
			return total, err
		}
	}
}

// append buffers p, sending full fragments.
func (w *messageWriter) append(p []byte) (int, error) {
	size := w.c.o.writeBufSize
	total := len(p)
	for len(p) > 0 {
		buf := *w.bp
		if len(buf) == 0 && len(p) >= size {
			// Large write: send it as a fragment without copying.
			if err := w.flush(p, false); err != nil {
				return total - len(p), err
			}
			return total, nil
		}
		n := min(size-len(buf), len(p))
		*w.bp = append(buf, p[:n]...)
		p = p[n:]
		if len(*w.bp) >= size {
			if err := w.flush(*w.bp, false); err != nil {
				return total - len(p), err
			}
			*w.bp = (*w.bp)[:0]
		}
	}
	return total, nil
}

func (w *messageWriter) flush(p []byte, fin bool) error {
	err := w.c.writeFrame(fin, w.rsv, w.op, p)
	w.op, w.rsv = frame.OpContinuation, 0
	if err != nil {
		w.err = err
	}
	return err
}

// Close sends the final fragment and frees the connection for the next
// message.
func (h *msgWriterHandle) Close() error {
	h.w.mu.Lock()
	defer h.w.mu.Unlock()
	if !h.valid() {
		return ErrWriterClosed
	}
	return h.w.finish()
}

// finish sends the final fragment and gives the slot back (mu held).
func (w *messageWriter) finish() error {
	c := w.c
	defer func() {
		w.open = false
		putWriteBuf(w.bp)
		w.bp = nil
		c.releaseSlot()
	}()
	if w.comp && w.err == nil {
		if err := c.enc.Close(); err != nil && w.err == nil {
			w.err = err
		}
	}
	if w.err != nil {
		return w.err
	}
	return w.flush(*w.bp, true)
}

// compressSink receives compressed bytes for a messageWriter.
type compressSink struct{ w *messageWriter }

func (s compressSink) Write(p []byte) (int, error) { return s.w.append(p) }

// ---- net.Conn adapter ----

// NetConn returns a net.Conn adapter over c (not to be confused with the
// method Conn.NetConn, which returns the raw transport beneath c): it
// reads the payloads of the incoming data messages as one byte stream and
// sends each Write as one message of type mt. Close performs the close
// handshake with code 1000. A normal close by the peer (1000, 1001, or an
// empty close frame) reads as io.EOF. The context bounds every Read and
// Write: when it ends, the connection is closed.
//
// The adapter also has CloseWrite (as *net.TCPConn does): it sends a close
// frame with code 1000 and keeps reading: what the peer sent before it
// answered still arrives, then Read returns io.EOF (the connection is
// closed if the answer does not come within CloseTimeout). Further Writes
// fail with ErrCloseSent.
//
// Deadlines are the connection's: SetReadDeadline is Conn.SetReadDeadline,
// and a read deadline that expires ends reading for good (a frame may be
// half read; every later Read returns the timeout error), unlike a
// *net.TCPConn, which a later deadline revives. SetWriteDeadline is
// Conn.SetWriteDeadline: an expired write fails the connection.
//
// The adapter's Read is for one goroutine at a time, like Conn's reads;
// Write and Close may be called concurrently with it and each other.
func NetConn(ctx context.Context, c *Conn, mt MessageType) net.Conn {
	return &netConn{ctx: ctx, c: c, mt: mt}
}

type netConn struct {
	ctx context.Context
	c   *Conn
	mt  MessageType
	r   io.Reader
}

func (nc *netConn) Read(p []byte) (int, error) {
	for {
		if nc.r == nil {
			_, r, err := nc.c.NextReader()
			if err != nil {
				if IsCloseError(err, CloseNormalClosure, CloseGoingAway, CloseNoStatusReceived) {
					return 0, io.EOF
				}
				if nc.ctx.Err() != nil {
					return 0, nc.ctx.Err()
				}
				return 0, err
			}
			nc.r = r
		}
		n, err := nc.r.Read(p)
		if err == io.EOF {
			nc.r = nil
			if n > 0 {
				return n, nil
			}
			continue
		}
		return n, err
	}
}

func (nc *netConn) Write(p []byte) (int, error) {
	if err := nc.c.Write(nc.ctx, nc.mt, p); err != nil {
		return 0, err
	}
	return len(p), nil
}

func (nc *netConn) Close() error {
	err := nc.c.Close(CloseNormalClosure, "")
	if errors.Is(err, ErrCloseSent) {
		return nil
	}
	return err
}

// CloseWrite sends a close frame (1000) and leaves reading open until the
// peer's answer; see NetConn.
func (nc *netConn) CloseWrite() error {
	return nc.c.WriteControl(CloseMessage, FormatCloseMessage(CloseNormalClosure, ""), time.Time{})
}

func (nc *netConn) LocalAddr() net.Addr                { return nc.c.LocalAddr() }
func (nc *netConn) RemoteAddr() net.Addr               { return nc.c.RemoteAddr() }
func (nc *netConn) SetDeadline(t time.Time) error      { return nc.c.nc.SetDeadline(t) }
func (nc *netConn) SetReadDeadline(t time.Time) error  { return nc.c.SetReadDeadline(t) }
func (nc *netConn) SetWriteDeadline(t time.Time) error { return nc.c.SetWriteDeadline(t) }
