package websocket

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
)

// SendBehavior decides what a Hub does with a message for a member whose
// send queue is full. The values and names are those of Plumego's
// x/websocket.
type SendBehavior int

const (
	// SendBlock makes the sender wait up to the send timeout for room in
	// the member's queue; if none frees up, the message is dropped for that
	// member and counted in BroadcastResult.Dropped. All the full members of
	// one broadcast share a single deadline, so a broadcast waits at most
	// one send timeout whatever the number of slow members.
	SendBlock SendBehavior = iota
	// SendDrop drops the message for that member at once and counts it in
	// BroadcastResult.Dropped; the member stays connected and later
	// messages are delivered when its queue has room again.
	SendDrop
	// SendClose closes the member as a slow consumer: it is removed from
	// the hub, the messages still queued for it are discarded (and counted
	// in HubMetrics.MessagesDropped), and the connection is closed with
	// SlowConsumerCloseCode. The broadcast counts it in
	// BroadcastResult.Closed.
	SendClose
)

// String returns "block", "drop" or "close".
func (b SendBehavior) String() string {
	switch b {
	case SendBlock:
		return "block"
	case SendDrop:
		return "drop"
	case SendClose:
		return "close"
	}
	return fmt.Sprintf("SendBehavior(%d)", int(b))
}

// OpcodeText and OpcodeBinary are the message types under the names of
// Plumego's x/websocket (hub.BroadcastRoom(room, websocket.OpcodeText, p)).
const (
	OpcodeText   = TextMessage
	OpcodeBinary = BinaryMessage
)

// Hub defaults and limits. A zero field of HubConfig means the default;
// NoLimit turns a limit off.
const (
	// DefaultSendQueueSize is the capacity of a member's send queue, in
	// messages. Queued messages are shared (one PreparedMessage per
	// broadcast, not one copy per member), so a full queue costs 8 bytes a
	// slot plus whatever messages only that member still holds.
	DefaultSendQueueSize = 256
	// DefaultSendTimeout is how long SendBlock waits for room in a queue.
	DefaultSendTimeout = 200 * time.Millisecond
	// DefaultWriteTimeout bounds one frame write to a member; a member
	// that does not take a frame within it is dropped from the hub and its
	// connection closed.
	DefaultWriteTimeout = 10 * time.Second
	// DefaultMaxConnections is the default number of members of a hub.
	DefaultMaxConnections = 10_000
	// DefaultMaxRoomsPerConnection is the default number of rooms one
	// member may be in at the same time.
	DefaultMaxRoomsPerConnection = 32
	// MaxRoomNameLength is the longest room name ValidateRoomName accepts,
	// in bytes.
	MaxRoomNameLength = 128
	// NoLimit, as a HubConfig or WebSocketConfig limit, turns that limit
	// off.
	NoLimit = -1
	// SlowConsumerCloseCode is the close code a member gets when SendClose
	// closes it: 1008 (policy violation), with reason "slow consumer".
	SlowConsumerCloseCode = ClosePolicyViolation
)

// Hub errors. Match them with errors.Is.
var (
	// ErrInvalidConfig reports a HubConfig, WebSocketConfig or
	// ServerConfig value that is out of range; the error names the field.
	ErrInvalidConfig = errors.New("websocket: invalid configuration")
	// ErrHubStopped is returned by joins after Stop or Shutdown began.
	ErrHubStopped = errors.New("websocket: hub stopped")
	// ErrHubFull reports that the hub is at its MaxConnections (or
	// MaxRoomRegistrations) limit.
	ErrHubFull = errors.New("websocket: hub is full")
	// ErrRoomFull reports that a room is at its MaxRoomConnections limit.
	ErrRoomFull = errors.New("websocket: room is full")
	// ErrTooManyRooms reports that joining would put a member in more than
	// MaxRoomsPerConnection rooms.
	ErrTooManyRooms = errors.New("websocket: too many rooms for one connection")
	// ErrInvalidRoomName reports a room name the validator rejected. A
	// custom validator's error is wrapped so that it matches this too.
	ErrInvalidRoomName = errors.New("websocket: invalid room name")
	// ErrNilConn is returned when a nil *Conn is passed to the hub.
	ErrNilConn = errors.New("websocket: nil connection")
	// ErrNotMember is returned by Hub.Send for a connection that is not a
	// member of the hub (never joined, removed, or closed).
	ErrNotMember = errors.New("websocket: connection is not a hub member")
	// ErrSendQueueFull is returned by Hub.Send when the message was dropped
	// because the member's queue was full (SendDrop, or SendBlock after the
	// send timeout).
	ErrSendQueueFull = errors.New("websocket: send queue full, message dropped")
	// ErrSlowConsumer is returned by Hub.Send when the member was closed as
	// a slow consumer (SendClose).
	ErrSlowConsumer = errors.New("websocket: slow consumer closed")
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

// HubConfig configures a Hub. The zero value of a field means its default
// (see DefaultHubConfig); a negative value is an error, except NoLimit for
// the limits.
type HubConfig struct {
	// WorkerCount and JobQueueSize size the shared worker pool of
	// Plumego's hub. This hub has no shared pool: each member's queue is
	// written by one goroutine that exists only while that queue is
	// non-empty, which keeps every member's messages in order and keeps a
	// slow member from holding up a worker others need. The fields are
	// checked (negative is an error) and otherwise unused.
	//
	// Deprecated: kept so that Plumego configurations compile; they have
	// no effect.
	WorkerCount  int
	JobQueueSize int

	// SendQueueSize is the capacity of each member's send queue, in
	// messages (default DefaultSendQueueSize). The queue's memory is taken
	// as it fills and given back when it empties. The member's writer takes
	// up to 64 messages from the queue at a time, so at most
	// SendQueueSize + min(64, SendQueueSize) messages are held per member.
	SendQueueSize int
	// SendTimeout is how long SendBlock waits for room (default
	// DefaultSendTimeout).
	SendTimeout time.Duration
	// SendBehavior is what happens when a member's queue is full (default
	// SendBlock).
	SendBehavior SendBehavior
	// WriteTimeout bounds each frame written to a member (default
	// DefaultWriteTimeout). A write that times out removes the member and
	// closes its connection.
	WriteTimeout time.Duration

	// MaxConnections is the number of members the hub accepts (default
	// DefaultMaxConnections). A connection becomes a member on its first
	// join and stops being one on RemoveConn or when it is closed.
	MaxConnections int
	// MaxRoomConnections is the number of members one room accepts
	// (default: no limit of its own; MaxConnections bounds it).
	MaxRoomConnections int
	// MaxRoomsPerConnection is the number of rooms one member may be in
	// (default DefaultMaxRoomsPerConnection).
	MaxRoomsPerConnection int
	// MaxRoomRegistrations bounds the sum over members of the rooms each
	// is in, as in Plumego (default: no limit of its own).
	MaxRoomRegistrations int

	// RoomNameValidator replaces ValidateRoomName when non-nil. It then
	// owns the whole policy, length included; its errors are wrapped to
	// match ErrInvalidRoomName.
	RoomNameValidator RoomNameValidator

	// Logger receives hub events: slow consumers closed and write failures
	// (Warn), joins refused and members removed (Debug), shutdown (Info).
	// Nil means no logging.
	Logger *slog.Logger
}

// DefaultHubConfig returns the defaults spelled out: queue of
// DefaultSendQueueSize, SendBlock with DefaultSendTimeout,
// DefaultWriteTimeout, DefaultMaxConnections members,
// DefaultMaxRoomsPerConnection rooms each, no per-room or registration
// limit of their own, ValidateRoomName, no logger.
func DefaultHubConfig() HubConfig {
	return HubConfig{
		SendQueueSize:         DefaultSendQueueSize,
		SendTimeout:           DefaultSendTimeout,
		SendBehavior:          SendBlock,
		WriteTimeout:          DefaultWriteTimeout,
		MaxConnections:        DefaultMaxConnections,
		MaxRoomConnections:    NoLimit,
		MaxRoomsPerConnection: DefaultMaxRoomsPerConnection,
		MaxRoomRegistrations:  NoLimit,
	}
}

// hubPolicy is a member's send policy; members share one value.
type hubPolicy struct {
	queueCap int
	timeout  time.Duration
	behavior SendBehavior
}

// hubLimit resolves a limit field: 0 means def, NoLimit means none (0
// internally), other negatives are errors.
func hubLimit(name string, v, def int) (int, error) {
	switch {
	case v == 0:
		if def == NoLimit {
			return 0, nil
		}
		return def, nil
	case v == NoLimit:
		return 0, nil
	case v < 0:
		return 0, fmt.Errorf("%w: %s is %d (use NoLimit to turn it off)", ErrInvalidConfig, name, v)
	}
	return v, nil
}

func hubPolicyFrom(queue int, timeout time.Duration, b SendBehavior) (*hubPolicy, error) {
	if queue < 0 {
		return nil, fmt.Errorf("%w: SendQueueSize is %d", ErrInvalidConfig, queue)
	}
	if timeout < 0 {
		return nil, fmt.Errorf("%w: SendTimeout is %v", ErrInvalidConfig, timeout)
	}
	if b < SendBlock || b > SendClose {
		return nil, fmt.Errorf("%w: SendBehavior is %d", ErrInvalidConfig, int(b))
	}
	if queue == 0 {
		queue = DefaultSendQueueSize
	}
	if timeout == 0 {
		timeout = DefaultSendTimeout
	}
	return &hubPolicy{queueCap: queue, timeout: timeout, behavior: b}, nil
}

// Hub is a set of connections (members) grouped in named rooms, with
// broadcasts that never wait on a slow member longer than the send policy
// allows.
//
// Each member has a bounded send queue. A broadcast encodes its message
// once (a PreparedMessage: the frame is built, and compressed, once per
// distinct negotiated parameter set) and appends a pointer to it to every
// target's queue; what happens when a queue is full is the SendBehavior.
// A member's queue is written by one goroutine, started when the queue
// becomes non-empty and ending when it is empty again, so an idle member
// costs no goroutine and messages reach every member in the order they
// were queued. Messages broadcast one after another from one goroutine
// therefore arrive in that order everywhere; broadcasts made concurrently
// from several goroutines have no order between them.
//
// Memory stays bounded whatever the peers do: at most SendQueueSize
// messages wait per member, a write that blocks longer than WriteTimeout
// removes the member, and nothing is dropped silently: every message not
// written is counted, in the BroadcastResult of the call that gave it up
// and in HubMetrics.
//
// The hub does not read. Whoever reads a member's connection (the
// ServeWSWithConfig handler, or your own loop) must call RemoveConn when
// reading ends; members found closed are also removed lazily.
//
// All methods are safe for concurrent use. A Hub must be made with NewHub
// or NewHubWithConfig.
type Hub struct {
	pol          *hubPolicy
	writeTimeout time.Duration
	maxConns     int
	maxRoomConns int
	maxRooms     int
	maxRegs      int
	validate     RoomNameValidator
	customValid  bool
	logger       *slog.Logger

	mu            sync.RWMutex
	members       map[*Conn]*hubMember
	rooms         map[string]map[*hubMember]struct{}
	registrations int
	stopped       bool        // mu
	stopFlag      atomic.Bool // fast-path copy of stopped

	// wg counts the goroutines the hub starts: queue writers and closers.
	// Add is only called under a member's mutex while that member is open,
	// and Stop/Shutdown close every member before waiting, so every Add
	// happens before Wait.
	wg sync.WaitGroup

	snapPool sync.Pool // *[]*hubMember

	// closing holds the connections a slow-consumer closer is closing, so
	// that Shutdown can cut them off when its context ends.
	closingMu sync.Mutex
	closing   map[*Conn]struct{}

	accepted, rejected                          atomic.Uint64
	bAttempted, bEnqueued, bSkipped, bDropped   atomic.Uint64
	bClosed                                     atomic.Uint64
	msgsIn, bytesIn, msgsOut, bytesOut          atomic.Uint64
	msgsDropped, slowCloses, writeErrors        atomic.Uint64
	secRejections, invalidKeys, successfulAuths atomic.Uint64
	queued                                      atomic.Int64
}

// NewHub returns a Hub with DefaultHubConfig. The arguments size
// Plumego's worker pool, which this hub does not have (see
// HubConfig.WorkerCount); they are ignored.
func NewHub(workerCount, jobQueueSize int) *Hub {
	h, err := NewHubWithConfig(DefaultHubConfig())
	if err != nil {
		panic(err) // the defaults are valid
	}
	return h
}

// NewHubWithConfig returns a Hub configured by cfg, or an error matching
// ErrInvalidConfig that names the first field out of range. Zero fields
// take their defaults; nothing invalid is silently replaced.
func NewHubWithConfig(cfg HubConfig) (*Hub, error) {
	if cfg.WorkerCount < 0 {
		return nil, fmt.Errorf("%w: WorkerCount is %d", ErrInvalidConfig, cfg.WorkerCount)
	}
	if cfg.JobQueueSize < 0 {
		return nil, fmt.Errorf("%w: JobQueueSize is %d", ErrInvalidConfig, cfg.JobQueueSize)
	}
	pol, err := hubPolicyFrom(cfg.SendQueueSize, cfg.SendTimeout, cfg.SendBehavior)
	if err != nil {
		return nil, err
	}
	if cfg.WriteTimeout < 0 {
		return nil, fmt.Errorf("%w: WriteTimeout is %v", ErrInvalidConfig, cfg.WriteTimeout)
	}
	h := &Hub{
		pol:          pol,
		writeTimeout: cfg.WriteTimeout,
		validate:     cfg.RoomNameValidator,
		customValid:  cfg.RoomNameValidator != nil,
		logger:       cfg.Logger,
		members:      make(map[*Conn]*hubMember),
		rooms:        make(map[string]map[*hubMember]struct{}),
		closing:      make(map[*Conn]struct{}),
	}
	if h.writeTimeout == 0 {
		h.writeTimeout = DefaultWriteTimeout
	}
	if h.validate == nil {
		h.validate = ValidateRoomName
	}
	if h.maxConns, err = hubLimit("MaxConnections", cfg.MaxConnections, DefaultMaxConnections); err != nil {
		return nil, err
	}
	if h.maxRoomConns, err = hubLimit("MaxRoomConnections", cfg.MaxRoomConnections, NoLimit); err != nil {
		return nil, err
	}
	if h.maxRooms, err = hubLimit("MaxRoomsPerConnection", cfg.MaxRoomsPerConnection, DefaultMaxRoomsPerConnection); err != nil {
		return nil, err
	}
	if h.maxRegs, err = hubLimit("MaxRoomRegistrations", cfg.MaxRoomRegistrations, NoLimit); err != nil {
		return nil, err
	}
	return h, nil
}

// validRoom applies the hub's room name policy.
func (h *Hub) validRoom(room string) error {
	err := h.validate(room)
	if err != nil && h.customValid && !errors.Is(err, ErrInvalidRoomName) {
		err = fmt.Errorf("%w: %w", ErrInvalidRoomName, err)
	}
	return err
}

func (h *Hub) log(level slog.Level, msg string, args ...any) {
	if h.logger != nil {
		h.logger.Log(context.Background(), level, msg, args...)
	}
}

// ---- membership ----

// hubMember is the hub's state for one connection.
type hubMember struct {
	h     *Hub
	c     *Conn
	pol   *hubPolicy
	user  *UserInfo
	rooms []string // h.mu

	mu       sync.Mutex
	q        []*PreparedMessage // ring buffer, grown up to pol.queueCap
	head, n  int
	draining bool          // a writer goroutine runs
	closed   bool          // no longer takes messages
	gone     atomic.Bool   // closed, for the writer between messages
	owned    bool          // closed, and a closer owns the connection
	space    chan struct{} // closed when a slot frees up; made by waiters
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

// ---- broadcasting ----

// BroadcastResult counts what one broadcast (or Send) did with each
// member it targeted: Attempted = Enqueued + Dropped + Closed + Skipped.
//
// Enqueued messages are written later, in order, by the member's writer;
// one that is still lost afterwards (the member is removed, closed, or
// its write fails) is counted in HubMetrics.MessagesDropped, never
// silently.
type BroadcastResult struct {
	// Attempted is the number of members targeted.
	Attempted int `json:"attempted"`
	// Enqueued is the number of members the message was queued for.
	Enqueued int `json:"enqueued"`
	// Dropped is the number of members whose queue was full, so that this
	// message was dropped for them (SendDrop, or SendBlock after the send
	// timeout).
	Dropped int `json:"dropped"`
	// Closed is the number of members closed as slow consumers by this
	// broadcast (SendClose); they did not get the message.
	Closed int `json:"closed"`
	// Skipped is the number of members found closed or being removed.
	Skipped int `json:"skipped"`
	// Stopped reports that the hub was stopped: nothing was attempted.
	Stopped bool `json:"stopped,omitempty"`
	// Invalid reports an invalid room name or message type: nothing was
	// attempted.
	Invalid bool `json:"invalid,omitempty"`
}

// Rejected reports whether the broadcast targeted members but queued the
// message for none of them.
func (r BroadcastResult) Rejected() bool { return r.Attempted > 0 && r.Enqueued == 0 }

// snapshot copies the members of room (all members when all) into a
// pooled slice; putSnapshot returns it.
func (h *Hub) snapshot(room string, all bool) *[]*hubMember {
	sp, _ := h.snapPool.Get().(*[]*hubMember)
	if sp == nil {
		sp = new([]*hubMember)
	}
	s := (*sp)[:0]
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

func (h *Hub) putSnapshot(sp *[]*hubMember) {
	clear(*sp)
	if cap(*sp) <= 1<<16 {
		*sp = (*sp)[:0]
		h.snapPool.Put(sp)
	}
}

// BroadcastRoom sends a message of type mt (TextMessage or BinaryMessage)
// with payload data to every member of room, and returns what it did for
// each. data is copied: the caller may reuse it when BroadcastRoom
// returns. The message is encoded once for all members. BroadcastRoom
// returns once the message is queued, dropped or refused for every member;
// with SendBlock that can take up to the send timeout, never longer.
func (h *Hub) BroadcastRoom(room string, mt MessageType, data []byte) BroadcastResult {
	if h.validRoom(room) != nil {
		return BroadcastResult{Invalid: true}
	}
	pm, err := NewPreparedMessage(mt, data)
	if err != nil {
		return BroadcastResult{Invalid: true}
	}
	return h.BroadcastPrepared(room, pm)
}

// TryBroadcastRoom is BroadcastRoom, under its Plumego name.
func (h *Hub) TryBroadcastRoom(room string, mt MessageType, data []byte) BroadcastResult {
	return h.BroadcastRoom(room, mt, data)
}

// BroadcastAll is BroadcastRoom to every member of the hub, each once
// whatever the number of rooms it is in.
func (h *Hub) BroadcastAll(mt MessageType, data []byte) BroadcastResult {
	pm, err := NewPreparedMessage(mt, data)
	if err != nil {
		return BroadcastResult{Invalid: true}
	}
	return h.BroadcastAllPrepared(pm)
}

// TryBroadcastAll is BroadcastAll, under its Plumego name.
func (h *Hub) TryBroadcastAll(mt MessageType, data []byte) BroadcastResult {
	return h.BroadcastAll(mt, data)
}

// BroadcastPrepared is BroadcastRoom with a message prepared by the
// caller, which may then be broadcast again without encoding it anew.
func (h *Hub) BroadcastPrepared(room string, pm *PreparedMessage) BroadcastResult {
	if h.stopFlag.Load() {
		return BroadcastResult{Stopped: true}
	}
	snap := h.snapshot(room, false)
	defer h.putSnapshot(snap)
	return h.fanOut(*snap, pm)
}

// BroadcastAllPrepared is BroadcastAll with a prepared message.
func (h *Hub) BroadcastAllPrepared(pm *PreparedMessage) BroadcastResult {
	if h.stopFlag.Load() {
		return BroadcastResult{Stopped: true}
	}
	snap := h.snapshot("", true)
	defer h.putSnapshot(snap)
	return h.fanOut(*snap, pm)
}

// Send queues a message for member c alone, in order with the broadcasts
// it receives, under the same send policy. It returns nil once the
// message is queued, or ErrNotMember, ErrHubStopped, ErrBadMessageType,
// ErrSendQueueFull (dropped) or ErrSlowConsumer (the member was closed).
// Send is counted in the Broadcast* metrics as a broadcast to one member.
func (h *Hub) Send(c *Conn, mt MessageType, data []byte) error {
	if h.stopFlag.Load() {
		return ErrHubStopped
	}
	pm, err := NewPreparedMessage(mt, data)
	if err != nil {
		return err
	}
	h.mu.RLock()
	m := h.members[c]
	h.mu.RUnlock()
	if m == nil {
		return ErrNotMember
	}
	r := h.fanOut([]*hubMember{m}, pm)
	switch {
	case r.Enqueued == 1:
		return nil
	case r.Dropped == 1:
		return ErrSendQueueFull
	case r.Closed == 1:
		return ErrSlowConsumer
	}
	return ErrNotMember
}

// enqueue outcomes.
const (
	hubQueued = iota
	hubFull
	hubGone
)

// fanOut queues pm for every member of ms following their policies.
func (h *Hub) fanOut(ms []*hubMember, pm *PreparedMessage) BroadcastResult {
	res := BroadcastResult{Attempted: len(ms)}
	var waiting []*hubMember // full members with SendBlock
	for _, m := range ms {
		switch m.tryEnqueue(pm) {
		case hubQueued:
			res.Enqueued++
		case hubGone:
			res.Skipped++
		case hubFull:
			switch m.pol.behavior {
			case SendDrop:
				res.Dropped++
			case SendClose:
				if h.closeSlow(m) {
					res.Closed++
				} else {
					res.Skipped++
				}
			default:
				waiting = append(waiting, m)
			}
		}
	}
	if len(waiting) > 0 {
		// One deadline for the whole broadcast: the longest timeout among
		// the waiting members' policies.
		var d time.Duration
		for _, m := range waiting {
			d = max(d, m.pol.timeout)
		}
		deadline := time.NewTimer(d)
		expired := false
		for _, m := range waiting {
			switch m.enqueueWait(pm, deadline.C, &expired) {
			case hubQueued:
				res.Enqueued++
			case hubGone:
				res.Skipped++
			default:
				res.Dropped++
			}
		}
		deadline.Stop()
	}
	h.bAttempted.Add(uint64(res.Attempted))
	h.bEnqueued.Add(uint64(res.Enqueued))
	h.bSkipped.Add(uint64(res.Skipped))
	h.bDropped.Add(uint64(res.Dropped))
	h.bClosed.Add(uint64(res.Closed))
	h.msgsDropped.Add(uint64(res.Dropped + res.Closed))
	return res
}

// tryEnqueue queues pm if there is room, starting the writer if none runs.
func (m *hubMember) tryEnqueue(pm *PreparedMessage) int {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.pushLocked(pm)
}

func (m *hubMember) pushLocked(pm *PreparedMessage) int {
	if m.closed {
		return hubGone
	}
	if m.n == m.pol.queueCap {
		return hubFull
	}
	if m.n == len(m.q) {
		// Grow the ring (unwrapping it), up to the queue's capacity.
		size := min(max(4, 2*len(m.q)), m.pol.queueCap)
		q := make([]*PreparedMessage, size)
		for i := 0; i < m.n; i++ {
			q[i] = m.q[(m.head+i)%len(m.q)]
		}
		m.q, m.head = q, 0
	}
	m.q[(m.head+m.n)%len(m.q)] = pm
	m.n++
	m.h.queued.Add(1)
	if !m.draining {
		m.draining = true
		m.h.wg.Add(1)
		go m.drain()
	}
	return hubQueued
}

// enqueueWait waits for room in m's queue until deadline fires (or has
// fired: *expired), then queues pm.
func (m *hubMember) enqueueWait(pm *PreparedMessage, deadline <-chan time.Time, expired *bool) int {
	for {
		m.mu.Lock()
		r := m.pushLocked(pm)
		if r != hubFull || *expired {
			m.mu.Unlock()
			return r
		}
		if m.space == nil {
			m.space = make(chan struct{})
		}
		space := m.space
		m.mu.Unlock()
		select {
		case <-space:
		case <-deadline:
			*expired = true
		}
	}
}

// drain writes m's queue until it is empty or m is closed. One runs per
// member at most, so m's messages go out in queue order.
func (m *hubMember) drain() {
	h := m.h
	defer h.wg.Done()
	for {
		m.mu.Lock()
		if m.closed || m.n == 0 {
			m.draining = false
			if len(m.q) > 8 {
				m.q, m.head = nil, 0 // give back a grown queue
			}
			if !m.owned {
				// The deadline was ours; a closer's is the closer's.
				_ = m.c.SetWriteDeadline(time.Time{})
			}
			m.mu.Unlock()
			return
		}
		// Take what is queued (up to hubBatch messages) in one go.
		var batch [hubBatch]*PreparedMessage
		k := 0
		for m.n > 0 && k < hubBatch {
			batch[k] = m.q[m.head]
			m.q[m.head] = nil
			m.head = (m.head + 1) % len(m.q)
			m.n--
			k++
		}
		h.queued.Add(-int64(k))
		if m.space != nil {
			close(m.space)
			m.space = nil
		}
		m.mu.Unlock()

		_ = m.c.SetWriteDeadline(time.Now().Add(h.writeTimeout))
		n, err := m.writeBatch(batch[:k])
		h.msgsOut.Add(uint64(n))
		for _, pm := range batch[:n] {
			h.bytesOut.Add(uint64(len(pm.Data())))
		}
		h.msgsDropped.Add(uint64(k - n))
		if err != nil {
			h.writeFailed(m, err)
			// m is closed now: the loop ends.
		}
	}
}

// hubBatch is the most messages a member's writer takes from its queue at
// once.
const hubBatch = 64

// writeBatch writes pms to m's connection in order with one vectored
// write (Conn.WritePreparedMessages), unless m was closed meanwhile, and
// returns how many were written (all or none).
func (m *hubMember) writeBatch(pms []*PreparedMessage) (int, error) {
	if m.gone.Load() {
		return 0, nil
	}
	if err := m.c.WritePreparedMessages(pms...); err != nil {
		return 0, err
	}
	return len(pms), nil
}

// shut marks m closed and discards its queue (counted as dropped). It
// reports whether this call closed it.
func (m *hubMember) shut() bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.shutLocked()
}

func (m *hubMember) shutLocked() bool {
	if m.closed {
		return false
	}
	m.closed = true
	m.gone.Store(true)
	if m.n > 0 {
		m.h.msgsDropped.Add(uint64(m.n))
		m.h.queued.Add(-int64(m.n))
	}
	clear(m.q)
	m.q, m.head, m.n = nil, 0, 0
	if m.space != nil {
		close(m.space)
		m.space = nil
	}
	return true
}

// writeFailed removes a member whose write failed and closes its
// connection (it cannot take frames any more).
func (h *Hub) writeFailed(m *hubMember, err error) {
	m.mu.Lock()
	closed := m.shutLocked()
	m.owned = true
	m.mu.Unlock()
	if !closed {
		return
	}
	h.writeErrors.Add(1)
	h.unlink(m)
	h.log(slog.LevelWarn, "websocket hub: write failed, member removed", "remote", m.c.RemoteAddr(), "err", err)
	_ = m.c.CloseNow()
}

// closeSlow closes m as a slow consumer, unless something else closed it
// first. The close handshake runs on its own goroutine: it waits for the
// frame being written (bounded by the write timeout), then sends
// SlowConsumerCloseCode.
func (h *Hub) closeSlow(m *hubMember) bool {
	m.mu.Lock()
	if !m.shutLocked() {
		m.mu.Unlock()
		return false
	}
	m.owned = true
	h.wg.Add(1)
	m.mu.Unlock()
	h.slowCloses.Add(1)
	h.unlink(m)
	h.log(slog.LevelWarn, "websocket hub: slow consumer closed", "remote", m.c.RemoteAddr(), "queue", m.pol.queueCap)
	h.closingMu.Lock()
	h.closing[m.c] = struct{}{}
	h.closingMu.Unlock()
	go func() {
		defer h.wg.Done()
		_ = m.c.SetWriteDeadline(time.Now().Add(h.writeTimeout))
		_ = m.c.Close(SlowConsumerCloseCode, "slow consumer")
		h.closingMu.Lock()
		delete(h.closing, m.c)
		h.closingMu.Unlock()
	}()
	return true
}

// ---- metrics ----

// HubMetrics is a snapshot of a hub's gauges and counters (counters count
// from NewHub). The names of the Plumego fields are kept.
type HubMetrics struct {
	// ActiveConnections is the number of members.
	ActiveConnections int `json:"active_connections"`
	// RoomRegistrations is the sum over members of the rooms each is in.
	RoomRegistrations int `json:"room_registrations"`
	// Rooms is the number of rooms with members.
	Rooms int `json:"rooms"`
	// QueuedMessages is the number of messages waiting in send queues.
	QueuedMessages int64 `json:"queued_messages"`

	// AcceptedTotal and RejectedTotal count join and register calls that
	// succeeded and that failed.
	AcceptedTotal uint64 `json:"accepted_total"`
	RejectedTotal uint64 `json:"rejected_total"`

	// The limits in force (0: none).
	MaxConnections        int `json:"max_connections"`
	MaxRoomConnections    int `json:"max_room_connections"`
	MaxRoomsPerConnection int `json:"max_rooms_per_connection"`
	MaxRoomRegistrations  int `json:"max_room_registrations"`

	// Sums of the BroadcastResult fields over all broadcasts and Sends.
	BroadcastAttempted uint64 `json:"broadcast_attempted"`
	BroadcastEnqueued  uint64 `json:"broadcast_enqueued"`
	BroadcastSkipped   uint64 `json:"broadcast_skipped"`
	BroadcastDropped   uint64 `json:"broadcast_dropped"`
	BroadcastClosed    uint64 `json:"broadcast_closed"`

	// MessagesIn and BytesIn count the data messages read by
	// ServeWSWithConfig from members (payload bytes).
	MessagesIn uint64 `json:"messages_in"`
	BytesIn    uint64 `json:"bytes_in"`
	// MessagesOut and BytesOut count the messages written to members.
	MessagesOut uint64 `json:"messages_out"`
	BytesOut    uint64 `json:"bytes_out"`
	// MessagesDropped counts every (message, member) pair that was
	// targeted and will never be written: BroadcastDropped and
	// BroadcastClosed, plus messages discarded from the queue of a member
	// that was removed or closed, plus writes that failed. So, when no
	// write is in flight, BroadcastEnqueued = MessagesOut + QueuedMessages
	// + (MessagesDropped - BroadcastDropped - BroadcastClosed).
	MessagesDropped uint64 `json:"messages_dropped"`
	// SlowConsumerCloses counts members closed by SendClose.
	SlowConsumerCloses uint64 `json:"slow_consumer_closes"`
	// WriteErrors counts members removed because a write failed or timed
	// out.
	WriteErrors uint64 `json:"write_errors"`

	// Counted by ServeWSWithConfig: requests refused by the origin, token
	// or room checks; requests with a missing or malformed
	// Sec-WebSocket-Key; connections authenticated with a token.
	SecurityRejections uint64 `json:"security_rejections"`
	InvalidWSKeys      uint64 `json:"invalid_ws_keys"`
	SuccessfulAuths    uint64 `json:"successful_auths"`
}

// Metrics returns a snapshot of the hub's metrics. Counters are read one
// by one, so a snapshot taken while broadcasts run may be off by the
// messages in flight.
func (h *Hub) Metrics() HubMetrics {
	h.mu.RLock()
	m := HubMetrics{
		ActiveConnections: len(h.members),
		RoomRegistrations: h.registrations,
		Rooms:             len(h.rooms),
	}
	h.mu.RUnlock()
	m.QueuedMessages = h.queued.Load()
	m.AcceptedTotal = h.accepted.Load()
	m.RejectedTotal = h.rejected.Load()
	m.MaxConnections = h.maxConns
	m.MaxRoomConnections = h.maxRoomConns
	m.MaxRoomsPerConnection = h.maxRooms
	m.MaxRoomRegistrations = h.maxRegs
	m.BroadcastAttempted = h.bAttempted.Load()
	m.BroadcastEnqueued = h.bEnqueued.Load()
	m.BroadcastSkipped = h.bSkipped.Load()
	m.BroadcastDropped = h.bDropped.Load()
	m.BroadcastClosed = h.bClosed.Load()
	m.MessagesIn = h.msgsIn.Load()
	m.BytesIn = h.bytesIn.Load()
	m.MessagesOut = h.msgsOut.Load()
	m.BytesOut = h.bytesOut.Load()
	m.MessagesDropped = h.msgsDropped.Load()
	m.SlowConsumerCloses = h.slowCloses.Load()
	m.WriteErrors = h.writeErrors.Load()
	m.SecurityRejections = h.secRejections.Load()
	m.InvalidWSKeys = h.invalidKeys.Load()
	m.SuccessfulAuths = h.successfulAuths.Load()
	return m
}

// ---- stopping ----

// stop refuses new members and broadcasts and takes every member out; it
// returns the members that were in.
func (h *Hub) stop() []*hubMember {
	h.mu.Lock()
	h.stopped = true
	h.stopFlag.Store(true)
	ms := make([]*hubMember, 0, len(h.members))
	for _, m := range h.members {
		ms = append(ms, m)
	}
	clear(h.members)
	clear(h.rooms)
	h.registrations = 0
	h.mu.Unlock()
	return ms
}

// Stop refuses new members and broadcasts, discards every queued message
// (counted in MessagesDropped), and waits for the frames being written and
// for closes in progress (each bounded by the write and close timeouts).
// Connections are left open: they are the caller's. Stop is idempotent.
func (h *Hub) Stop() {
	for _, m := range h.stop() {
		m.shut()
	}
	h.wg.Wait()
}

// Shutdown stops the hub and closes every member: each gets a close frame
// with code 1001 (going away) and the close handshake runs, all members at
// once, each bounded by the connection's close timeout. When ctx ends
// first, the remaining connections are closed at once and ctx.Err() is
// returned. Queued messages are discarded (counted in MessagesDropped);
// afterwards the hub refuses new members (ErrHubStopped) and broadcasts
// (BroadcastResult.Stopped), and no goroutine of the hub remains.
// Shutdown is idempotent.
func (h *Hub) Shutdown(ctx context.Context) error {
	ms := h.stop()
	h.log(slog.LevelInfo, "websocket hub: shutting down", "members", len(ms))
	for _, m := range ms {
		m.mu.Lock()
		if !m.shutLocked() {
			m.mu.Unlock()
			continue
		}
		m.owned = true
		h.wg.Add(1)
		m.mu.Unlock()
		go func(c *Conn) {
			defer h.wg.Done()
			stop := context.AfterFunc(ctx, func() { _ = c.CloseNow() })
			defer stop()
			_ = c.SetWriteDeadline(time.Now().Add(h.writeTimeout))
			_ = c.Close(CloseGoingAway, "going away")
		}(m.c)
	}
	done := make(chan struct{})
	go func() {
		h.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		h.log(slog.LevelInfo, "websocket hub: shut down")
		return nil
	case <-ctx.Done():
		// The AfterFuncs are closing every member's connection; cut off
		// the slow consumers being closed too. Writers and closers then
		// return promptly.
		h.closingMu.Lock()
		for c := range h.closing {
			_ = c.CloseNow()
		}
		h.closingMu.Unlock()
		<-done
		return ctx.Err()
	}
}

// recordInbound counts a message read from a member.
func (h *Hub) recordInbound(n int) {
	h.msgsIn.Add(1)
	h.bytesIn.Add(uint64(n))
}
