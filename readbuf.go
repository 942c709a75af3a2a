// This file owns input buffering for the read path: the pooled read
// buffer, taken only while bytes are in flight and given back when it
// holds nothing (where the transport can wait without one), and fill.

package websocket

import (
	"errors"
	"io"
	"sync"
)

var readBufPool sync.Pool

// takeBuf gives the connection a pooled read buffer of at least min bytes,
// keeping what is buffered.
func (c *Conn) takeBuf(min int) {
	size := max(c.o.readBufSize, min)
	var bp *[]byte
	if v := readBufPool.Get(); v != nil {
		bp = v.(*[]byte)
		if cap(*bp) < size {
			bp = nil
		}
	}
	if bp == nil {
		b := make([]byte, size)
		bp = &b
	}
	buf := (*bp)[:cap(*bp)]
	n := copy(buf, c.rbuf[c.rr:c.rw])
	c.rbuf, c.pooledBuf = buf, bp
	c.rr, c.rw = 0, n
}

// releaseBuf returns an empty read buffer to the pool. Only connections
// that can wait for input without a buffer (rawc) let theirs go.
func (c *Conn) releaseBuf() {
	if c.pooledBuf == nil || c.rr != c.rw || c.rawc == nil {
		return
	}
	if cap(*c.pooledBuf) <= 1<<20 {
		readBufPool.Put(c.pooledBuf)
	}
	c.pooledBuf, c.rbuf = nil, nil
	c.rr, c.rw = 0, 0
}

// fill reads until at least need bytes are buffered.
func (c *Conn) fill(need int) error {
	for c.rw-c.rr < need {
		if c.rr == c.rw {
			c.rr, c.rw = 0, 0
		}
		var n int
		var err error
		if c.pooledBuf == nil && c.rawc != nil {
			// Idle: wait for input holding no buffer. A socket's callback
			// reads into a buffer taken here and gives it back before the
			// wait; woken, it returns without one and the loop takes
			// another here. Taking it here, not in the callback, keeps the
			// deepest point of the wait shallow: an idle connection's
			// goroutine then keeps the smallest stack (2 KiB) whenever the
			// caller's own frames above ReadMessage stay small (see
			// internal/idlemem).
			if c.rawSock {
				c.takeBuf(0)
			}
			c.beforeBlock()
			c.rawErr = nil
			if err = c.rawc.Read(c.rawFn); err == nil {
				err = c.rawErr
			}
		} else {
			if c.pooledBuf == nil || need > len(c.rbuf) {
				c.takeBuf(need)
			} else if need > len(c.rbuf)-c.rr {
				c.rw = copy(c.rbuf, c.rbuf[c.rr:c.rw])
				c.rr = 0
			}
			c.beforeBlock()
			n, err = c.nc.Read(c.rbuf[c.rw:])
			c.rw += n
			if n > 0 {
				c.markRead()
			}
		}
		if err != nil {
			if c.rw-c.rr >= need {
				return nil
			}
			if errors.Is(err, io.EOF) && c.rw > c.rr {
				err = io.ErrUnexpectedEOF
			}
			return err
		}
	}
	return nil
}
