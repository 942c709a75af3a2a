// Package websocket implements the WebSocket protocol (RFC 6455) with the
// permessage-deflate extension (RFC 7692), for servers and clients, using
// only the standard library and golang.org/x/net.
//
// # Overview
//
// A server upgrades an HTTP/1.1 request with Upgrade (or Accept, or the
// Handler helper); a client connects with Dial. Both give a *Conn, which
// reads and writes messages:
//
//	c, err := websocket.Upgrade(w, r, nil) // nil: DefaultConfig()
//	if err != nil {
//		return // the request was already answered with its HTTP status
//	}
//	defer c.Close(websocket.CloseNormalClosure, "")
//	for {
//		mt, msg, err := c.ReadMessage()
//		if err != nil {
//			return
//		}
//		c.WriteMessage(mt, msg)
//	}
//
// ReadMessage and WriteMessage handle whole messages. NextReader and
// NextWriter stream one message as an io.Reader / io.WriteCloser, so that a
// large message need not be held in memory. NetConn adapts a Conn to a
// net.Conn byte stream. PreparedMessage encodes a message once for writing
// to many connections. The frame and handshake sub-packages expose the
// codec and the opening handshake for those who build their own transport.
//
// # Concurrency
//
// All write methods may be called from any number of goroutines: data
// messages go out whole, one after another (a NextWriter holds the message
// slot until its Close), and control frames (pongs, pings, the close frame)
// may go out between the fragments of a long message. Reading is for one
// goroutine at a time; a read that starts while another is in progress
// returns ErrConcurrentRead and does no harm. Close may be called from any
// goroutine.
//
// Pings are answered, pongs are passed to the pong handler, and a close
// frame is answered and ends the connection, all inside the read path: an
// application that expects control frames must keep a goroutine reading.
//
// # Errors
//
// Once the peer has closed, reads return a *CloseError with the peer's code
// and reason (errors.As, or CloseStatus). When the peer breaks the protocol
// the connection is failed with the right close code and the read returns
// an error that matches ErrProtocol (1002), ErrInvalidUTF8 (1007) or
// ErrMessageTooBig (1009) with errors.Is, wraps the detailed cause (often a
// frame package error such as frame.ErrReservedOpcode), and carries the
// *CloseError that was sent. Read errors are sticky.
//
// # Origin considerations
//
// Browsers send cookies with WebSocket handshakes to any site, so a server
// that relies on cookies must refuse handshakes from other sites' pages.
// By default Upgrade accepts a request with an Origin header only when the
// origin is the same as the Host (requests without Origin, from non-browser
// clients, pass). Config.AllowedOrigins lists other origins (patterns like
// "https://*.example.com"); Config.CheckOrigin replaces the policy;
// Config.AllowAllOrigins turns it off. A refused origin gets 403.
//
// # Limits and memory
//
// Every message is bounded by the read limit (Options.ReadLimit, 32 MiB by
// default), checked against the frame's length field before anything is
// allocated, and against the inflated size while decompressing. An idle
// TCP connection holds no read or write buffer: it waits for input through
// syscall.RawConn and takes a pooled buffer only when bytes arrive.
//
// # Write coalescing
//
// While the reader already has more input buffered, small frames written
// in reply wait (at most 500 µs, at most 16 KiB) and go out together in one
// write, at the latest when the reader is about to block. Pipelined
// request/response traffic then costs one write system call per batch
// instead of one per message.
//
// # Compression
//
// Set Options.Compression to negotiate permessage-deflate. Messages at
// least CompressionOptions.Threshold long are compressed. Context takeover
// is off by default: a compress/flate encoder costs about 1 MiB, so without
// context takeover it is borrowed from a pool for one message at a time.
// Compression windows below 15 bits, which compress/flate cannot bound, are
// honoured with Huffman-only coding.
package websocket
