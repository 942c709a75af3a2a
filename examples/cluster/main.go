// Command cluster runs one node of a chat whose rooms span several
// processes: each node is a websocket.Hub whose broadcasts travel through
// a broker (NATS or Redis pub/sub) to the other nodes, which deliver them
// to their own members.
//
// A node (one per terminal, each on its own port, all on one broker):
//
//	go run . -addr 127.0.0.1:8081 -broker nats -url nats://127.0.0.1:4222
//	go run . -addr 127.0.0.1:8082 -broker redis -url 127.0.0.1:6379
//
// A terminal client (lines typed are sent; messages received are
// printed):
//
//	go run . -connect 'ws://127.0.0.1:8081/ws?room=lobby'
//
// A message is broadcast to the sender's room on every node, as
// "[node] text". Two commands: "/to ROOM text" broadcasts to another room,
// "/all text" to every member of every node. GET /metrics returns the
// hub's metrics (websocket.HubMetrics, with the relay's) as JSON.
//
// This is a demo: connections are not authenticated, and any member may
// write to any room. Put token authentication in front (see
// examples/chat) before exposing it.
package main

import (
	"bufio"
	"context"
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
	"strings"
	"syscall"
	"time"

	"github.com/redis/go-redis/v9"
	"github.com/redis/go-redis/v9/maintnotifications"
	"github.com/rfc6455/websocket"
	natsrelay "github.com/rfc6455/websocket/adapters/nats"
	redisrelay "github.com/rfc6455/websocket/adapters/redis"
)

// maxText bounds one chat message, in bytes.
const maxText = 4000

type config struct {
	addr, broker, url, node string
	retry                   bool
	heartbeat               time.Duration
	quiet                   bool
}

func main() {
	var c config
	flag.StringVar(&c.addr, "addr", "127.0.0.1:8081", "listen address (port 0: any free port)")
	flag.StringVar(&c.broker, "broker", "nats", "broker: nats or redis")
	flag.StringVar(&c.url, "url", "", "broker address (default nats://127.0.0.1:4222 or 127.0.0.1:6379)")
	flag.StringVar(&c.node, "node", "", "node id (default: the listen address)")
	flag.BoolVar(&c.retry, "retry", false, "start even when the broker is down, and keep connecting")
	flag.DurationVar(&c.heartbeat, "heartbeat", 0, "relay heartbeat interval (default websocket.DefaultRelayHeartbeat)")
	flag.BoolVar(&c.quiet, "quiet", false, "log warnings only")
	connect := flag.String("connect", "", "run as a terminal client of this ws:// URL instead of a node")
	flag.Parse()
	var err error
	if *connect != "" {
		err = client(*connect)
	} else {
		err = run(c)
	}
	if err != nil {
		log.Fatal(err)
	}
}

// newRelay connects to the broker.
func newRelay(c config, node string) (websocket.Relay, error) {
	switch c.broker {
	case "nats":
		url := c.url
		if url == "" {
			url = "nats://127.0.0.1:4222"
		}
		return natsrelay.Connect(url, &natsrelay.Options{Name: node, RetryOnFailedConnect: c.retry, ReconnectWait: 100 * time.Millisecond})
	case "redis":
		addr := c.url
		if addr == "" {
			addr = "127.0.0.1:6379"
		}
		rc := redis.NewClient(&redis.Options{
			Addr:        addr,
			DialTimeout: 2 * time.Second,
			// Redis older than 7.2 knows neither CLIENT SETINFO nor
			// maintenance notifications: do not ask.
			DisableIdentity:          true,
			MaintNotificationsConfig: &maintnotifications.Config{Mode: maintnotifications.ModeDisabled},
		})
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		r, err := redisrelay.New(ctx, rc, &redisrelay.Options{RetryOnFailedConnect: c.retry})
		if err != nil {
			rc.Close()
			return nil, err
		}
		return r, nil
	}
	return nil, fmt.Errorf("unknown -broker %q (nats or redis)", c.broker)
}

// newNode returns the node's hub and HTTP handler.
func newNode(c config, node string, relay websocket.Relay, logger *slog.Logger) (*websocket.Hub, http.Handler, error) {
	hub, err := websocket.NewHubWithConfig(websocket.HubConfig{
		SendQueueSize: 1024,
		SendTimeout:   time.Second,
		Logger:        logger,
		Relay:         relay,
		RelayOptions:  websocket.RelayOptions{NodeID: node, Heartbeat: c.heartbeat},
	})
	if err != nil {
		return nil, nil, err
	}
	prefix := []byte("[" + node + "] ")
	mux := http.NewServeMux()
	ws := websocket.ServerConfig{
		Hub:                  hub,
		AllowUnauthenticated: true, // a demo: see the package doc
		DefaultRoom:          "lobby",
		ReadLimit:            maxText,
		Logger:               logger,
		OnMessage: func(conn *websocket.Conn, m websocket.Message) {
			if m.Opcode != websocket.TextMessage {
				return
			}
			text := string(m.Data)
			switch {
			case strings.HasPrefix(text, "/all "):
				hub.BroadcastAll(websocket.TextMessage, append(prefix, text[len("/all "):]...))
			case strings.HasPrefix(text, "/to "):
				room, rest, _ := strings.Cut(text[len("/to "):], " ")
				hub.BroadcastRoom(room, websocket.TextMessage, append(prefix, rest...))
			default:
				hub.BroadcastRoom(m.Room, websocket.TextMessage, append(prefix, text...))
			}
		},
	}
	mux.HandleFunc("/ws", func(w http.ResponseWriter, r *http.Request) { websocket.ServeWSWithConfig(w, r, ws) })
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(hub.Metrics())
	})
	return hub, mux, nil
}

func run(c config) error {
	level := slog.LevelInfo
	if c.quiet {
		level = slog.LevelWarn
	}
	logger := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	ln, err := net.Listen("tcp", c.addr)
	if err != nil {
		return err
	}
	node := c.node
	if node == "" {
		node = ln.Addr().String()
	}
	relay, err := newRelay(c, node)
	if err != nil {
		ln.Close()
		return err
	}
	hub, handler, err := newNode(c, node, relay, logger)
	if err != nil {
		ln.Close()
		return err
	}
	hs := &http.Server{Handler: handler, ReadHeaderTimeout: 10 * time.Second}
	fmt.Printf("node %s on http://%s/ (ws://%s/ws?room=NAME), broker %s\n", node, ln.Addr(), ln.Addr(), c.broker)

	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt, syscall.SIGTERM)
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(ln) }()
	select {
	case err := <-errc:
		return err
	case <-stop:
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	_ = hs.Shutdown(ctx)
	// Publishes what is still queued for the broker, then closes the
	// members with 1001; says what could not be sent.
	if err := hub.Shutdown(ctx); err != nil {
		logger.Warn("shutdown", "err", err)
	}
	if err := <-errc; !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}

// client is a terminal chat client: stdin lines out, messages in.
func client(url string) error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	c, _, err := websocket.Dial(ctx, url, nil)
	cancel()
	if err != nil {
		return err
	}
	defer c.CloseNow()
	go func() {
		sc := bufio.NewScanner(os.Stdin)
		for sc.Scan() {
			if err := c.WriteMessage(websocket.TextMessage, sc.Bytes()); err != nil {
				return
			}
		}
		_ = c.Close(websocket.CloseNormalClosure, "bye")
	}()
	for {
		_, p, err := c.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) && ce.Code == websocket.CloseNormalClosure {
				return nil
			}
			return err
		}
		fmt.Printf("%s\n", p)
	}
}
