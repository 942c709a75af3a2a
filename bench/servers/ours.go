package servers

import (
	"net/http"

	websocket "github.com/rfc6455/websocket"
)

// oursBroadcast is how the ours server broadcasts: "hub" (a
// websocket.Hub: members registered; the control connection's messages
// are broadcast with BroadcastAllPreparedMessages, all those already read
// in one call, see oursBroadcastBatches), "hub-each" (the Hub, one
// BroadcastAll per message as it is read) or "loop" (NewPreparedMessage,
// then WritePreparedMessage to each member in turn from the control
// connection's goroutine). Set by Main's -broadcast flag.
var oursBroadcast = "hub"

// newOurs is this module's library, written as its documentation shows:
// websocket.Handler upgrades and runs the per-connection function; the echo
// is ReadMessage / WriteMessage; a broadcast goes through a websocket.Hub
// (or, with -broadcast loop, prepares the frame once with
// NewPreparedMessage and writes it to each member).
func newOurs(st *state) http.Handler {
	cfg, serve := oursParts(st)
	return websocket.Handler(cfg, func(c *websocket.Conn, r *http.Request) {
		serve(c, endpointOf(r))
	})
}

// oursUpgradeServer is the ours server with -serve upgradeserver: a
// websocket.UpgradeServer takes the listener, serving the WebSocket
// endpoints itself and the others (stats, profiles) through fallback.
func oursUpgradeServer(st *state, fallback http.Handler) *websocket.UpgradeServer {
	cfg, serve := oursParts(st)
	return &websocket.UpgradeServer{
		Config:   cfg,
		Handler:  func(c *websocket.Conn, r *http.Request) { serve(c, endpointOf(r)) },
		Fallback: fallback,
	}
}

// oursUpgrades is the ours server with -serve upgrades: the http mux
// (newOurs's websocket.Handler on the WebSocket endpoints) is both the
// Upgrades handler and the Fallback of a websocket.UpgradeServer.
func oursUpgrades(mux http.Handler) *websocket.UpgradeServer {
	return &websocket.UpgradeServer{Upgrades: mux, Fallback: mux}
}

// oursParts is the ours server's configuration and per-connection
// function.
func oursParts(st *state) (*websocket.Config, func(*websocket.Conn, endpoint)) {
	cfg := websocket.DefaultConfig()
	cfg.ReadLimit = MaxMessage
	cfg.Compression = oursCompression()
	reg := newRegistry[*websocket.Conn](st)
	hcfg := websocket.DefaultHubConfig()
	hcfg.SendQueueSize = 256                // the default, spelled out: the sweep's setting
	hcfg.MaxConnections = websocket.NoLimit // the scale sweep goes past the default 10,000
	hub, err := websocket.NewHubWithConfig(hcfg)
	if err != nil {
		panic(err) // valid by construction
	}
	useHub := oursBroadcast == "hub" || oursBroadcast == "hub-each"
	hubEach := oursBroadcast == "hub-each"

	// One small function per endpoint, as a service would write them: the
	// goroutine of an idle connection parks in ReadMessage below the
	// caller's frames, and a big frame (one function holding every
	// endpoint's locals) would cost every idle connection a 4 KiB stack
	// instead of 2 KiB (README, "Idle memory").
	echo := func(c *websocket.Conn) {
		for {
			mt, p, err := c.ReadMessage()
			if err != nil {
				return
			}
			if err := c.WriteMessage(mt, p); err != nil {
				return
			}
		}
	}
	member := func(c *websocket.Conn) {
		if useHub {
			if err := hub.Register(c); err != nil {
				return
			}
			defer hub.RemoveConn(c)
			st.members.Add(1)
			defer st.members.Add(-1)
		} else {
			reg.add(c)
			defer reg.remove(c)
		}
		for {
			if _, _, err := c.ReadMessage(); err != nil {
				return
			}
		}
	}
	control := func(c *websocket.Conn) {
		if useHub && !hubEach {
			oursBroadcastBatches(c, hub)
			return
		}
		for {
			mt, p, err := c.ReadMessage()
			if err != nil {
				return
			}
			if useHub {
				hub.BroadcastAll(mt, p) // hub-each
				continue
			}
			pm, err := websocket.NewPreparedMessage(mt, p)
			if err != nil {
				return
			}
			for _, m := range reg.members() {
				_ = m.WritePreparedMessage(pm) // a failed member leaves by itself
			}
		}
	}
	serve := func(c *websocket.Conn, ep endpoint) {
		st.conns.Add(1)
		defer st.conns.Add(-1)
		switch ep {
		case epEcho:
			echo(c)
		case epMember:
			member(c)
		case epControl:
			control(c)
		}
	}

	return cfg, serve
}

// oursBroadcastBatches broadcasts the control connection's messages as the
// Hub's documentation suggests for a broadcaster whose input arrives in
// bursts: one goroutine reads and prepares them, and the broadcaster
// takes every message already read and broadcasts them with one
// BroadcastAllPreparedMessages call (each member's writer then writes
// them together).
func oursBroadcastBatches(c *websocket.Conn, hub *websocket.Hub) {
	in := make(chan *websocket.PreparedMessage, 64)
	go func() {
		defer close(in)
		for {
			mt, p, err := c.ReadMessage()
			if err != nil {
				return
			}
			pm, err := websocket.NewPreparedMessage(mt, p)
			if err != nil {
				return
			}
			in <- pm
		}
	}()
	batch := make([]*websocket.PreparedMessage, 0, cap(in))
	for pm := range in {
		batch = append(batch[:0], pm)
		for len(batch) < cap(batch) && len(in) > 0 {
			batch = append(batch, <-in)
		}
		hub.BroadcastAllPreparedMessages(batch...)
	}
}
