//go:build unix

// This file owns the buffer-free idle wait on Unix sockets: a connection
// with nothing in flight waits for input through syscall.RawConn holding no
// read buffer.

package websocket

import (
	"io"
	"os"
	"syscall"
)

// useIdleWait makes an idle connection wait for input holding no buffer.
func (c *Conn) useIdleWait() {
	if sc, ok := c.nc.(syscall.Conn); ok {
		if rc, err := sc.SyscallConn(); err == nil {
			c.rawc, c.rawFn = rc, c.rawRead
		}
	}
}

// rawRead runs inside rawc.Read: it reads what the socket has into a
// pooled buffer, or gives the buffer back and asks to wait (EAGAIN).
func (c *Conn) rawRead(fd uintptr) bool {
	if c.pooledBuf == nil {
		c.takeBuf(0)
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
