package deflate

import "errors"

// Sentinel errors returned by this package. Match them with errors.Is.
var (
	// ErrCorrupt reports a compressed message that is not a valid
	// permessage-deflate payload: invalid DEFLATE data, a stream that still
	// needs input after the 00 00 ff ff tail, or bytes after a final block
	// other than the single 0x00 of RFC 7692 section 7.2.3.4. Decoder.Read
	// returns an error wrapping ErrCorrupt; the detail (for example a
	// compress/flate CorruptInputError) is in the chain too.
	ErrCorrupt = errors.New("deflate: corrupt compressed data")

	// ErrContextLost is returned, from then on, by an Encoder or Decoder
	// with context takeover whose shared LZ77 window no longer matches the
	// peer's: a new message was begun with Reset before the previous one
	// was finished (Encoder: Close not called or failed; Decoder: Read did
	// not reach io.EOF), or writing to the destination failed. The
	// connection cannot compress or inflate further messages and should be
	// failed.
	ErrContextLost = errors.New("deflate: context takeover state lost")

	// ErrReleased is returned by an Encoder or Decoder used after Release.
	ErrReleased = errors.New("deflate: use after Release")

	// ErrNoMessage is returned by Encoder.Write, Encoder.Close and
	// Decoder.Read when no message was begun with Reset.
	ErrNoMessage = errors.New("deflate: no message begun with Reset")
)
