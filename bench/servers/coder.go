package servers

import (
	"context"
	"net/http"

	"github.com/coder/websocket"
)

// newCoder is coder/websocket as its examples write it: Accept, the
// connection served inside the HTTP handler, Read / Write with a context.
// coder has no prepared messages: a broadcast writes to each member (Write
// is safe for concurrent use).
func newCoder(st *state) http.Handler {
	reg := newRegistry[*websocket.Conn](st)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := websocket.Accept(w, r, coderAcceptOptions())
		if err != nil {
			return
		}
		defer c.CloseNow()
		c.SetReadLimit(MaxMessage)
		st.conns.Add(1)
		defer st.conns.Add(-1)
		ctx := context.Background()
		switch endpointOf(r) {
		case epEcho:
			for {
				mt, p, err := c.Read(ctx)
				if err != nil {
					return
				}
				if err := c.Write(ctx, mt, p); err != nil {
					return
				}
			}
		case epMember:
			reg.add(c)
			defer reg.remove(c)
			for {
				if _, _, err := c.Read(ctx); err != nil {
					return
				}
			}
		case epControl:
			for {
				mt, p, err := c.Read(ctx)
				if err != nil {
					return
				}
				for _, m := range reg.members() {
					_ = m.Write(ctx, mt, p)
				}
			}
		}
	})
}
