// hub_rooms.go owns a Hub's membership and rooms: room names and their
// validation, joining (with the hub's limits), leaving, removing a member,
// and the lookups (User, RangeConns, the counts). The maps it changes are
// guarded by Hub.mu.

package websocket

import (
	"errors"
	"fmt"
	"log/slog"
)

// RoomNameValidator validates a room name before it is used; it returns
// nil to accept it. A Hub calls it from any goroutine, concurrently.
type RoomNameValidator func(room string) error

// ValidateRoomName is the default room name policy: 1 to MaxRoomNameLength
// bytes of ASCII letters, digits, '.', '_', ':' and '-'. It returns nil or
// an error matching ErrInvalidRoomName.
func ValidateRoomName(room string) error {
	if room == "" {
		return fmt.Errorf("%w: empty", ErrInvalidRoomName)
	}
	if len(room) > MaxRoomNameLength {
		return fmt.Errorf("%w: longer than %d bytes", ErrInvalidRoomName, MaxRoomNameLength)
	}
	for i := 0; i < len(room); i++ {
		c := room[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '.', c == '_', c == ':', c == '-':
		default:
			return fmt.Errorf("%w: byte %#02x at %d", ErrInvalidRoomName, c, i)
		}
	}
	return nil
}

// validRoom applies the hub's room name policy.
func (h *Hub) validRoom(room string) error {
	err := h.validate(room)
	if err != nil && h.customValid && !errors.Is(err, ErrInvalidRoomName) {
		err = fmt.Errorf("%w: %w", ErrInvalidRoomName, err)
	}
	return err
}

// Register makes c a member without putting it in a room, so that it
// receives BroadcastAll and Send. Registering a member again does
// nothing. Errors: ErrNilConn, ErrHubStopped, ErrHubFull.
func (h *Hub) Register(c *Conn) error {
	return h.join(c, nil, nil, nil)
}

// TryJoin puts c in room, registering it first if needed. Joining a room
// it is already in does nothing. Errors: ErrNilConn, ErrHubStopped, and
// errors matching ErrInvalidRoomName, ErrHubFull, ErrRoomFull or
// ErrTooManyRooms; on error nothing changed.
func (h *Hub) TryJoin(room string, c *Conn) error {
	return h.join(c, []string{room}, nil, nil)
}

// Join is TryJoin.
func (h *Hub) Join(room string, c *Conn) error { return h.TryJoin(room, c) }

// CanJoin reports whether a new member could join room now: nil, or the
// error TryJoin would return. The answer may be stale by the time you act
// on it.
func (h *Hub) CanJoin(room string) error {
	if err := h.validRoom(room); err != nil {
		return err
	}
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.checkJoinLocked(nil, []string{room})
}

// checkJoinLocked checks the limits for m (nil: a new member) joining
// rooms (already validated, distinct, not yet joined by m). h.mu held.
func (h *Hub) checkJoinLocked(m *hubMember, rooms []string) error {
	if h.stopped {
		return ErrHubStopped
	}
	have := 0
	if m == nil {
		if h.maxConns > 0 && len(h.members) >= h.maxConns {
			return fmt.Errorf("%w: %d members", ErrHubFull, len(h.members))
		}
	} else {
		have = len(m.rooms)
	}
	if h.maxRooms > 0 && have+len(rooms) > h.maxRooms {
		return fmt.Errorf("%w: limit %d", ErrTooManyRooms, h.maxRooms)
	}
	if h.maxRegs > 0 && h.registrations+len(rooms) > h.maxRegs {
		return fmt.Errorf("%w: %d room registrations", ErrHubFull, h.registrations)
	}
	if h.maxRoomConns > 0 {
		for _, r := range rooms {
			if n := len(h.rooms[r]); n >= h.maxRoomConns {
				return fmt.Errorf("%w: %q has %d members", ErrRoomFull, r, n)
			}
		}
	}
	return nil
}

// join registers c (with user and pol when new; nil pol is the hub's) and
// puts it in rooms, all or nothing.
func (h *Hub) join(c *Conn, rooms []string, user *UserInfo, pol *hubPolicy) error {
	if c == nil {
		h.rejected.Add(1)
		return ErrNilConn
	}
	for _, r := range rooms {
		if err := h.validRoom(r); err != nil {
			h.rejected.Add(1)
			return err
		}
	}
	if pol == nil {
		pol = h.pol
	}
	h.mu.Lock()
	m := h.members[c]
	// Only the rooms m is not in yet, without duplicates.
	var fresh []string
	for i, r := range rooms {
		dup := false
		for _, s := range rooms[:i] {
			dup = dup || s == r
		}
		if m != nil {
			for _, s := range m.rooms {
				dup = dup || s == r
			}
		}
		if !dup {
			fresh = append(fresh, r)
		}
	}
	if m != nil && len(fresh) == 0 {
		h.mu.Unlock()
		return nil
	}
	if err := h.checkJoinLocked(m, fresh); err != nil {
		h.mu.Unlock()
		h.rejected.Add(1)
		h.log(slog.LevelDebug, "websocket hub: join refused", "rooms", rooms, "err", err)
		return err
	}
	if m == nil {
		m = &hubMember{h: h, c: c, pol: pol, user: user}
		h.members[c] = m
	}
	for _, r := range fresh {
		set := h.rooms[r]
		if set == nil {
			set = make(map[*hubMember]struct{})
			h.rooms[r] = set
		}
		set[m] = struct{}{}
		m.rooms = append(m.rooms, r)
	}
	h.registrations += len(fresh)
	h.mu.Unlock()
	h.accepted.Add(1)
	return nil
}

// Leave takes c out of room. The connection stays a member (BroadcastAll
// and Send still reach it) until RemoveConn.
func (h *Hub) Leave(room string, c *Conn) {
	h.mu.Lock()
	defer h.mu.Unlock()
	m := h.members[c]
	if m == nil {
		return
	}
	for i, r := range m.rooms {
		if r == room {
			m.rooms = append(m.rooms[:i], m.rooms[i+1:]...)
			h.leaveLocked(m, room)
			return
		}
	}
}

// leaveLocked removes m from room's set (m.rooms already updated).
func (h *Hub) leaveLocked(m *hubMember, room string) {
	set := h.rooms[room]
	delete(set, m)
	if len(set) == 0 {
		delete(h.rooms, room)
	}
	h.registrations--
}

// RemoveConn ends c's membership: it leaves every room, the messages still
// queued for it are discarded (counted in HubMetrics.MessagesDropped), and
// a message being written is finished. The connection itself is not
// closed. Call it when you stop reading c. Removing a non-member does
// nothing.
func (h *Hub) RemoveConn(c *Conn) {
	h.mu.RLock()
	m := h.members[c]
	h.mu.RUnlock()
	if m == nil {
		return
	}
	m.shut()
	h.unlink(m)
}

// unlink removes m from the maps, if it is still there.
func (h *Hub) unlink(m *hubMember) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.members[m.c] != m {
		return
	}
	delete(h.members, m.c)
	for _, r := range m.rooms {
		h.leaveLocked(m, r)
	}
	m.rooms = nil
}

// User returns the UserInfo that ServeWSWithConfig recorded for member c
// (nil for an unauthenticated connection), and whether c is a member.
func (h *Hub) User(c *Conn) (*UserInfo, bool) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	m := h.members[c]
	if m == nil {
		return nil, false
	}
	return m.user, true
}

// RangeConns calls fn for each member of room, outside the hub's locks (fn
// may call the hub), until fn returns false. Members that join or leave
// meanwhile may or may not be visited.
func (h *Hub) RangeConns(room string, fn func(*Conn) bool) {
	snap := h.snapshot(room, false)
	defer h.putSnapshot(snap)
	for _, m := range *snap {
		if !fn(m.c) {
			return
		}
	}
}

// snapshot copies the members of room (all members when all) into a
// pooled slice; putSnapshot returns it.
func (h *Hub) snapshot(room string, all bool) *[]*hubMember {
	sp := h.getMemberSlice()
	s := *sp
	h.mu.RLock()
	if all {
		for _, m := range h.members {
			s = append(s, m)
		}
	} else {
		for m := range h.rooms[room] {
			s = append(s, m)
		}
	}
	h.mu.RUnlock()
	*sp = s
	return sp
}

// getMemberSlice returns an empty pooled slice of members; putSnapshot
// returns it.
func (h *Hub) getMemberSlice() *[]*hubMember {
	sp, _ := h.snapPool.Get().(*[]*hubMember)
	if sp == nil {
		sp = new([]*hubMember)
	}
	*sp = (*sp)[:0]
	return sp
}

func (h *Hub) putSnapshot(sp *[]*hubMember) {
	clear(*sp)
	if cap(*sp) <= 1<<16 {
		*sp = (*sp)[:0]
		h.snapPool.Put(sp)
	}
}

// GetRoomCount returns the number of members in room.
func (h *Hub) GetRoomCount(room string) int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.rooms[room])
}

// GetRooms returns the names of the rooms that have members, in no
// particular order. The slice is the caller's.
func (h *Hub) GetRooms() []string {
	h.mu.RLock()
	defer h.mu.RUnlock()
	out := make([]string, 0, len(h.rooms))
	for r := range h.rooms {
		out = append(out, r)
	}
	return out
}

// GetRoomRegistrationCount returns the sum over members of the rooms each
// is in.
func (h *Hub) GetRoomRegistrationCount() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.registrations
}

// GetActiveConnectionCount returns the number of members.
func (h *Hub) GetActiveConnectionCount() int {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return len(h.members)
}
