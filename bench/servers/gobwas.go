package servers

import (
	"net"
	"net/http"
	"sync"

	"github.com/gobwas/ws"
	"github.com/gobwas/ws/wsutil"
)

// newGobwas is gobwas/ws as its README writes it without netpoll:
// ws.UpgradeHTTP, a goroutine per connection reading with
// wsutil.ReadClientData straight from the net.Conn (which answers control
// frames itself) and writing with wsutil.WriteServerMessage; the HTTP
// handler returns. A broadcast compiles the frame once (ws.CompileFrame)
// and writes its bytes to each member under the member's write lock.
func newGobwas(st *state) http.Handler {
	type member struct {
		c  net.Conn
		mu sync.Mutex // the reader answers pings on the same conn
	}
	reg := newRegistry[*member](st)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, _, _, err := ws.UpgradeHTTP(r, w)
		if err != nil {
			return
		}
		ep := endpointOf(r)
		st.conns.Add(1)
		go func() {
			defer st.conns.Add(-1)
			defer conn.Close()
			switch ep {
			case epEcho:
				for {
					msg, op, err := wsutil.ReadClientData(conn)
					if err != nil {
						return
					}
					if err := wsutil.WriteServerMessage(conn, op, msg); err != nil {
						return
					}
				}
			case epMember:
				m := &member{c: conn}
				reg.add(m)
				defer reg.remove(m)
				rw := readWriter{conn, lockedWriter{&m.mu, conn}}
				for {
					if _, _, err := wsutil.ReadClientData(rw); err != nil {
						return
					}
				}
			case epControl:
				for {
					msg, op, err := wsutil.ReadClientData(conn)
					if err != nil {
						return
					}
					frame, err := ws.CompileFrame(ws.NewFrame(op, true, msg))
					if err != nil {
						return
					}
					for _, m := range reg.members() {
						m.mu.Lock()
						_, _ = m.c.Write(frame)
						m.mu.Unlock()
					}
				}
			}
		}()
	})
}

// lockedWriter serializes the reader's control-frame replies with the
// broadcaster's writes.
type lockedWriter struct {
	mu *sync.Mutex
	c  net.Conn
}

func (w lockedWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.c.Write(p)
}

type readWriter struct {
	net.Conn
	w lockedWriter
}

func (rw readWriter) Write(p []byte) (int, error) { return rw.w.Write(p) }
