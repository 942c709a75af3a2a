// Package deflate is the message codec of the permessage-deflate WebSocket
// extension (RFC 7692): it compresses and inflates whole messages, one
// direction of one connection per Encoder or Decoder. Negotiation of the
// extension parameters is done elsewhere (package handshake); this package
// takes their outcome: the window bits and whether each side keeps its LZ77
// context between messages ("context takeover").
//
// It uses compress/flate only and keeps no connection state beyond the
// Encoder and Decoder values; it never starts goroutines.
//
// # Wire format
//
// A compressed message is a DEFLATE stream ended by a sync flush (an empty
// stored block), with the final 00 00 ff ff removed (RFC 7692 section
// 7.2.1). Encoder writes exactly that; an empty message becomes the single
// byte 0x00. Decoder appends 00 00 ff ff and an empty final block
// (01 00 00 ff ff) before inflating, so that the end of the message is a
// clean io.EOF. It also accepts the sender's own final block followed by at
// most one 0x00 byte (RFC 7692 section 7.2.3.4); anything else after a final
// block, or a stream that still needs input at the end of the message, is
// ErrCorrupt.
//
// # Memory
//
// A compress/flate Writer costs about 0.8 to 1.2 MiB and an inflater
// (compress/flate's reader and an input buffer) about 45 KiB. Without context takeover both are borrowed from process-wide
// pools for the duration of one message only, so an idle connection pays
// nothing. With context takeover an Encoder keeps its Writer for its whole
// life, and a Decoder keeps the last 2^windowBits bytes of output (at most
// 32 KiB) as the preset dictionary of the next message; Release hands
// everything back when the connection ends. TestEncoderMemory and
// TestDecoderMemory measure these figures.
//
// compress/flate cannot bound its window below 32 KiB, so an Encoder whose
// window bits are below 15 writes Huffman-only DEFLATE (no back-references,
// valid for any window), and keeps no context.
//
// # Concurrency
//
// Encoder and Decoder values are not safe for concurrent use; different
// values may be used concurrently (the pools are safe).
//
// # Errors
//
// Match errors with errors.Is: ErrCorrupt for invalid compressed data,
// ErrContextLost when a context takeover stream was broken by an abandoned
// message, ErrNoMessage and ErrReleased for calls out of order. Errors of
// the reader or writer the caller supplies are returned unchanged.
package deflate
