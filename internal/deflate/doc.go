// Package deflate is the message codec of the permessage-deflate WebSocket
// extension (RFC 7692): it compresses and inflates whole messages, one
// direction of one connection per Encoder or Decoder. Negotiation of the
// extension parameters is done elsewhere (package handshake); this package
// takes their outcome: the window bits and whether each side keeps its LZ77
// context between messages ("context takeover").
//
// Compression is this package's own DEFLATE encoder (LZ77 with a window of
// exactly 2^windowBits bytes: greedy with one hash probe at level 1, hash
// chains and lazy matching at levels 2 to 9; fixed, dynamic and stored
// blocks), so that
// every negotiated window size gets real back-references and context
// takeover costs tens of KiB, not the megabyte of a compress/flate Writer.
// Inflation uses compress/flate's reader. The package keeps no connection
// state beyond the Encoder and Decoder values; it never starts goroutines.
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
// Held between messages, per Encoder or Decoder (TestEncoderMemory and
// TestDecoderMemory measure them; BenchmarkMemoryPerConn reports them):
//
//	                       without context takeover   with context takeover
//	Encoder, 15 bits       112 B (state pooled)       57,536 B (window, hash table)
//	  levels 2-9           112 B                     123,088 B (and hash chains)
//	Encoder, 12 bits       112 B                      16,576 B
//	Encoder, 10 bits       112 B                       7,616 B
//	Encoder, 8 bits        112 B                       5,568 B
//	Decoder, 15 bits        80 B (inflater pooled)    32,848 B (after 64 KiB; grows to it)
//	Decoder, 10 bits        80 B                       1,104 B
//
// While a message is in flight an Encoder also borrows a block scratch
// (about 140 KiB) and a Decoder an inflater (compress/flate's reader and
// an input buffer, about 45 KiB) from process-wide pools. Release hands
// everything back when the connection ends.
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
