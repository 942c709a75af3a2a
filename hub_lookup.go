// This file answers membership questions about one connection (kept out
// of hub_rooms.go, which owns the membership itself).

package websocket

// InRoom reports whether c is a member of room. Safe for concurrent use;
// the answer may be stale by the time it is used if other goroutines
// join or leave meanwhile.
func (h *Hub) InRoom(room string, c *Conn) bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	m := h.members[c]
	if m == nil {
		return false
	}
	_, in := h.rooms[room][m]
	return in
}

// RoomsOf returns the rooms c is in, in the order it joined them (a new
// slice, the caller's), and whether c is a member at all (a member may be
// in no room: Register, or a server without a default room).
func (h *Hub) RoomsOf(c *Conn) ([]string, bool) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	m := h.members[c]
	if m == nil {
		return nil, false
	}
	return append([]string(nil), m.rooms...), true
}
