package interop

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"time"

	"github.com/rfc6455/websocket"
)

// ioTimeout bounds each read or write of one message (16 MiB under the race
// detector included) on our side.
const ioTimeout = 30 * time.Second

// echoEndpoint is a server endpoint that echoes every message back, for
// the peers that dial us (the browser page and ws-client.js).
type echoEndpoint struct {
	Name      string `json:"name"`      // case name prefix
	Path      string `json:"path"`      // URL path
	Sizes     []int  `json:"sizes"`     // message sizes the peer sends, text and binary each
	Deflate   bool   `json:"deflate"`   // permessage-deflate must be negotiated (else must not)
	Fragments int    `json:"fragments"` // > 1: the peer sends each message in this many fragments
	// PeerOptions are extra options for the Node client's WebSocket
	// (ws's perMessageDeflate settings); the browser ignores them.
	PeerOptions map[string]any `json:"peerOptions,omitempty"`

	cfg *websocket.Config
	// writePieces > 1 makes the server echo every message with
	// NextWriter in this many Write calls; otherwise messages of 64 KiB
	// and more go through NextWriter in 5 pieces, smaller ones through
	// WriteMessage.
	writePieces int
}

// echoCases returns the case names the endpoint's echo produces, with the
// given prefix ("server" or the peer's name).
func (e *echoEndpoint) echoCases(prefix string) []string {
	var names []string
	for _, typ := range []string{"text", "binary"} {
		for _, n := range e.Sizes {
			names = append(names, fmt.Sprintf("%s/%s/%s/%d", prefix, e.Name, typ, n))
		}
	}
	return names
}

// serverCases are the names the echo handler reports for e.
func (e *echoEndpoint) serverCases() []string {
	names := []string{"server/" + e.Name + "/negotiation"}
	names = append(names, e.echoCases("server")...)
	return append(names, "server/"+e.Name+"/close")
}

// serve upgrades r with e's config and echoes messages, checking each
// against the expected payload, until the peer closes with 1000 "done".
func (e *echoEndpoint) serve(res *results, w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Upgrade(w, r, e.cfg)
	if err != nil {
		res.fail("server/"+e.Name+"/negotiation", "upgrade: %v", err)
		return
	}
	defer c.CloseNow()
	if c.Compressed() != e.Deflate {
		res.fail("server/"+e.Name+"/negotiation", "Compressed() = %v, want %v (Sec-WebSocket-Extensions offered: %q)",
			c.Compressed(), e.Deflate, r.Header.Values("Sec-WebSocket-Extensions"))
	} else {
		res.pass("server/" + e.Name + "/negotiation")
	}
	for {
		_ = c.SetReadDeadline(time.Now().Add(ioTimeout))
		mt, p, err := c.ReadMessage()
		if err != nil {
			res.check("server/"+e.Name+"/close", wantClose(err, websocket.CloseNormalClosure, "done"))
			return
		}
		name := fmt.Sprintf("server/%s/%s/%d", e.Name, mt, len(p))
		detail := checkPayload(mt, p)
		if err := e.echo(c, mt, p); err != nil && detail == "" {
			detail = "echo: " + err.Error()
		}
		res.check(name, detail)
	}
}

// echo sends p back as one message.
func (e *echoEndpoint) echo(c *websocket.Conn, mt websocket.MessageType, p []byte) error {
	_ = c.SetWriteDeadline(time.Now().Add(ioTimeout))
	defer c.SetWriteDeadline(time.Time{})
	k := e.writePieces
	if k <= 1 {
		if len(p) < 64<<10 {
			return c.WriteMessage(mt, p)
		}
		k = 5
	}
	return writePieces(c, mt, p, k)
}

// writePieces sends p as one message through NextWriter, in k Write calls
// cut where payload.js's cuts would cut.
func writePieces(c *websocket.Conn, mt websocket.MessageType, p []byte, k int) error {
	w, err := c.NextWriter(mt)
	if err != nil {
		return err
	}
	prev := 0
	for _, cut := range append(cuts(len(p), k), len(p)) {
		if _, err := w.Write(p[prev:cut]); err != nil {
			w.Close()
			return err
		}
		prev = cut
	}
	return w.Close()
}

// wantClose checks that err is the *CloseError with code and reason, and
// says how it is not.
func wantClose(err error, code websocket.StatusCode, reason string) string {
	var ce *websocket.CloseError
	if !errors.As(err, &ce) {
		return fmt.Sprintf("read error %v, want a *CloseError %d %q", err, code, reason)
	}
	if ce.Code != code || ce.Reason != reason {
		return fmt.Sprintf("close %d %q, want %d %q", ce.Code, ce.Reason, code, reason)
	}
	return ""
}

// closeEndpoints serve the close and subprotocol cases shared by the
// browser and the Node client; their case names start with "server/".
type closeEndpoints struct {
	res          *results
	serverCode   websocket.StatusCode // the code our server closes with
	serverReason string
	peerCode     websocket.StatusCode // the code the peer closes with
	peerReason   string
}

// serverCases are the names the handlers report.
func (ce *closeEndpoints) serverCases() []string {
	return []string{"server/subprotocol", "server/subprotocol-none", "server/server-close", "server/client-close"}
}

func (ce *closeEndpoints) register(mux *http.ServeMux) {
	mux.HandleFunc("/ws/subprotocol", func(w http.ResponseWriter, r *http.Request) {
		ce.subprotocol(w, r, "server/subprotocol", []string{"chat.v1"}, "chat.v1")
	})
	// No match: the 101 response names no subprotocol, which RFC 6455
	// allows, but Chromium and ws fail such a connection when they offered
	// some ("Server sent no subprotocol"): the peer drops TCP.
	mux.HandleFunc("/ws/subprotocol-none", func(w http.ResponseWriter, r *http.Request) {
		ce.subprotocol(w, r, "server/subprotocol-none", []string{"chat.v2"}, "")
	})
	mux.HandleFunc("/ws/server-close", ce.serverClose)
	mux.HandleFunc("/ws/client-close", ce.clientClose)
}

// subprotocol checks the server's choice among the peer's offers
// (x-unknown, chat.v1) and waits for the peer's normal close, or, when
// none was chosen, for the peer to drop the connection.
func (ce *closeEndpoints) subprotocol(w http.ResponseWriter, r *http.Request, name string, supported []string, want string) {
	c, err := websocket.Upgrade(w, r, &websocket.Config{Subprotocols: supported})
	if err != nil {
		ce.res.fail(name, "upgrade: %v", err)
		return
	}
	defer c.CloseNow()
	if got := c.Subprotocol(); got != want {
		ce.res.fail(name, "Subprotocol() = %q, want %q (offered %q)", got, want, r.Header.Values("Sec-WebSocket-Protocol"))
		return
	}
	_ = c.SetReadDeadline(time.Now().Add(ioTimeout))
	mt, p, err := c.ReadMessage()
	if want != "" {
		ce.res.check(name, wantClose(err, websocket.CloseNormalClosure, "done"))
		return
	}
	var ne net.Error
	switch {
	case err == nil:
		ce.res.fail(name, "read a %s message of %d bytes, want the peer to drop the connection", mt, len(p))
	case errors.As(err, &ne) && ne.Timeout():
		ce.res.fail(name, "read timed out, want the peer to drop the connection")
	case websocket.CloseStatus(err) != -1 && !websocket.IsCloseError(err, websocket.CloseAbnormalClosure):
		// (a dropped connection reads as 1006, abnormal closure)
		ce.res.fail(name, "peer closed with %v, want it to drop the connection", err)
	default:
		ce.res.pass(name)
	}
}

// serverClose closes at once with serverCode and serverReason; Close must
// see the peer's answering close frame.
func (ce *closeEndpoints) serverClose(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Upgrade(w, r, nil)
	if err != nil {
		ce.res.fail("server/server-close", "upgrade: %v", err)
		return
	}
	defer c.CloseNow()
	if err := c.Close(ce.serverCode, ce.serverReason); err != nil {
		ce.res.fail("server/server-close", "Close(%d, %q) = %v, want nil (close handshake completed)", ce.serverCode, ce.serverReason, err)
		return
	}
	ce.res.pass("server/server-close")
}

// clientClose waits for the peer's close with peerCode and peerReason.
func (ce *closeEndpoints) clientClose(w http.ResponseWriter, r *http.Request) {
	c, err := websocket.Upgrade(w, r, nil)
	if err != nil {
		ce.res.fail("server/client-close", "upgrade: %v", err)
		return
	}
	defer c.CloseNow()
	_ = c.SetReadDeadline(time.Now().Add(ioTimeout))
	_, _, err = c.ReadMessage()
	ce.res.check("server/client-close", wantClose(err, ce.peerCode, ce.peerReason))
}
