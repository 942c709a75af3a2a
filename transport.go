// This file owns the transport boundary: what Conn needs from the
// connection beneath it, and which optional capabilities it uses.
//
// Conn runs over a net.Conn: Read, Write, Close, SetReadDeadline,
// SetWriteDeadline and the addresses are all it requires. Beyond that it
// uses, when the transport offers them (detected once, in newConn):
//   - vectored writes (net.Buffers.WriteTo, writev on TCP and Unix sockets),
//     so large server payloads go out uncopied next to their header;
//   - a half close (CloseWrite), so a server's FIN goes out first;
//   - a buffer-free idle wait (syscall.RawConn on Unix sockets, see
//     transport_unix.go; on an HTTP/2 stream, a read into an empty buffer
//     that waits for input, see h2stream.go), so an idle connection holds
//     no read buffer.
// Elsewhere (Windows, js/wasm, in-memory pipes) Conn reads into a pooled
// buffer with plain blocking reads; behaviour is the same, only idle
// memory differs.

package websocket

import "net"

// useTransport detects the transport's optional capabilities.
func (c *Conn) useTransport() {
	switch c.nc.(type) {
	case *net.TCPConn, *net.UnixConn:
		c.writev = true
		c.useIdleWait()
	case emptyReadWaiter:
		c.rawc, c.rawFn = streamWait{c.nc}, c.streamRead
	}
}

// emptyReadWaiter is a transport whose Read into an empty buffer waits
// for input (an HTTP/2 stream, h2stream.go and h2client.go).
type emptyReadWaiter interface{ waitsOnEmptyRead() }

// halfCloser is a transport that can send its FIN while still reading.
type halfCloser interface{ CloseWrite() error }
