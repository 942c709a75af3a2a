// Package echo holds the echo loops shared by the Autobahn|Testsuite
// testees (autobahn/server and autobahn/client). The fuzzer sends messages
// and expects each one back unchanged, text as text and binary as binary;
// everything else (pings, close frames, protocol errors) is the library's
// job, inside the read path.
package echo

import (
	"io"

	"github.com/rfc6455/websocket"
)

// Messages echoes each data message whole, with ReadMessage and
// WriteMessage, until a read or a write fails, and returns that error. When
// the peer closed, it is the *websocket.CloseError the library already
// answered; after a protocol error it matches websocket.ErrProtocol,
// ErrInvalidUTF8 or ErrMessageTooBig and the library already sent its close
// frame. Messages must be the connection's only reader and writer of data
// messages.
func Messages(c *websocket.Conn) error {
	for {
		mt, p, err := c.ReadMessage()
		if err != nil {
			return err
		}
		if err := c.WriteMessage(mt, p); err != nil {
			return err
		}
	}
}

// Stream echoes each data message as it arrives, copying NextReader into
// NextWriter, so the echo goes out in WriteBufferSize fragments before the
// incoming message has ended. When the incoming message turns out to be
// invalid part way (bad UTF-8, a protocol error) the library has failed the
// connection; the echo already begun is abandoned, never finished with a
// final fragment, and the error is returned. Otherwise as Messages.
func Stream(c *websocket.Conn) error {
	buf := make([]byte, 32<<10) // one copy buffer for all the messages
	for {
		mt, r, err := c.NextReader()
		if err != nil {
			return err
		}
		w, err := c.NextWriter(mt)
		if err != nil {
			return err
		}
		if _, err := io.CopyBuffer(w, r, buf); err != nil {
			return err
		}
		if err := w.Close(); err != nil {
			return err
		}
	}
}

// Loop is Stream when stream is true, else Messages.
func Loop(c *websocket.Conn, stream bool) error {
	if stream {
		return Stream(c)
	}
	return Messages(c)
}
