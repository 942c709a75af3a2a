// This file owns compression on write (permessage-deflate): the
// connection's encoder and the per-message decision to compress.

package websocket

import (
	"compress/flate"

	"github.com/rfc6455/websocket/frame"
	"github.com/rfc6455/websocket/internal/deflate"
)

// encoder returns the connection's compressor (msgMu held), or nil once
// the connection is closed and the compressor was given back.
func (c *Conn) encoder() *deflate.Encoder {
	if lv := c.compLevel.Load(); lv != 0 && c.enc != nil && c.enc.Level() != normLevel(int(lv-compLevelSet)) {
		// SetCompressionLevel changed the level: a fresh encoder. With
		// context takeover the next message simply refers to no earlier
		// one, which the peer's decompressor accepts.
		c.enc.Release()
		c.enc = nil
	}
	if c.enc == nil && !c.encReleased {
		d := c.negotiated
		bits, noCtx := d.ServerMaxWindowBits, d.ServerNoContextTakeover
		if c.role == RoleClient {
			bits, noCtx = d.ClientMaxWindowBits, d.ClientNoContextTakeover
		}
		level := c.o.compression.level()
		if lv := c.compLevel.Load(); lv != 0 {
			level = int(lv - compLevelSet)
		}
		c.enc = deflate.NewEncoder(level, bits, !noCtx)
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

// compLevelSet offsets the level stored in compLevel, so that zero means
// "not set" (levels go down to flate.HuffmanOnly, -2).
const compLevelSet = 16

// normLevel is the level an Encoder reports for a configured level.
func normLevel(level int) int {
	switch level {
	case flate.NoCompression:
		return flate.BestSpeed
	case flate.DefaultCompression:
		return 6
	}
	return level
}

// SetCompressionLevel sets the compress/flate level of the messages this
// end compresses from the next message on (gorilla/websocket's method;
// the range is compress/flate's, -2 to 9, with 0 meaning flate.BestSpeed
// as in CompressionOptions.Level rather than no compression). It returns
// an error matching ErrInvalidCompressionLevel for a level outside that
// range, and does nothing else when compression was not negotiated. Safe
// for concurrent use.
func (c *Conn) SetCompressionLevel(level int) error {
	if err := (&CompressionOptions{Level: level}).check(); err != nil {
		return err
	}
	c.compLevel.Store(int32(level + compLevelSet))
	return nil
}
