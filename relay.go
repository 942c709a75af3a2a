package websocket

import (
	"context"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"time"
)

// Relay carries a Hub's broadcasts to the other processes (nodes) that
// share its rooms, through an existing message broker. Set one in
// HubConfig.Relay; adapters live in their own modules so that this one
// depends on no broker client:
//
//	github.com/rfc6455/websocket/adapters/nats   (NATS, via nats.go)
//	github.com/rfc6455/websocket/adapters/redis  (Redis pub/sub, via go-redis)
//
// # What the hub does with a relay
//
// Each BroadcastRoom / BroadcastAll (and their Prepared forms) is encoded
// once for the local members, as without a relay, and put once on a
// bounded publish queue (RelayOptions.QueueSize); one goroutine of the hub
// takes messages from the queue in order and hands them to Publish, so one
// broadcast is one message on the broker, whatever the number of members,
// and local delivery never waits for the broker. Every node receives what
// every node published (its own messages included, which it recognises by
// their stream id and skips: its local members got them directly) and
// queues each message for its own members of the room under its own send
// policy, exactly as a local broadcast. Hub.Send stays local.
//
// Guarantees: messages published by one node reach every other node in the
// order they were published (brokers keep one connection's order); delivery
// across nodes is at most once, and every loss is counted. Each message
// carries its node's sequence number, so a receiving node counts the
// messages it never got (RelayMetrics.Lost): lost by the broker, dropped by
// the publisher's queue policy, or not published because the broker
// failed (those are also counted on the publishing node, in
// RelayMetrics.PublishDropped). A message that arrives late or twice is
// discarded (RelayMetrics.Duplicates). Nodes publish a heartbeat every
// RelayOptions.Heartbeat, so losses at the end of a burst are counted
// within about one heartbeat. Reliable delivery (replay after a broker
// restart) is not offered: a message lost while a node or the broker was
// away stays lost, and counted.
//
// # Implementing a Relay
//
// Start, Publish and Close are called by the hub: Start once, from
// NewHubWithConfig; Publish from one goroutine at a time, never
// concurrently with itself; Close once, from Stop or Shutdown, after the
// last Publish (or right after a Start that failed). Topics (RelayMessage.Topic) are made of dot-separated
// tokens of ASCII letters, digits, '-' and '_', never empty, never
// containing wildcards or spaces; an adapter prefixes them (for example
// "websocket.hub." + topic) to get its subjects or channels, and
// subscribes to all of them (NATS "prefix.>", Redis PSUBSCRIBE
// "prefix.*").
type Relay interface {
	// Start subscribes to every topic and delivers what arrives to
	// h.Deliver, one message at a time from one goroutine, in the order
	// received, until Close. It reports connection changes and
	// asynchronous broker errors to h.Event (from any goroutine). It
	// returns an error when the broker cannot be reached before ctx ends,
	// unless the adapter was configured to keep trying in the background;
	// the hub then fails with ErrRelayUnavailable.
	Start(ctx context.Context, h RelayHandler) error
	// Publish publishes msgs in order and returns how many were handed to
	// the broker before the first failure (all of them when err is nil).
	// It must return by the time ctx ends. It must not keep msgs or their
	// Data after it returns: the hub reuses them.
	Publish(ctx context.Context, msgs []RelayMessage) (int, error)
	// Close flushes what Publish handed to the broker client (bounded by
	// ctx), ends the subscription and releases the connection. No
	// Deliver call starts after Close returns.
	Close(ctx context.Context) error
}

// RelayMessage is one message on the broker.
type RelayMessage struct {
	// Topic is where it is published: RelayTopicAll, RelayTopicControl
	// or RelayRoomTopic(room); see Relay for the alphabet.
	Topic string
	// Data is the envelope: the publishing node's id, stream and sequence
	// number, the room and the message. Opaque to adapters. A Data passed
	// to RelayHandler.Deliver is read during the call only (the hub copies
	// what it keeps), so an adapter may reuse its buffer afterwards.
	Data []byte
}

// RelayHandler is what a Relay reports to; the hub makes it.
type RelayHandler struct {
	// Deliver takes a message received from the broker.
	Deliver func(RelayMessage)
	// Event takes connection changes and asynchronous errors.
	Event func(RelayEvent)
}

// RelayEventKind says what happened to a relay's broker connection.
type RelayEventKind int

const (
	// RelayDisconnected: the connection to the broker was lost; messages
	// published meanwhile by other nodes will be missing (and counted).
	RelayDisconnected RelayEventKind = iota + 1
	// RelayReconnected: connected again after RelayDisconnected, with
	// the subscription restored.
	RelayReconnected
	// RelayError: an asynchronous broker error (for example the broker
	// client dropped messages it could not hand over fast enough).
	RelayError
)

// String returns "disconnected", "reconnected" or "error".
func (k RelayEventKind) String() string {
	switch k {
	case RelayDisconnected:
		return "disconnected"
	case RelayReconnected:
		return "reconnected"
	case RelayError:
		return "error"
	}
	return fmt.Sprintf("RelayEventKind(%d)", int(k))
}

// RelayEvent is a connection change or an asynchronous error of a Relay.
type RelayEvent struct {
	Kind RelayEventKind
	Err  error // the cause, when known
}

// Relay errors. Match them with errors.Is.
var (
	// ErrRelayUnavailable is returned by NewHubWithConfig when the relay
	// could not start (the broker was unreachable); it wraps the relay's
	// error.
	ErrRelayUnavailable = errors.New("websocket: relay unavailable")
	// ErrRelayUnsent is returned by Shutdown when broadcasts queued for
	// the broker could not all be published before its context ended or
	// the broker failed; the error says how many.
	ErrRelayUnsent = errors.New("websocket: relay: broadcasts not published")
)

// Topics. A room's topic encodes its name (base64url, no padding), so no
// room name can inject broker syntax: "a.b", "*", ">" or spaces all become
// plain tokens.
const (
	// RelayTopicAll carries BroadcastAll.
	RelayTopicAll = "all"
	// RelayTopicControl carries heartbeats and goodbyes.
	RelayTopicControl = "ctl"
	// relayRoomTopicPrefix precedes a room's encoded name.
	relayRoomTopicPrefix = "room."
	// relayEmptyRoomToken stands for the empty room name (which only a
	// custom RoomNameValidator can allow): no name encodes to "_".
	relayEmptyRoomToken = "_"
)

// RelayRoomTopic returns the topic of room: "room." followed by the name
// in unpadded base64url. The result is made of ASCII letters, digits, '-',
// '_' and the one '.' after "room", whatever the name.
func RelayRoomTopic(room string) string {
	if room == "" {
		return relayRoomTopicPrefix + relayEmptyRoomToken
	}
	return relayRoomTopicPrefix + base64.RawURLEncoding.EncodeToString([]byte(room))
}

// RelayQueuePolicy is what a hub does with a broadcast when its publish
// queue is full (the broker is slower than the broadcasts, or away). Both
// drop a message and count it in RelayMetrics.PublishDropped; local
// members are never held up.
type RelayQueuePolicy int

const (
	// RelayDropNewest does not publish the broadcast that found the queue
	// full (the default).
	RelayDropNewest RelayQueuePolicy = iota
	// RelayDropOldest discards the oldest queued broadcast to make room.
	RelayDropOldest
)

// Relay defaults.
const (
	// DefaultRelayQueueSize is the capacity of the publish queue, in
	// broadcasts. A queued broadcast holds its PreparedMessage.
	DefaultRelayQueueSize = 4096
	// DefaultRelayPublishTimeout bounds one Publish call (up to 64
	// messages).
	DefaultRelayPublishTimeout = 5 * time.Second
	// DefaultRelayStartTimeout bounds Relay.Start in NewHubWithConfig.
	DefaultRelayStartTimeout = 10 * time.Second
	// DefaultRelayHeartbeat is how often a node publishes a heartbeat.
	DefaultRelayHeartbeat = time.Second
	// MaxRelayNodeIDLength is the longest RelayOptions.NodeID, in bytes.
	MaxRelayNodeIDLength = 64
)

// RelayOptions tunes how a Hub uses its Relay (HubConfig.RelayOptions).
// Zero fields take their defaults; negative values are errors except
// Heartbeat, where NoLimit turns heartbeats off.
type RelayOptions struct {
	// NodeID names this node in metrics and logs (at most
	// MaxRelayNodeIDLength bytes; default: a random 16-hex-digit id).
	// Nodes are told apart by a random stream id drawn at each start, so
	// two nodes with the same NodeID, or a node restarted, do not mix up
	// their sequence numbers.
	NodeID string
	// QueueSize is the capacity of the publish queue, in broadcasts
	// (default DefaultRelayQueueSize).
	QueueSize int
	// QueuePolicy is what happens when the publish queue is full (default
	// RelayDropNewest).
	QueuePolicy RelayQueuePolicy
	// PublishTimeout bounds each Publish call (default
	// DefaultRelayPublishTimeout); the messages of a call that fails or
	// times out are dropped and counted.
	PublishTimeout time.Duration
	// StartTimeout bounds Relay.Start (default DefaultRelayStartTimeout).
	StartTimeout time.Duration
	// Heartbeat is how often the node publishes a heartbeat with its last
	// sequence number, so that other nodes count losses at the end of a
	// burst and know it is alive (default DefaultRelayHeartbeat; NoLimit:
	// none).
	Heartbeat time.Duration
}

// RelayMetrics is a snapshot of a hub's relay counters (HubMetrics.Relay).
// Counts are of broadcasts (one per BroadcastRoom or BroadcastAll), not of
// deliveries to members: what a relayed broadcast does on this node's
// members is counted in the Broadcast* fields of HubMetrics, as for a
// local one.
type RelayMetrics struct {
	// NodeID is this node's id.
	NodeID string `json:"node_id"`
	// Peers is the number of other nodes heard from (a message or a
	// heartbeat) within the last three heartbeats (with heartbeats off:
	// heard from and not gone). A starting node says hello and the others
	// answer at once, so they know each other from the start.
	Peers int `json:"peers"`
	// Queued is the number of broadcasts waiting to be published.
	Queued int `json:"queued"`
	// Published counts broadcasts handed to the broker: exactly one per
	// broadcast.
	Published uint64 `json:"published"`
	// PublishDropped counts this node's broadcasts that were not
	// published: the queue was full, Publish failed or timed out,
	// Stop/Shutdown came first, or the room name was longer than 4 KiB.
	PublishDropped uint64 `json:"publish_dropped"`
	// Received counts broadcasts of other nodes received and fanned out to
	// the local members.
	Received uint64 `json:"received"`
	// Lost counts broadcasts of other nodes this node never received: gaps
	// in their sequence numbers, wherever the message was lost (the other
	// node's PublishDropped included).
	Lost uint64 `json:"lost"`
	// Duplicates counts messages discarded because they came late or
	// twice (their sequence number was already passed).
	Duplicates uint64 `json:"duplicates"`
	// Echoes counts this node's own messages received back and skipped.
	Echoes uint64 `json:"echoes"`
	// Invalid counts messages that could not be decoded, named a room the
	// hub's policy rejects, or came on the wrong topic.
	Invalid uint64 `json:"invalid"`
	// BrokerErrors counts failed Publish calls, failed heartbeats and
	// errors the relay reported (RelayError).
	BrokerErrors uint64 `json:"broker_errors"`
	// Disconnects and Reconnects count the relay's connection changes.
	Disconnects uint64 `json:"disconnects"`
	Reconnects  uint64 `json:"reconnects"`
}

// ---- envelope ----

// Envelope kinds.
const (
	relayKindRoom      = 1 // a BroadcastRoom
	relayKindAll       = 2 // a BroadcastAll
	relayKindHeartbeat = 3 // seq is the last sequence number handled
	relayKindBye       = 4 // a heartbeat, and the stream ends
	relayKindHello     = 5 // a heartbeat, and the stream starts: answer it
)

const (
	relayEnvelopeVersion = 1
	// relayFixedLen is version, kind, message type, stream, seq, node id
	// length.
	relayFixedLen = 3 + 8 + 8 + 1
	// relayMaxRoomLen bounds a room name in an envelope.
	relayMaxRoomLen = 1 << 12
)

// relayEnvelope is one decoded message. Layout (version 1):
//
//	version(1) kind(1) type(1) stream(8, big endian) seq(8, big endian)
//	len(node)(1) node  uvarint len(room) room  payload(rest)
type relayEnvelope struct {
	kind    byte
	mt      MessageType // 0 for heartbeats
	stream  uint64
	seq     uint64
	node    string
	room    string
	payload []byte // aliases the decoded buffer
}

var errRelayEnvelope = errors.New("websocket: relay: malformed envelope")

// appendEnvelope appends e's encoding to b.
func appendEnvelope(b []byte, e *relayEnvelope) []byte {
	b = append(b, relayEnvelopeVersion, e.kind, byte(e.mt))
	b = binary.BigEndian.AppendUint64(b, e.stream)
	b = binary.BigEndian.AppendUint64(b, e.seq)
	b = append(b, byte(len(e.node)))
	b = append(b, e.node...)
	b = binary.AppendUvarint(b, uint64(len(e.room)))
	b = append(b, e.room...)
	return append(b, e.payload...)
}

// parseEnvelope decodes b; e.payload aliases b.
func parseEnvelope(b []byte, e *relayEnvelope) error {
	if len(b) < relayFixedLen || b[0] != relayEnvelopeVersion {
		return errRelayEnvelope
	}
	e.kind, e.mt = b[1], MessageType(b[2])
	switch e.kind {
	case relayKindRoom, relayKindAll:
		if e.mt != TextMessage && e.mt != BinaryMessage {
			return errRelayEnvelope
		}
	case relayKindHeartbeat, relayKindBye, relayKindHello:
		if e.mt != 0 {
			return errRelayEnvelope
		}
	default:
		return errRelayEnvelope
	}
	e.stream = binary.BigEndian.Uint64(b[3:])
	e.seq = binary.BigEndian.Uint64(b[11:])
	n := int(b[19])
	b = b[relayFixedLen:]
	if n > MaxRelayNodeIDLength || len(b) < n {
		return errRelayEnvelope
	}
	e.node = string(b[:n])
	b = b[n:]
	rl, k := binary.Uvarint(b)
	if k <= 0 || rl > relayMaxRoomLen || uint64(len(b)-k) < rl {
		return errRelayEnvelope
	}
	b = b[k:]
	e.room = string(b[:rl])
	e.payload = b[rl:]
	if e.kind != relayKindRoom && e.room != "" || e.kind == relayKindBye && len(e.payload) > 0 {
		return errRelayEnvelope
	}
	return nil
}

// topic returns the topic e belongs on.
func (e *relayEnvelope) topic() string {
	switch e.kind {
	case relayKindRoom:
		return RelayRoomTopic(e.room)
	case relayKindAll:
		return RelayTopicAll
	}
	return RelayTopicControl
}

// ---- presence ----

// Heartbeats and hellos carry the node's member counts (presence):
//
//	uvarint members, uvarint rooms listed, then per room: uvarint
//	len(name) name uvarint members
//
// A node with more rooms than fit in relayPresenceMax bytes lists only
// some; the total is always right.
const relayPresenceMax = 256 << 10

type relayPresence struct {
	members int
	rooms   map[string]int
}

// appendPresence appends the presence of a hub with members members and
// the given room counts.
func appendPresence(b []byte, members int, rooms map[string]int) []byte {
	var entries []byte
	n := 0
	for r, c := range rooms {
		if len(entries)+len(r)+2*binary.MaxVarintLen64 > relayPresenceMax {
			break
		}
		entries = binary.AppendUvarint(entries, uint64(len(r)))
		entries = append(entries, r...)
		entries = binary.AppendUvarint(entries, uint64(c))
		n++
	}
	b = binary.AppendUvarint(b, uint64(members))
	b = binary.AppendUvarint(b, uint64(n))
	return append(b, entries...)
}

// parsePresence decodes a heartbeat's payload (empty: nothing known).
func parsePresence(b []byte) (relayPresence, error) {
	var p relayPresence
	if len(b) == 0 {
		return p, nil
	}
	next := func() (uint64, bool) {
		v, k := binary.Uvarint(b)
		if k <= 0 {
			return 0, false
		}
		b = b[k:]
		return v, true
	}
	m, ok1 := next()
	n, ok2 := next()
	if !ok1 || !ok2 || m > 1<<40 || n > uint64(len(b))/2 {
		return p, errRelayEnvelope
	}
	p.members = int(m)
	p.rooms = make(map[string]int, n)
	for range n {
		l, ok := next()
		if !ok || l > relayMaxRoomLen || l > uint64(len(b)) {
			return p, errRelayEnvelope
		}
		room := string(b[:l])
		b = b[l:]
		c, ok := next()
		if !ok || c > 1<<40 {
			return p, errRelayEnvelope
		}
		p.rooms[room] = int(c)
	}
	if len(b) != 0 {
		return p, errRelayEnvelope
	}
	return p, nil
}
