// Package brokertest starts real message brokers (nats-server,
// redis-server) on 127.0.0.1 for tests: the relay adapters' tests and the
// multi-process cluster test. A missing binary fails the test with the
// install hint; it is never a skip.
package brokertest

import (
	"bufio"
	"errors"
	"fmt"
	"net"
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
		args = []string{"-a", "127.0.0.1", "-p", port}
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
