// This file holds what the browser transport (js/wasm: dial_js.go,
// transport_js.go) shares with every platform: the error for what a
// browser does not allow, and the check WriteControl makes.

package websocket

import (
	"errors"
	"fmt"
)

// ErrNotSupportedInBrowser is returned under js/wasm, where Dial goes
// through the browser's own WebSocket object, for what that object does
// not allow: Dial options the browser cannot honour (Header, Jar,
// TLSConfig, NetDialContext, Proxy, Compression, PingInterval) and control
// frames (Ping, and WriteControl or WriteMessage with PingMessage or
// PongMessage). Match it with errors.Is; the error says which option.
var ErrNotSupportedInBrowser = errors.New("websocket: not supported by the browser's WebSocket")

// noControlFrames is a transport that cannot send pings or pongs of the
// application's choosing (the browser's WebSocket answers pings itself).
type noControlFrames interface{ noControlFrames() }

// controlAllowed reports ErrNotSupportedInBrowser for a ping or pong on a
// transport that cannot send them.
func (c *Conn) controlAllowed(mt MessageType) error {
	if _, ok := c.nc.(noControlFrames); ok && mt != CloseMessage {
		return errBrowserControl
	}
	return nil
}

var errBrowserControl = fmt.Errorf("%w: ping and pong frames (the browser answers the server's pings itself and sends none of the page's)", ErrNotSupportedInBrowser)
