package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/rfc6455/websocket"
	"github.com/rfc6455/websocket/internal/brokertest"
)

// The multi-process test: nodes (this program, built once) on one broker,
// clients spread over them in rooms, broadcasts to rooms and to all from
// every node; then the broker is killed and restarted while broadcasts go
// on.
const (
	nodes        = 3
	clients      = 300
	rooms        = 10
	phase1Rounds = 20
	heartbeat    = 100 * time.Millisecond
)

var (
	buildOnce sync.Once
	buildBin  string
	buildErr  error
)

func TestMain(m *testing.M) {
	code := m.Run()
	if buildBin != "" {
		os.RemoveAll(filepath.Dir(buildBin))
	}
	os.Exit(code)
}

// binary builds this program once per test run.
func binary(t *testing.T) string {
	t.Helper()
	buildOnce.Do(func() {
		dir, err := os.MkdirTemp("", "cluster-test-")
		if err != nil {
			buildErr = err
			return
		}
		buildBin = filepath.Join(dir, "cluster")
		out, err := exec.Command(filepath.Join(runtime.GOROOT(), "bin", "go"), "build", "-o", buildBin, ".").CombinedOutput()
		if err != nil {
			buildErr = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return buildBin
}

// node is a running node process.
type node struct {
	name, addr string
	cmd        *exec.Cmd
	stderr     *lockedBuffer
	exited     chan struct{}
}

type lockedBuffer struct {
	mu sync.Mutex
	b  strings.Builder
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

func startNode(t *testing.T, bin, broker, url, name string) *node {
	t.Helper()
	n := &node{name: name, stderr: &lockedBuffer{}, exited: make(chan struct{})}
	n.cmd = exec.Command(bin, "-addr", "127.0.0.1:0", "-broker", broker, "-url", url, "-node", name,
		"-heartbeat", heartbeat.String(), "-quiet")
	n.cmd.Stderr = n.stderr
	stdout, err := n.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := n.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { _ = n.cmd.Wait(); close(n.exited) }()
	t.Cleanup(func() {
		_ = n.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-n.exited:
		case <-time.After(10 * time.Second):
			_ = n.cmd.Process.Kill()
			<-n.exited
		}
	})
	line, err := bufio.NewReader(stdout).ReadString('\n')
	if err != nil {
		t.Fatalf("%s: %v; stderr:\n%s", name, err, n.stderr)
	}
	go func() { _, _ = io.Copy(io.Discard, stdout) }()
	_, rest, ok := strings.Cut(line, " on http://")
	if !ok {
		t.Fatalf("%s printed %q", name, line)
	}
	n.addr, _, _ = strings.Cut(rest, "/")
	return n
}

func (n *node) metrics(t *testing.T) websocket.HubMetrics {
	t.Helper()
	c := http.Client{Timeout: 5 * time.Second}
	resp, err := c.Get("http://" + n.addr + "/metrics")
	if err != nil {
		t.Fatalf("%s: metrics: %v; stderr:\n%s", n.name, err, n.stderr)
	}
	defer resp.Body.Close()
	var m websocket.HubMetrics
	if err := json.NewDecoder(resp.Body).Decode(&m); err != nil || m.Relay == nil {
		t.Fatalf("%s: metrics: %v %+v", n.name, err, m)
	}
	return m
}

// msg is one broadcast the test asked for: sender node, its number on
// that node, and the target room ("" for all).
type msg struct {
	node, c int
	room    string
}

func (m msg) command() string {
	if m.room == "" {
		return fmt.Sprintf("/all c%d all", m.c)
	}
	return fmt.Sprintf("/to %s c%d %s", m.room, m.c, m.room)
}

// received is one message as a client read it.
type received struct {
	node, c int
}

type member struct {
	node int
	room string
	conn *websocket.Conn
	mu   sync.Mutex
	got  []received
	bad  []string
}

func (c *member) read() {
	for {
		_, p, err := c.conn.ReadMessage()
		if err != nil {
			return
		}
		var r received
		var target string
		if _, err := fmt.Sscanf(string(p), "[node%d] c%d %s", &r.node, &r.c, &target); err != nil {
			c.mu.Lock()
			c.bad = append(c.bad, string(p))
			c.mu.Unlock()
			continue
		}
		c.mu.Lock()
		c.got = append(c.got, r)
		c.mu.Unlock()
	}
}

func (c *member) snapshot() []received {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]received(nil), c.got...)
}

func waitFor(t *testing.T, d time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(d)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("after %v: %s", d, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

func roomName(i int) string { return fmt.Sprintf("room%d", i) }

func TestClusterNATS(t *testing.T)  { testCluster(t, "nats") }
func TestClusterRedis(t *testing.T) { testCluster(t, "redis") }

func testCluster(t *testing.T, kind string) {
	t0 := time.Now()
	mark := func(what string) { t.Logf("%6.2fs %s", time.Since(t0).Seconds(), what) }
	var b *brokertest.Server
	if kind == "nats" {
		b = brokertest.StartNATS(t)
	} else {
		b = brokertest.StartRedis(t)
	}
	bin := binary(t)
	var ns []*node
	for i := range nodes {
		ns = append(ns, startNode(t, bin, kind, b.URL(), fmt.Sprint("node", i)))
	}
	// Every node hears the others' heartbeats before anything is sent.
	for _, n := range ns {
		waitFor(t, 10*time.Second, n.name+" does not see its peers", func() bool { return n.metrics(t).Relay.Peers == nodes-1 })
	}

	mark("nodes up")
	// Clients: client j on node j%nodes, in room (j/nodes)%rooms; client
	// n (in room0) is node n's sender.
	cs := make([]*member, clients)
	for j := range cs {
		c := &member{node: j % nodes, room: roomName((j / nodes) % rooms)}
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		conn, _, err := websocket.Dial(ctx, "ws://"+ns[c.node].addr+"/ws?room="+c.room, nil)
		cancel()
		if err != nil {
			t.Fatalf("client %d: %v", j, err)
		}
		t.Cleanup(func() { conn.CloseNow() })
		c.conn = conn
		cs[j] = c
		go c.read()
	}
	for _, n := range ns {
		waitFor(t, 10*time.Second, n.name+" members", func() bool { return n.metrics(t).ActiveConnections == clients/nodes })
	}

	mark("clients connected")
	var sentMu sync.Mutex
	sent := make([][]msg, nodes) // per node, in order
	count := make([]int, nodes)
	send := func(n int, room string) {
		sentMu.Lock()
		count[n]++
		m := msg{node: n, c: count[n], room: room}
		sent[n] = append(sent[n], m)
		sentMu.Unlock()
		if err := cs[n].conn.WriteMessage(websocket.TextMessage, []byte(m.command())); err != nil {
			t.Errorf("node %d sender: %v", n, err)
		}
	}
	round := func(n int, pause time.Duration, stop <-chan struct{}) bool {
		for r := 0; r <= rooms; r++ {
			room := ""
			if r < rooms {
				room = roomName(r)
			}
			send(n, room)
			if pause > 0 {
				select {
				case <-stop:
					return false
				case <-time.After(pause):
				}
			}
		}
		return true
	}
	// expected returns, for client c, how many messages of sent it should
	// have.
	expected := func(c *member) int {
		sentMu.Lock()
		defer sentMu.Unlock()
		k := 0
		for _, ms := range sent {
			for _, m := range ms {
				if m.room == "" || m.room == c.room {
					k++
				}
			}
		}
		return k
	}

	// Phase 1: every node broadcasts phase1Rounds rounds (each room, then
	// all), all nodes at once. Nothing may be lost.
	var wg sync.WaitGroup
	for n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range phase1Rounds {
				round(n, 0, nil)
			}
		}()
	}
	wg.Wait()
	for j, c := range cs {
		want := expected(c)
		waitFor(t, 30*time.Second, fmt.Sprintf("phase 1: client %d has %d of %d messages", j, len(c.snapshot()), want),
			func() bool { return len(c.snapshot()) >= want })
	}
	for _, n := range ns {
		if r := n.metrics(t).Relay; r.Lost != 0 || r.PublishDropped != 0 {
			t.Fatalf("phase 1: %s lost messages: %+v", n.name, r)
		}
	}
	t.Logf("phase 1: %d broadcasts, every one delivered", 3*phase1Rounds*(rooms+1))

	mark("phase 1 checked")
	// Phase 2: broadcasts go on, paced, while the broker is killed and
	// restarted.
	stop := make(chan struct{})
	for n := range nodes {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for round(n, 10*time.Millisecond, stop) {
			}
		}()
	}
	time.Sleep(300 * time.Millisecond)
	b.Kill()
	time.Sleep(time.Second)
	if err := b.Restart(); err != nil {
		t.Fatal(err)
	}
	for _, n := range ns {
		waitFor(t, 20*time.Second, n.name+" does not reconnect", func() bool {
			r := n.metrics(t).Relay
			return r.Reconnects >= 1 && r.Disconnects >= 1
		})
	}
	mark("reconnected")
	time.Sleep(500 * time.Millisecond)
	close(stop)
	wg.Wait()
	// Delivery has resumed: a last round from every node reaches every
	// member.
	for n := range nodes {
		round(n, 0, nil)
	}
	sentMu.Lock()
	last := make([]int, nodes)
	for n := range nodes {
		last[n] = count[n]
	}
	sentMu.Unlock()
	for j, c := range cs {
		waitFor(t, 20*time.Second, fmt.Sprintf("client %d: the last round is not delivered", j), func() bool {
			seen := 0
			for _, r := range c.snapshot() {
				if r.c == last[r.node] {
					seen++
				}
			}
			return seen == nodes
		})
	}
	mark("last round delivered")
	// Heartbeats settle the counts of what the last round did not reveal.
	time.Sleep(5 * heartbeat)

	for _, n := range ns {
		select {
		case <-n.exited:
			t.Fatalf("%s exited; stderr:\n%s", n.name, n.stderr)
		default:
		}
	}

	// Per client: no duplicates, each publisher's messages in order, every
	// message of its own node.
	type key struct{ node, c int }
	gotBy := make([]map[key]bool, clients)
	for j, c := range cs {
		c.mu.Lock()
		if len(c.bad) > 0 {
			t.Errorf("client %d: unparsable %q", j, c.bad[0])
		}
		c.mu.Unlock()
		gotBy[j] = map[key]bool{}
		prev := make([]int, nodes)
		for _, r := range c.snapshot() {
			k := key{r.node, r.c}
			if gotBy[j][k] {
				t.Fatalf("client %d: message %d of node %d twice", j, r.c, r.node)
			}
			gotBy[j][k] = true
			if r.c <= prev[r.node] {
				t.Fatalf("client %d: node %d's message %d after %d", j, r.node, r.c, prev[r.node])
			}
			prev[r.node] = r.c
		}
	}
	// Per node: a message of another node reaches all its members meant
	// to get it or none (the loss is the node's, not a member's), and the
	// node counts exactly the messages its members missed.
	totalMissed := 0
	for n, nd := range ns {
		missed := 0
		for p := range nodes {
			for _, m := range sent[p] {
				want, got := 0, 0
				for j, c := range cs {
					if c.node != n || m.room != "" && m.room != c.room {
						continue
					}
					want++
					if gotBy[j][key{p, m.c}] {
						got++
					}
				}
				switch {
				case got == want:
				case p == n:
					t.Fatalf("%s: its own message %d reached %d of %d local members", nd.name, m.c, got, want)
				case got != 0:
					t.Fatalf("%s: message %d of node%d reached %d of %d members", nd.name, m.c, p, got, want)
				default:
					missed++
				}
			}
		}
		mt := nd.metrics(t)
		r := mt.Relay
		t.Logf("%s: members missed %d broadcasts of other nodes; relay %+v", nd.name, missed, *r)
		if uint64(missed) != r.Lost {
			t.Errorf("%s: members missed %d broadcasts, the node counted %d lost", nd.name, missed, r.Lost)
		}
		if r.Invalid != 0 || mt.BroadcastDropped != 0 || mt.BroadcastClosed != 0 {
			t.Errorf("%s: invalid %d, dropped %d, closed %d", nd.name, r.Invalid, mt.BroadcastDropped, mt.BroadcastClosed)
		}
		if r.Published+r.PublishDropped != uint64(len(sent[n])) {
			t.Errorf("%s: published %d + dropped %d, but %d broadcasts", nd.name, r.Published, r.PublishDropped, len(sent[n]))
		}
		totalMissed += missed
	}
	t.Logf("phase 2: %d broadcasts in all, %d (broadcast, node) pairs lost across the broker restart, all counted",
		len(sent[0])+len(sent[1])+len(sent[2]), totalMissed)
}
