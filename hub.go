// hub.go owns the Hub type: its configuration (HubConfig, the defaults and
// limits), its errors, its fields and which lock or goroutine owns each,
// and its construction (NewHub, NewHubWithConfig). The rest of the Hub is
// split by concern:
//
//	hub_rooms.go      membership and rooms: join, leave, remove, lookups
//	hub_queue.go      a member's send queue and the writer goroutine
//	hub_broadcast.go  broadcasts, Send and the send policy (SendBehavior)
//	hub_metrics.go    HubMetrics and the counters behind it
//	hub_shutdown.go   Stop and Shutdown

package websocket

import (
	"context"
	"errors"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"
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

// HubConfig configures a Hub. The zero value of a field means its default
// (see DefaultHubConfig); a negative value is an error, except NoLimit for
// the limits.
type HubConfig struct {
	// WorkerCount and JobQueueSize size the shared worker pool of
	// Plumego's hub. This hub has no shared pool: each member's queue is
	// written by one goroutine that exists only while that member receives
	// (see Hub), which keeps every member's messages in order and keeps a
	// slow member from holding up a worker others need. The fields are
	// checked (negative is an error) and otherwise unused.
	//
	// Deprecated: kept so that Plumego configurations compile; they have
	// no effect.
	WorkerCount  int
	JobQueueSize int

	// SendQueueSize is the capacity of each member's send queue, in
	// messages (default DefaultSendQueueSize). The queue's memory is taken
	// as it fills and given back when the member's writer exits. The writer takes
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
	// closes its connection. The writer re-arms the connection's write
	// deadline only when it is more than WriteTimeout/16 old, so a write
	// gets between 15/16 of WriteTimeout and WriteTimeout.
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

	// Relay, when set, shares the hub's rooms with the hubs of other
	// processes through a message broker (see Relay): broadcasts are also
	// published once each, and what other nodes publish is delivered to
	// the local members. The hub starts it (NewHubWithConfig fails with
	// ErrRelayUnavailable if it cannot) and closes it in Stop and
	// Shutdown. Nil: the hub is this process's alone.
	Relay Relay
	// RelayOptions tunes the hub's use of Relay (node id, publish queue,
	// timeouts, heartbeat); zero fields take their defaults.
	RelayOptions RelayOptions
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
		return 0, configErr(ErrNegativeLimit, "%s is %d (use NoLimit to turn it off)", name, v)
	}
	return v, nil
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
// becomes non-empty; once the queue is empty it waits for more work, and
// it exits when the queue stayed empty for a whole period of 500 ms (so
// 0.5 to 1 s after the member's last message). A member that receives
// a steady stream thus keeps its writer (no goroutine start or deadline
// update per message), an idle member costs no goroutine, and messages
// reach every member in the order they were queued. A broadcast starts
// or wakes the writers it needs only once it has queued the message for
// every target, so a writer often finds the messages that follow
// already queued and writes them together. A broadcast to 1,024 members
// or more holds them a little longer: they are started or woken once no
// such broadcast has run for 50 µs (up to about a millisecond when the
// process is otherwise idle; at most 8 broadcasts or 20 ms later while
// they keep coming), so that a burst of broadcasts goes out with one
// write per member; beside the milliseconds that writing to that many
// members takes, the delay is small. A broadcaster that holds
// several messages at once (its input had them buffered) does better with
// BroadcastAllPreparedMessages or BroadcastPreparedMessages: each member
// is then locked, woken and written to once for all of them. Messages
// broadcast one after another from one goroutine arrive in that order
// everywhere; broadcasts made concurrently from several goroutines have
// no order between them.
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
	// Configuration: set by NewHubWithConfig, read-only afterwards (any
	// goroutine reads it without a lock).
	pol          *hubPolicy // the default members' send policy
	writeTimeout time.Duration
	born         time.Time // the writers' monotonic clock origin (hubMember.armed)
	maxConns     int       // limits; 0 means none
	maxRoomConns int
	maxRooms     int
	maxRegs      int
	validate     RoomNameValidator
	customValid  bool
	logger       *slog.Logger

	// Membership (hub_rooms.go): guarded by mu. A member's queue is
	// guarded by its own hubMember.mu; the hub never holds mu and a
	// member's mu together (if code ever must, mu comes first).
	mu            sync.RWMutex
	members       map[*Conn]*hubMember
	rooms         map[string]map[*hubMember]struct{}
	registrations int         // sum over members of len(rooms)
	stopped       bool        // set once by stop; guarded by mu
	stopFlag      atomic.Bool // lock-free copy of stopped for broadcasts

	// wg counts the goroutines the hub starts: queue writers and closers.
	// Add is only called under a member's mutex while that member is open,
	// and Stop/Shutdown close every member before waiting, so every Add
	// happens before Wait.
	wg sync.WaitGroup

	// Lingering writers (hub_queue.go): a writer whose queue empties waits
	// for more work; the retire sweep, a timer armed only while writers
	// exist, sends home those idle for a whole hubLinger period.
	writers  atomic.Int64            // writer goroutines alive
	liveMu   sync.Mutex              // guards live; never held with a member's mu
	live     map[*hubMember]struct{} // the members whose writer is alive
	epoch    atomic.Uint64           // retire sweeps so far
	retireOn atomic.Bool             // a sweep is scheduled
	retireMu sync.Mutex              // guards retireT
	retireT  *time.Timer

	// snapPool recycles the member snapshots broadcasts iterate over
	// (*[]*hubMember); each snapshot belongs to one broadcast at a time.
	snapPool sync.Pool

	// closing holds the connections a slow-consumer closer is closing, so
	// that Shutdown can cut them off when its context ends. Guarded by
	// closingMu.
	closingMu sync.Mutex
	closing   map[*Conn]struct{}

	// Counters (hub_metrics.go): atomics, added to by any goroutine (the
	// broadcasters, the writers, ServeWSWithConfig), read by Metrics.
	accepted, rejected                          atomic.Uint64
	bAttempted, bEnqueued, bSkipped, bDropped   atomic.Uint64
	bClosed                                     atomic.Uint64
	msgsIn, bytesIn, msgsOut, bytesOut          atomic.Uint64
	msgsDropped, slowCloses, writeErrors        atomic.Uint64
	secRejections, invalidKeys, successfulAuths atomic.Uint64
	queued                                      atomic.Int64 // messages in all queues

	// Deferred kicks (hub_queue.go): the writers that big fan-outs must
	// start or wake, held a moment so that they find the broadcasts that
	// follow already queued. Guarded by kickMu, never held with another
	// lock.
	kickMu     sync.Mutex
	kickFan    int   // deferring fan-outs in progress
	kickRounds int   // fan-outs ended while kicks were pending
	kickSince  int64 // monoNow when the oldest pending kick was added
	kickAge    int64 // hubDeferAge (tests lengthen it)
	kickStarts []*hubMember
	kickWakes  []chan struct{}
	kickTimer  *time.Timer

	// relay is set by NewHubWithConfig when HubConfig.Relay is (hub_relay.go).
	relay *hubRelay
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
		return nil, configErr(ErrNegativeWorkerCount, "WorkerCount is %d", cfg.WorkerCount)
	}
	if cfg.JobQueueSize < 0 {
		return nil, configErr(ErrNegativeJobQueue, "JobQueueSize is %d", cfg.JobQueueSize)
	}
	pol, err := hubPolicyFrom(cfg.SendQueueSize, cfg.SendTimeout, cfg.SendBehavior)
	if err != nil {
		return nil, err
	}
	if cfg.WriteTimeout < 0 {
		return nil, configErr(ErrInvalidWriteTimeout, "WriteTimeout is %v", cfg.WriteTimeout)
	}
	h := &Hub{
		pol:          pol,
		writeTimeout: cfg.WriteTimeout,
		born:         time.Now(),
		validate:     cfg.RoomNameValidator,
		customValid:  cfg.RoomNameValidator != nil,
		logger:       cfg.Logger,
		members:      make(map[*Conn]*hubMember),
		rooms:        make(map[string]map[*hubMember]struct{}),
		closing:      make(map[*Conn]struct{}),
		live:         make(map[*hubMember]struct{}),
		kickAge:      int64(hubDeferAge),
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
	if cfg.Relay != nil {
		if err := h.startRelay(cfg.Relay, cfg.RelayOptions); err != nil {
			return nil, err
		}
	}
	return h, nil
}

func (h *Hub) log(level slog.Level, msg string, args ...any) {
	if h.logger != nil {
		h.logger.Log(context.Background(), level, msg, args...)
	}
}
