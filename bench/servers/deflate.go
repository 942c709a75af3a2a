package servers

import (
	"github.com/coder/websocket"
	"github.com/lxzan/gws"
	ours "github.com/rfc6455/websocket"
)

// deflateOn makes every server accept permessage-deflate (RFC 7692) when
// a client offers it, each library configured as its documentation shows
// for context takeover where it has it: ours with
// CompressionOptions.ContextTakeover, coder with
// CompressionContextTakeover, gws with server and client context takeover;
// gorilla has no context takeover (EnableCompression); gobwas is not set
// up for compression (its wsflate extension is left out). Clients that do
// not offer the extension get uncompressed connections as before. Set by
// Main's -deflate flag.
var deflateOn bool

func oursCompression() *ours.CompressionOptions {
	if !deflateOn {
		return nil
	}
	return &ours.CompressionOptions{ContextTakeover: true}
}

func coderAcceptOptions() *websocket.AcceptOptions {
	if !deflateOn {
		return nil
	}
	return &websocket.AcceptOptions{CompressionMode: websocket.CompressionContextTakeover}
}

func gwsDeflate() gws.PermessageDeflate {
	return gws.PermessageDeflate{Enabled: deflateOn, ServerContextTakeover: true, ClientContextTakeover: true}
}

// broadcastPayload is what the gws server hands its Broadcaster. With
// compression the Broadcaster also appends the payload to each member's
// context takeover window later, from the member's write queue, so the
// pooled message buffer must not be recycled under it: it gets a copy.
func broadcastPayload(p []byte) []byte {
	if deflateOn {
		return append([]byte(nil), p...)
	}
	return p
}
