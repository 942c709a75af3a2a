// Command chat is a chat server with rooms, built on websocket.New: token
// authentication before the upgrade, rooms, a fan-out of every message to
// its room, and a browser page.
//
//	go run ./examples/chat [-addr 127.0.0.1:8080]
//
// At start it prints demo links (one per demo user) whose fragment holds a
// signed token; open two of them in two browser windows and chat. The
// secret is random per run, so the links stop working at restart. The
// browser sends its token as a Sec-WebSocket-Protocol entry next to the
// real protocol, "chat.v1", which is the one the server chooses.
package main

import (
	"context"
	"crypto/rand"
	_ "embed"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"
	"unicode/utf8"

	"github.com/rfc6455/websocket"
)

//go:embed index.html
var indexHTML []byte

// chatMessage is what the server sends to the room for each message.
type chatMessage struct {
	Room string `json:"room"`
	User string `json:"user"`
	Text string `json:"text"`
	Time string `json:"time"`
}

// maxText bounds one chat message, in bytes.
const maxText = 2000

// newChat returns the chat server (its hub is srv.Hub()) and the HTTP
// handler serving the page and the WebSocket route /ws.
func newChat(auth websocket.TokenAuthenticator, logger *slog.Logger) (*websocket.Server, http.Handler, error) {
	srv, err := websocket.New(websocket.WebSocketConfig{
		TokenAuth:    auth,
		Subprotocols: []string{"chat.v1"},
		DefaultRoom:  "lobby",
		ReadLimit:    maxText,
		// A browser that cannot keep up is closed (1008) rather than
		// holding messages for it.
		SendQueueSize: 64,
		SendBehavior:  websocket.SendClose,
		Logger:        logger,
		OnHubMessage: func(hub *websocket.Hub, c *websocket.Conn, m websocket.Message) {
			if m.Opcode != websocket.TextMessage || !utf8.Valid(m.Data) {
				return
			}
			name := "anonymous"
			if u := m.User; u != nil && u.Name != "" {
				name = u.Name
			} else if u != nil {
				name = u.ID
			}
			out, _ := json.Marshal(chatMessage{Room: m.Room, User: name, Text: string(m.Data), Time: time.Now().Format("15:04:05")})
			hub.BroadcastRoom(m.Room, websocket.TextMessage, out)
		},
	})
	if err != nil {
		return nil, nil, err
	}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "text/html; charset=utf-8")
		w.Header().Set("Content-Security-Policy", "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self' ws: wss:")
		_, _ = w.Write(indexHTML)
	})
	if err := srv.RegisterRoutes(mux); err != nil {
		return nil, nil, err
	}
	return srv, mux, nil
}

func main() {
	addr := flag.String("addr", "127.0.0.1:8080", "listen address")
	flag.Parse()
	if err := run(*addr); err != nil {
		log.Fatal(err)
	}
}

func run(addr string) error {
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelInfo}))
	secret := make([]byte, 32)
	if _, err := rand.Read(secret); err != nil {
		return err
	}
	auth, err := websocket.NewSimpleHS256TokenAuth(secret)
	if err != nil {
		return err
	}
	srv, handler, err := newChat(auth, logger)
	if err != nil {
		return err
	}
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return err
	}
	hs := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}

	fmt.Printf("chat server on http://%s/ — open these demo links (tokens valid 24 h, until restart):\n", ln.Addr())
	for _, user := range []string{"alice", "bob", "carol"} {
		token, err := auth.Sign(map[string]any{"sub": user, "name": user, "exp": time.Now().Add(24 * time.Hour).Unix()})
		if err != nil {
			return err
		}
		fmt.Printf("  %-5s  http://%s/#token=%s\n", user, ln.Addr(), token)
	}

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-stop:
	}
	fmt.Println("shutting down")
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = hs.Shutdown(ctx)  // stop accepting; hijacked connections are the hub's
	_ = srv.Shutdown(ctx) // 1001 to every member
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
