// This file owns serving one WebSocket route with a ServerConfig:
// authenticate the request, check the rooms, Upgrade, join the hub, and
// read messages into the handler until the connection ends.

package websocket

import (
	"errors"
	"net/http"

	"github.com/rfc6455/websocket/handshake"
)

// ServeWSWithConfig serves one WebSocket request: it checks the opening
// handshake and the origin, authenticates the token, validates and
// authorizes the requested rooms (?room=a&room=b; DefaultRoom when none)
// and checks the hub's limits, all before upgrading, then upgrades, joins
// the rooms and hands the connection to a reader goroutine of its own,
// which reads messages until the connection ends, handing each to
// cfg.OnMessage (or broadcasting it to the first room), then removes it
// from the hub. ServeWSWithConfig returns once the connection has joined:
// the reader then costs a small fresh goroutine stack rather than the
// net/http handler's deep one (about 11 KiB less per idle connection), and
// it is the only goroutine kept per connection.
//
// Refusals, each before any 101: the handshake's own (400, 403 for the
// origin, 405, 421 for a Host outside AllowedHosts, 426); 401 with
// WWW-Authenticate for a missing or bad token (or a token in the query
// string when not allowed, or tokens in two places); 400 for invalid or
// too many room names, or a token in Sec-WebSocket-Protocol without a
// subprotocol the server speaks; 403 when RoomAuth refuses a room; 429
// when a room is full; 503 when the hub is full or stopped; 500 when cfg
// is invalid (logged).
func ServeWSWithConfig(w http.ResponseWriter, r *http.Request, cfg ServerConfig) {
	rc, err := srvResolve(cfg)
	if err != nil {
		if cfg.Logger != nil {
			cfg.Logger.Error("websocket server: misconfigured", "err", err)
		}
		http.Error(w, "websocket server misconfigured", http.StatusInternalServerError)
		return
	}
	rc.serve(w, r)
}

func (rc *srvResolved) serve(w http.ResponseWriter, r *http.Request) {
	hub := rc.cfg.Hub
	if hub.stopFlag.Load() {
		http.Error(w, "Service Unavailable", http.StatusServiceUnavailable)
		return
	}
	// The handshake and origin checks first: a plain HTTP request gets
	// 426, not 401, and a foreign page learns nothing about tokens.
	res, err := rc.hs.Server(r)
	if err != nil {
		switch {
		case errors.Is(err, handshake.ErrBadKey), errors.Is(err, handshake.ErrMissingKey):
			hub.invalidKeys.Add(1)
		case errors.Is(err, handshake.ErrOriginNotAllowed):
			hub.secRejections.Add(1)
		}
		rc.logDebug(r, "handshake refused", err)
		writeReject(w, err)
		return
	}

	ar, err := authFromRequest(r, rc.cfg.AllowQueryToken)
	var user *UserInfo
	if err == nil {
		switch {
		case ar.source != authNone && rc.cfg.TokenAuth == nil:
			err = authInvalid("no authenticator configured")
		case ar.source != authNone:
			var claims map[string]any
			if claims, err = rc.cfg.TokenAuth.AuthenticateToken(ar.token); err == nil {
				user = ExtractUserInfo(claims)
			}
		case !rc.cfg.AllowUnauthenticated:
			err = ErrMissingToken
		}
	}
	if err != nil {
		hub.secRejections.Add(1)
		rc.logDebug(r, "authentication refused", err)
		authReject(w, err)
		return
	}
	if ar.source == authProtocol && !srvSpeaksOneOf(rc.cfg.Subprotocols, ar.protocols) {
		http.Error(w, "a token in Sec-WebSocket-Protocol must come with a subprotocol this server speaks", http.StatusBadRequest)
		return
	}

	q := r.URL.Query()
	if q.Has("room_password") {
		hub.secRejections.Add(1)
		http.Error(w, "room passwords go in the "+RoomPasswordHeader+" header", http.StatusForbidden)
		return
	}
	var rooms []string
	for _, room := range q["room"] {
		if !srvContains(rooms, room) {
			rooms = append(rooms, room)
		}
	}
	if len(rooms) == 0 && !rc.cfg.NoDefaultRoom {
		rooms = []string{rc.cfg.DefaultRoom}
	}
	if hub.maxRooms > 0 && len(rooms) > hub.maxRooms {
		http.Error(w, "too many rooms", http.StatusBadRequest)
		return
	}
	for _, room := range rooms {
		if err := rc.validate(room); err != nil {
			rc.logDebug(r, "room refused", err)
			http.Error(w, "invalid room name", http.StatusBadRequest)
			return
		}
	}
	if ra := rc.cfg.RoomAuth; ra != nil {
		pw := r.Header.Get(RoomPasswordHeader)
		for _, room := range rooms {
			if !srvAuthorizeRoom(ra, r, room, pw, user, ar.source == authQuery) {
				hub.secRejections.Add(1)
				rc.logDebug(r, "room access refused", nil)
				http.Error(w, "Forbidden", http.StatusForbidden)
				return
			}
		}
	}
	hub.mu.RLock()
	err = hub.checkJoinLocked(nil, rooms)
	hub.mu.RUnlock()
	if err != nil {
		srvRefuseJoin(w, err)
		rc.logDebug(r, "join refused", err)
		return
	}
	if user != nil {
		hub.successfulAuths.Add(1)
	}

	// The handshake was decided above, before authentication.
	c, err := upgradeAccepted(w, r, rc.upgrade, res)
	if err != nil {
		rc.logDebug(r, "upgrade failed", err)
		return
	}
	if err := hub.join(c, rooms, user, rc.pol); err != nil {
		// Filled up, or stopped, between the check and now.
		if errors.Is(err, ErrHubStopped) {
			_ = c.Close(CloseGoingAway, "shutting down")
		} else {
			_ = c.Close(CloseTryAgainLater, "hub or room full")
		}
		c.CloseNow()
		return
	}
	if c.overHTTP2() {
		rc.read(c, rooms, user) // the stream ends when this handler returns
		return
	}
	go rc.read(c, rooms, user)
}

// read is a joined connection's reader: it hands each message on until the
// connection ends, then leaves the hub.
func (rc *srvResolved) read(c *Conn, rooms []string, user *UserInfo) {
	hub := rc.cfg.Hub
	var err error
	defer func() {
		hub.RemoveConn(c)
		c.CloseNow()
		if h := rc.cfg.OnDisconnect; h != nil {
			h(c, user, hub, err)
		}
	}()
	room := ""
	if len(rooms) > 0 {
		room = rooms[0]
	}
	if h := rc.cfg.OnConnect; h != nil {
		h(c, user, hub)
	}
	for {
		var mt MessageType
		var data []byte
		mt, data, err = c.ReadMessage()
		if err != nil {
			return
		}
		hub.recordInbound(len(data))
		switch {
		case rc.cfg.OnHubMessage != nil:
			rc.cfg.OnHubMessage(hub, c, Message{Room: room, Opcode: mt, Data: data, User: user})
		case rc.cfg.OnMessage != nil:
			rc.cfg.OnMessage(c, Message{Room: room, Opcode: mt, Data: data, User: user})
		case room != "":
			hub.BroadcastRoom(room, mt, data)
		}
	}
}

// ServeRoomFanoutWS is ServeWSWithConfig with every message broadcast to
// the sender's first room, under its Plumego name. As in Plumego, a
// config with OnMessage set is a configuration error (500).
func ServeRoomFanoutWS(w http.ResponseWriter, r *http.Request, cfg ServerConfig) {
	if cfg.OnMessage != nil || cfg.OnHubMessage != nil {
		if cfg.Logger != nil {
			cfg.Logger.Error("websocket server: misconfigured", "err", "ServeRoomFanoutWS with OnMessage")
		}
		http.Error(w, "websocket server misconfigured", http.StatusInternalServerError)
		return
	}
	ServeWSWithConfig(w, r, cfg)
}

func srvRefuseJoin(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, ErrRoomFull):
		http.Error(w, "room full", http.StatusTooManyRequests)
	case errors.Is(err, ErrTooManyRooms):
		http.Error(w, "too many rooms", http.StatusBadRequest)
	default: // ErrHubFull, ErrHubStopped
		w.Header().Set("Retry-After", "5")
		http.Error(w, "Service Unavailable", http.StatusServiceUnavailable)
	}
}

func srvContains(list []string, s string) bool {
	for _, e := range list {
		if e == s {
			return true
		}
	}
	return false
}

func srvSpeaksOneOf(server, offered []string) bool {
	for _, p := range offered {
		if srvContains(server, p) {
			return true
		}
	}
	return false
}
