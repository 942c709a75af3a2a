package servers

import (
	"net/http"

	"github.com/lxzan/gws"
)

// newGWS is lxzan/gws as its examples write it: an Upgrader with an event
// handler, `go socket.ReadLoop()` and the HTTP handler returns;
// ParallelEnabled off (the default); OnMessage writes the pooled message
// back; a broadcast uses a Broadcaster (frame encoded once, written by
// each connection's write queue).
func newGWS(st *state) http.Handler {
	opt := func() *gws.ServerOption {
		return &gws.ServerOption{ReadMaxPayloadSize: MaxMessage, WriteMaxPayloadSize: MaxMessage, PermessageDeflate: gwsDeflate()}
	}
	reg := newRegistry[*gws.Conn](st)
	ups := map[endpoint]*gws.Upgrader{
		epEcho:    gws.NewUpgrader(&gwsEcho{st: st}, opt()),
		epMember:  gws.NewUpgrader(&gwsMember{st: st, reg: reg}, opt()),
		epControl: gws.NewUpgrader(&gwsControl{st: st, reg: reg}, opt()),
	}
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		socket, err := ups[endpointOf(r)].Upgrade(w, r)
		if err != nil {
			return
		}
		go socket.ReadLoop()
	})
}

type gwsEcho struct {
	gws.BuiltinEventHandler
	st *state
}

func (h *gwsEcho) OnOpen(socket *gws.Conn)             { h.st.conns.Add(1) }
func (h *gwsEcho) OnClose(socket *gws.Conn, err error) { h.st.conns.Add(-1) }
func (h *gwsEcho) OnPing(socket *gws.Conn, payload []byte) {
	_ = socket.WritePong(payload)
}
func (h *gwsEcho) OnMessage(socket *gws.Conn, message *gws.Message) {
	defer message.Close()
	_ = socket.WriteMessage(message.Opcode, message.Bytes())
}

type gwsMember struct {
	gws.BuiltinEventHandler
	st  *state
	reg *registry[*gws.Conn]
}

func (h *gwsMember) OnOpen(socket *gws.Conn) {
	h.st.conns.Add(1)
	h.reg.add(socket)
}
func (h *gwsMember) OnClose(socket *gws.Conn, err error) {
	h.reg.remove(socket)
	h.st.conns.Add(-1)
}
func (h *gwsMember) OnPing(socket *gws.Conn, payload []byte) {
	_ = socket.WritePong(payload)
}
func (h *gwsMember) OnMessage(socket *gws.Conn, message *gws.Message) {
	message.Close()
}

type gwsControl struct {
	gws.BuiltinEventHandler
	st  *state
	reg *registry[*gws.Conn]
}

func (h *gwsControl) OnOpen(socket *gws.Conn)             { h.st.conns.Add(1) }
func (h *gwsControl) OnClose(socket *gws.Conn, err error) { h.st.conns.Add(-1) }
func (h *gwsControl) OnMessage(socket *gws.Conn, message *gws.Message) {
	defer message.Close()
	// Without compression the Broadcaster encodes the frame during the
	// first Broadcast call, so the pooled payload may be recycled after.
	b := gws.NewBroadcaster(message.Opcode, broadcastPayload(message.Bytes()))
	defer b.Close()
	for _, m := range h.reg.members() {
		_ = b.Broadcast(m)
	}
}
