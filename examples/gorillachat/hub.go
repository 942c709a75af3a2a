// Command gorillachat is gorilla/websocket's chat example (examples/chat:
// a hub goroutine owning register/unregister/broadcast channels, and a
// read pump and a write pump per client with ping/pong deadlines) ported
// to this library with only the changes that README's "Coming from
// gorilla/websocket" table names. Each change is marked "port:".
//
// It is kept as a proof that the table is true: main_test.go runs
// several clients through it over loopback, ping ticker included. For a
// chat written for this library, see examples/chat (the Hub, rooms and
// token auth).
package main

// Hub maintains the set of active clients and broadcasts messages to the
// clients.
type Hub struct {
	// Registered clients.
	clients map[*Client]bool

	// Inbound messages from the clients.
	broadcast chan []byte

	// Register requests from the clients.
	register chan *Client

	// Unregister requests from clients.
	unregister chan *Client
}

func newHub() *Hub {
	return &Hub{
		broadcast:  make(chan []byte),
		register:   make(chan *Client),
		unregister: make(chan *Client),
		clients:    make(map[*Client]bool),
	}
}

func (h *Hub) run() {
	for {
		select {
		case client := <-h.register:
			h.clients[client] = true
		case client := <-h.unregister:
			if _, ok := h.clients[client]; ok {
				delete(h.clients, client)
				close(client.send)
			}
		case message := <-h.broadcast:
			for client := range h.clients {
				select {
				case client.send <- message:
				default:
					close(client.send)
					delete(h.clients, client)
				}
			}
		}
	}
}
