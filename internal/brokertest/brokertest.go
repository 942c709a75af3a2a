// Package brokertest starts real message brokers (nats-server,
// redis-server) on 127.0.0.1 for tests: the relay adapters' tests and the
// multi-process cluster test. A missing binary fails the test with the
// install hint; it is never a skip.
package brokertest

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Hint is what a test says when a broker binary is missing.
const Hint = "install it with `bash scripts/setup.sh` (as root; Debian packages nats-server and redis-server)"

// Server is a broker process started by a test. It is killed when the test
// ends.
type Server struct {
	// Kind is "nats" or "redis".
	Kind string
	// Addr is host:port on 127.0.0.1; it stays the same across Restart.
	Addr string
	// monitor is nats-server's HTTP monitoring address.
	monitor string

	bin  string
	dir  string
	mu   sync.Mutex
	cmd  *exec.Cmd
	out  *os.File
	exit chan struct{}
	runs int
}

// URL returns the address in the form the broker's clients take:
// nats://host:port for NATS, host:port for Redis.
func (s *Server) URL() string {
	if s.Kind == "nats" {
		return "nats://" + s.Addr
	}
	return s.Addr
}

// Binary returns the path of the broker binary ("nats-server" or
// "redis-server"), or an error carrying Hint.
func Binary(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range []string{"/usr/sbin", "/usr/bin", "/usr/local/bin", "/usr/local/sbin"} {
		p := filepath.Join(dir, name)
		if st, err := os.Stat(p); err == nil && !st.IsDir() && st.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found in PATH: %s", name, Hint)
}

// StartNATS starts nats-server on a free port of 127.0.0.1.
func StartNATS(t testing.TB) *Server { return start(t, "nats", "nats-server") }

// StartRedis starts redis-server on a free port of 127.0.0.1, without
// persistence.
func StartRedis(t testing.TB) *Server { return start(t, "redis", "redis-server") }

func start(t testing.TB, kind, name string) *Server {
	t.Helper()
	bin, err := Binary(name)
	if err != nil {
		t.Fatal(err)
	}
	s := &Server{Kind: kind, bin: bin, dir: t.TempDir()}
	// A free port: the kernel's pick, released for the server to take.
	var lastErr error
	for range 5 {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		s.Addr = ln.Addr().String()
		ln.Close()
		if kind == "nats" {
			ml, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			s.monitor = ml.Addr().String()
			ml.Close()
		}
		if lastErr = s.launch(); lastErr == nil {
			break
		}
	}
	if lastErr != nil {
		t.Fatalf("starting %s: %v", name, lastErr)
	}
	t.Cleanup(s.Kill)
	return s
}

// launch starts the process on s.Addr and waits until it answers.
func (s *Server) launch() error {
	_, port, _ := net.SplitHostPort(s.Addr)
	var args []string
	if s.Kind == "nats" {
		_, mport, _ := net.SplitHostPort(s.monitor)
		args = []string{"-a", "127.0.0.1", "-p", port, "-m", mport}
	} else {
		args = []string{"--bind", "127.0.0.1", "--port", port, "--save", "", "--appendonly", "no",
			"--protected-mode", "no", "--daemonize", "no", "--dir", s.dir}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.runs++
	out, err := os.Create(filepath.Join(s.dir, s.Kind+"-"+strconv.Itoa(s.runs)+".log"))
	if err != nil {
		return err
	}
	cmd := exec.Command(s.bin, args...)
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		out.Close()
		return err
	}
	exit := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exit) }()
	s.cmd, s.out, s.exit = cmd, out, exit
	deadline := time.Now().Add(15 * time.Second)
	for {
		err := s.ping()
		if err == nil {
			return nil
		}
		select {
		case <-exit:
			log, _ := os.ReadFile(out.Name())
			return fmt.Errorf("%s exited: %s", s.bin, strings.TrimSpace(string(log)))
		default:
		}
		if time.Now().After(deadline) {
			s.killLocked()
			return fmt.Errorf("%s on %s not ready after 15s: %v", s.bin, s.Addr, err)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// ping checks that the broker answers on s.Addr.
func (s *Server) ping() error {
	c, err := net.DialTimeout("tcp", s.Addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(2 * time.Second))
	br := bufio.NewReader(c)
	if s.Kind == "nats" {
		line, err := br.ReadString('\n')
		if err != nil {
			return err
		}
		if !strings.HasPrefix(line, "INFO ") {
			return fmt.Errorf("unexpected greeting %q", line)
		}
		return nil
	}
	if _, err := c.Write([]byte("PING\r\n")); err != nil {
		return err
	}
	line, err := br.ReadString('\n')
	if err != nil {
		return err
	}
	if line != "+PONG\r\n" {
		return fmt.Errorf("PING answered %q", line)
	}
	return nil
}

// Kill kills the broker (SIGKILL: no goodbye to its clients) and waits
// for it to exit. Killing a stopped broker does nothing.
func (s *Server) Kill() {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.killLocked()
}

func (s *Server) killLocked() {
	if s.cmd == nil {
		return
	}
	_ = s.cmd.Process.Kill()
	<-s.exit
	s.out.Close()
	s.cmd = nil
}

// Restart starts the broker again on the same address (after Kill; it
// kills a running one first).
func (s *Server) Restart() error {
	s.Kill()
	var err error
	// The port may be briefly unavailable; retry for a few seconds.
	for range 50 {
		if err = s.launch(); err == nil {
			return nil
		}
		time.Sleep(100 * time.Millisecond)
	}
	return errors.New("restart: " + err.Error())
}

// Log returns what the broker printed in its latest run.
func (s *Server) Log() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	b, _ := os.ReadFile(filepath.Join(s.dir, s.Kind+"-"+strconv.Itoa(s.runs)+".log"))
	return string(b)
}

// Pid returns the broker's process id, 0 when it is not running.
func (s *Server) Pid() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return 0
	}
	return s.cmd.Process.Pid
}

// PublishCount returns how many messages the broker has taken from
// publishers since it started: nats-server's in_msgs (/varz), Redis's
// PUBLISH calls (INFO commandstats).
func (s *Server) PublishCount() (uint64, error) {
	if s.Kind == "nats" {
		c := http.Client{Timeout: 5 * time.Second}
		resp, err := c.Get("http://" + s.monitor + "/varz")
		if err != nil {
			return 0, err
		}
		defer resp.Body.Close()
		var v struct {
			InMsgs uint64 `json:"in_msgs"`
		}
		if err := json.NewDecoder(resp.Body).Decode(&v); err != nil {
			return 0, err
		}
		return v.InMsgs, nil
	}
	c, err := net.DialTimeout("tcp", s.Addr, time.Second)
	if err != nil {
		return 0, err
	}
	defer c.Close()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := c.Write([]byte("INFO commandstats\r\n")); err != nil {
		return 0, err
	}
	br := bufio.NewReader(c)
	head, err := br.ReadString('\n')
	if err != nil || !strings.HasPrefix(head, "$") {
		return 0, fmt.Errorf("INFO answered %q: %v", head, err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(head[1:]))
	if err != nil {
		return 0, err
	}
	body := make([]byte, n)
	if _, err := io.ReadFull(br, body); err != nil {
		return 0, err
	}
	for _, line := range strings.Split(string(body), "\r\n") {
		if rest, ok := strings.CutPrefix(line, "cmdstat_publish:calls="); ok {
			calls, _, _ := strings.Cut(rest, ",")
			return strconv.ParseUint(calls, 10, 64)
		}
	}
	return 0, nil // no PUBLISH yet
}

// CPU returns the CPU time (user + system) process pid has used, read from
// /proc (Linux; 0 elsewhere), with a resolution of one clock tick (10 ms).
// pid 0 means this process.
func CPU(pid int) time.Duration {
	path := "/proc/self/stat"
	if pid != 0 {
		path = "/proc/" + strconv.Itoa(pid) + "/stat"
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return 0
	}
	// Fields after the command (which may hold spaces) start at ") ".
	i := strings.LastIndexByte(string(b), ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	// utime and stime are fields 14 and 15 of the line, 12 and 13 here.
	if len(f) < 13 {
		return 0
	}
	u, _ := strconv.ParseUint(f[11], 10, 64)
	st, _ := strconv.ParseUint(f[12], 10, 64)
	return time.Duration(u+st) * 10 * time.Millisecond
}
