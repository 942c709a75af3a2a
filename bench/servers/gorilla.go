package servers

import (
	"net/http"
	"sync"

	"github.com/gorilla/websocket"
)

// newGorilla is gorilla/websocket as its examples write it: an Upgrader
// with the default 4 KiB buffers, the connection served inside the HTTP
// handler, ReadMessage / WriteMessage, and a PreparedMessage per broadcast.
func newGorilla(st *state) http.Handler {
	up := websocket.Upgrader{ReadBufferSize: 4096, WriteBufferSize: 4096, EnableCompression: deflateOn}
	type member struct {
		c  *websocket.Conn
		mu sync.Mutex // one writer at a time, as gorilla requires
	}
	reg := newRegistry[*member](st)

	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		c.SetReadLimit(MaxMessage)
		st.conns.Add(1)
		defer st.conns.Add(-1)
		switch endpointOf(r) {
		case epEcho:
			for {
				mt, p, err := c.ReadMessage()
				if err != nil {
					return
				}
				if err := c.WriteMessage(mt, p); err != nil {
					return
				}
			}
		case epMember:
			m := &member{c: c}
			reg.add(m)
			defer reg.remove(m)
			for {
				if _, _, err := c.ReadMessage(); err != nil {
					return
				}
			}
		case epControl:
			for {
				mt, p, err := c.ReadMessage()
				if err != nil {
					return
				}
				pm, err := websocket.NewPreparedMessage(mt, p)
				if err != nil {
					return
				}
				for _, m := range reg.members() {
					m.mu.Lock()
					_ = m.c.WritePreparedMessage(pm)
					m.mu.Unlock()
				}
			}
		}
	})
}
