// This file owns compression on write (permessage-deflate): the
// connection's encoder and the per-message decision to compress.

package websocket

import (
	"github.com/rfc6455/websocket/frame"
	"github.com/rfc6455/websocket/internal/deflate"
)

// encoder returns the connection's compressor (msgMu held), or nil once
// the connection is closed and the compressor was given back.
func (c *Conn) encoder() *deflate.Encoder {
	if c.enc == nil && !c.encReleased {
		d := c.negotiated
		bits, noCtx := d.ServerMaxWindowBits, d.ServerNoContextTakeover
		if c.role == RoleClient {
			bits, noCtx = d.ClientMaxWindowBits, d.ClientNoContextTakeover
		}
		c.enc = deflate.NewEncoder(c.o.compression.level(), bits, !noCtx)
	}
	return c.enc
}

func (c *Conn) writeCompressed(op frame.Opcode, p []byte) error {
	bp, out, err := c.compress(p)
	defer putWriteBuf(bp)
	if err != nil {
		return err
	}
	return c.writeFrame(true, frame.Rsv1, op, out)
}

// compressing reports whether a message of n bytes is to be compressed.
func (c *Conn) compressing(n int) bool {
	return c.negotiated != nil && n >= c.o.compression.threshold() && !c.noCompress.Load()
}

// compress returns p compressed into a pooled buffer, which the caller
// gives back with putWriteBuf (msgMu held).
func (c *Conn) compress(p []byte) (*[]byte, []byte, error) {
	bp := getWriteBuf(len(p)/2 + 64)
	enc := c.encoder()
	if enc == nil {
		return bp, nil, ErrClosed
	}
	out, err := enc.AppendCompressed((*bp)[:0], p)
	*bp = out[:0]
	return bp, out, err
}

// EnableWriteCompression turns compression of outgoing messages on or off
// (it is on by default once negotiated). It takes effect from the next
// message; messages are then sent uncompressed, which RFC 7692 allows.
func (c *Conn) EnableWriteCompression(on bool) { c.noCompress.Store(!on) }
