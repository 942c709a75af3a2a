//go:build unix

// This file owns what syscall.RawConn gives Unix sockets: the buffer-free
// idle wait (a connection with nothing in flight waits for input holding
// no read buffer) and bounded writes that read no clock unless the socket
// is full (rawWrite), and UpgradeServer's wait for a request head holding
// no buffer (awaitReadable).

package websocket

import (
	"io"
	"net"
	"os"
	"syscall"
	"time"
)

// useIdleWait makes an idle connection wait for input holding no buffer.
func (c *Conn) useIdleWait() {
	if sc, ok := c.nc.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			c.rawc, c.rawFn, c.rawWriteFn, c.rawSock = rc, c.rawRead, c.rawWrite, true
		}
	}
}

// rawRead runs inside rawc.Read with the pooled buffer fill took: it
// reads what the socket has, or gives the buffer back and asks to wait
// (EAGAIN). Woken without a buffer, it returns at once so that fill takes
// one on its own, shallower, frame.
func (c *Conn) rawRead(fd uintptr) bool {
	if c.pooledBuf == nil {
		return true
	}
	for {
		n, err := syscall.Read(int(fd), c.rbuf[c.rw:])
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN:
			c.releaseBuf()
			return false
		case err != nil:
			c.rawErr = os.NewSyscallError("read", err)
		case n == 0:
			c.rawErr = io.EOF
		default:
			c.rw += n
			c.markRead()
		}
		return true
	}
}

// rawWrite runs inside rawc.Write (wmu held): it writes c.rwBuf,
// consuming it. Only when the socket is full (EAGAIN) does it arm the write
// deadline, now+wbound, for the wait that follows; a write that does not
// block reads no clock and sets no deadline.
func (c *Conn) rawWrite(fd uintptr) bool {
	for len(c.rwBuf) > 0 {
		n, err := syscall.Write(int(fd), c.rwBuf)
		switch {
		case err == syscall.EINTR:
			continue
		case err == syscall.EAGAIN || err == nil && n == 0:
			d := time.Now().Add(c.wbound)
			c.wdl, c.wdlBound = d.UnixNano(), 0
			_ = c.nc.SetWriteDeadline(d)
			return false
		case err != nil:
			c.rwErr = os.NewSyscallError("write", err)
			return true
		}
		c.rwBuf = c.rwBuf[n:]
	}
	return true
}

// awaitReadable waits until a socket has input (or its read deadline
// passes, or it fails), holding no buffer. Any other connection returns
// at once, wrappers of sockets included: one that buffers what it read
// (a PROXY protocol listener's, say) may hold the head already.
func awaitReadable(nc net.Conn) error {
	switch nc.(type) {
	case *net.TCPConn, *net.UnixConn:
	default:
		return nil
	}
	rc, err := nc.(syscall.Conn).SyscallConn()
	if err != nil {
		return nil
	}
	return rc.Read(peekReadable)
}

// peekReadable runs inside RawConn.Read: it reports whether fd has input
// (or an end or error, which the read that follows reports), asking to
// wait otherwise.
func peekReadable(fd uintptr) bool {
	var b [1]byte
	for {
		_, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK) // the socket is non-blocking
		switch err {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		}
		return true
	}
}
