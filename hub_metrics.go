// hub_metrics.go owns a Hub's metrics: the HubMetrics snapshot, read
// from the Hub's atomic counters (declared with the Hub in hub.go and
// added to where the events happen).

package websocket

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

	// Relay is the relay's metrics, nil without HubConfig.Relay.
	Relay *RelayMetrics `json:"relay,omitempty"`
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
	m.Relay = h.relayMetrics()
	return m
}

// recordInbound counts a message read from a member.
func (h *Hub) recordInbound(n int) {
	h.msgsIn.Add(1)
	h.bytesIn.Add(uint64(n))
}
