// This file owns the bounds on writing: how long a write may wait for the
// frame lock (lockFrame) and for the transport (armWrite, and rawWrite on
// Unix sockets, which arms the bound only when the socket is full), the
// transport write calls themselves, and failing the connection when a
// bound passes (writeFailed).

package websocket

import (
	"errors"
	"net"
	"os"
	"time"
)

// controlBound bounds control frames, coalesced frames and the wait for
// the frame lock they need: WriteTimeout, or CloseTimeout when data writes
// are unbounded.
func (c *Conn) controlBound() time.Duration {
	if wt := c.writeTimeout(); wt > 0 {
		return wt
	}
	return c.o.closeTimeout
}

// lockFrame takes wmu, failing the connection if that takes longer than
// bound (<= 0: wait as long as it takes). A holder only ever blocks on the
// transport, so failing the connection (closing the transport) frees it.
func (c *Conn) lockFrame(bound time.Duration) {
	if c.wmu.TryLock() {
		return
	}
	if bound <= 0 {
		c.wmu.Lock()
		return
	}
	t := time.AfterFunc(bound, func() { c.abort(ErrWriteTimeout) })
	c.wmu.Lock()
	t.Stop()
}

// armWrite sets the transport's write deadline for a write about to start
// (wmu held): now+c.wbound, unless SetWriteDeadline set one, which then
// replaces it for data frames (for control frames the earlier of the two
// applies). A bound-based deadline is moved only when it changes by more
// than an eighth of the bound, so back-to-back writes do not reset it
// every time.
func (c *Conn) armWrite() {
	bound := c.wbound
	u := c.userWDL.Load()
	if u != 0 && u == c.wdl && !c.wctl && !c.userWDLSet.Load() {
		// A data frame under the user's deadline, which is on the
		// socket already (as a Hub's writers keep it): no clock needed.
		return
	}
	if u == 0 && bound > 0 && c.wdlBound == bound && !c.userWDLSet.Load() {
		// Armed from this bound: keep it while it is still at least
		// 7/8 of the bound away (the monotonic clock is the cheap one).
		if left := c.wdlMono - monoNow(); left >= int64(bound-bound/8) && left <= int64(bound) {
			return
		}
	}
	c.userWDLSet.Store(false)
	var d time.Time
	armedBound := bound
	if bound > 0 {
		d = time.Now().Add(bound)
	}
	if u != 0 {
		if ut := time.Unix(0, u); !c.wctl || d.IsZero() || ut.Before(d) {
			d, armedBound = ut, 0
		}
	}
	var dn int64
	if !d.IsZero() {
		dn = d.UnixNano()
	}
	c.wdlBound = armedBound
	if armedBound > 0 {
		c.wdlMono = monoNow() + int64(armedBound)
	}
	if dn == c.wdl {
		return
	}
	c.wdl = dn
	_ = c.nc.SetWriteDeadline(d)
}

// ncWrite writes b to the transport under the write bound (wmu held).
// On a Unix socket with no deadline of the user's, the bound is armed only
// if the write has to wait (rawWrite), and cleared after.
func (c *Conn) ncWrite(b []byte) error {
	if c.rawWriteFn != nil && c.wbound > 0 && c.userWDL.Load() == 0 && !c.userWDLSet.Load() {
		return c.rawWriteBounded(b)
	}
	c.armWrite()
	_, err := c.nc.Write(b)
	return err
}

// rawWriteBounded writes b through rawWrite (wmu held).
func (c *Conn) rawWriteBounded(b []byte) error {
	if c.wdl != 0 {
		// A deadline armed earlier is still on the socket: clear it, or
		// it would fail this write once it passed.
		c.wdl, c.wdlBound = 0, 0
		_ = c.nc.SetWriteDeadline(time.Time{})
	}
	c.rwBuf, c.rwErr = b, nil
	err := c.rawc.Write(c.rawWriteFn)
	if err == nil {
		err = c.rwErr
	}
	c.rwBuf = nil
	if c.wdl != 0 { // rawWrite had to wait: clear the deadline it armed
		c.wdl = 0
		_ = c.nc.SetWriteDeadline(time.Time{})
	}
	return err
}

// ncWritev writes bufs with one vectored write where the transport has
// it, under the write bound (wmu held).
func (c *Conn) ncWritev(bufs net.Buffers) error {
	c.armWrite()
	ws := c.writeScratch()
	ws.bufs = bufs
	_, err := ws.bufs.WriteTo(c.nc)
	ws.bufs = nil
	return err
}

// writeScratch returns the connection's scratch for large and batched
// writes, made on first use (wmu held).
func (c *Conn) writeScratch() *writeScratch {
	if c.scratch == nil {
		c.scratch = new(writeScratch)
	}
	return c.scratch
}

// writeFailed records a write error as the sticky one and returns it (wmu
// held); nil passes through. A write that passed its deadline fails the
// connection: the frame may be half written.
func (c *Conn) writeFailed(err error) error {
	if err == nil {
		return nil
	}
	switch {
	case c.isDone():
		err = c.closedErr()
	case errors.Is(err, os.ErrDeadlineExceeded):
		err = ErrWriteTimeout
		c.abort(err)
	case errors.Is(err, net.ErrClosed):
		err = ErrClosed
	}
	c.werr = err
	return err
}
