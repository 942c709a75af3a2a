package loadgen

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/rfc6455/websocket/bench/servers"
)

// SelfCommand starts a server by executing the current binary with
// servers.ChildEnv=1, for binaries that call servers.MaybeRunChild first
// thing (cmd/peers, and this package's test binary).
func SelfCommand(args ...string) (*exec.Cmd, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(exe, args...)
	cmd.Env = append(os.Environ(), servers.ChildEnv+"=1")
	return cmd, nil
}

// serverProc is one running server process.
type serverProc struct {
	cmd    *exec.Cmd
	pid    int
	addr   string
	stdin  io.WriteCloser
	stderr *tailBuffer
	http   *http.Client
	waited chan struct{}
	werr   error
}

// startServer starts a server for lib with extra arguments and waits for
// its address.
func startServer(ctx context.Context, command func(args ...string) (*exec.Cmd, error), lib string, extra ...string) (*serverProc, error) {
	args := append([]string{"-lib", lib, "-exit-on-eof"}, extra...)
	cmd, err := command(args...)
	if err != nil {
		return nil, err
	}
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	s := &serverProc{cmd: cmd, stderr: &tailBuffer{max: 4096}, waited: make(chan struct{})}
	cmd.Stderr = s.stderr
	out, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if s.stdin, err = cmd.StdinPipe(); err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	s.pid = cmd.Process.Pid
	lines := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(out)
		if sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		_, _ = io.Copy(io.Discard, out)
	}()
	go func() {
		s.werr = cmd.Wait()
		close(s.waited)
	}()
	t := time.NewTimer(30 * time.Second)
	defer t.Stop()
	select {
	case line, ok := <-lines:
		addr, found := strings.CutPrefix(line, "ADDR ")
		if !ok || !found {
			s.kill()
			return nil, fmt.Errorf("loadgen: %s server did not start: %q %s", lib, line, s.stderr)
		}
		s.addr = addr
	case <-t.C:
		s.kill()
		return nil, fmt.Errorf("loadgen: %s server did not print its address in 30 s: %s", lib, s.stderr)
	case <-ctx.Done():
		s.kill()
		return nil, ctx.Err()
	}
	s.http = &http.Client{Timeout: 30 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}}
	return s, nil
}

// get fetches a harness endpoint (/stats, /gc) and returns its body.
func (s *serverProc) get(path string) (string, error) {
	resp, err := s.http.Get("http://" + s.addr + path)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("loadgen: GET %s: %s", path, resp.Status)
	}
	return string(b), nil
}

// waitCounts polls /stats until the server counts at least conns open
// connections and members broadcast members, or timeout passes.
func (s *serverProc) waitCounts(conns, members int64, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	for {
		body, err := s.get("/stats")
		if err != nil {
			return err
		}
		c, m, err := servers.ParseStats(body)
		if err != nil {
			return err
		}
		if c >= conns && m >= members {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("loadgen: server counts %d connections and %d members after %v, want %d and %d", c, m, timeout, conns, members)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// settledRSS runs the server's GC and returns its RSS once it settled.
func (s *serverProc) settledRSS() (int64, error) {
	if _, err := s.get("/gc"); err != nil {
		return 0, err
	}
	time.Sleep(200 * time.Millisecond)
	return procRSS(s.pid)
}

// mem returns the server's in-use heap and goroutine stack bytes (call it
// after settledRSS, which ran a GC).
func (s *serverProc) mem() (heap, stack int64, err error) {
	body, err := s.get("/mem")
	if err != nil {
		return 0, 0, err
	}
	return servers.ParseMem(body)
}

func (s *serverProc) cpu() (time.Duration, error) { return procCPU(s.pid) }

// stop asks the server to exit (SIGTERM: it writes its profiles) and
// waits for it; it kills it after 20 s.
func (s *serverProc) stop() error {
	_ = s.cmd.Process.Signal(syscall.SIGTERM)
	t := time.NewTimer(20 * time.Second)
	defer t.Stop()
	select {
	case <-s.waited:
	case <-t.C:
		s.kill()
		return fmt.Errorf("loadgen: server %d did not exit on SIGTERM", s.pid)
	}
	_ = s.stdin.Close()
	var ee *exec.ExitError
	if s.werr != nil && !errors.As(s.werr, &ee) {
		return s.werr
	}
	if s.werr != nil {
		return fmt.Errorf("loadgen: server exited: %v: %s", s.werr, s.stderr)
	}
	return nil
}

func (s *serverProc) kill() {
	_ = s.cmd.Process.Kill()
	<-s.waited
}

// tailBuffer keeps the last max bytes written to it.
type tailBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
	max int
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.mu.Lock()
	defer t.mu.Unlock()
	t.buf.Write(p)
	if over := t.buf.Len() - t.max; over > 0 {
		t.buf.Next(over)
	}
	return len(p), nil
}

func (t *tailBuffer) String() string {
	t.mu.Lock()
	defer t.mu.Unlock()
	return strings.TrimSpace(t.buf.String())
}
