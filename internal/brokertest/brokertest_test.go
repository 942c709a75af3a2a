package brokertest

import (
	"strings"
	"testing"
)

// TestStartKillRestart starts each broker, kills it and starts it again on
// the same address.
func TestStartKillRestart(t *testing.T) {
	for _, start := range []func(testing.TB) *Server{StartNATS, StartRedis} {
		s := start(t)
		if err := s.ping(); err != nil {
			t.Fatalf("%s: %v", s.Kind, err)
		}
		addr := s.Addr
		s.Kill()
		if err := s.ping(); err == nil {
			t.Fatalf("%s answers after Kill", s.Kind)
		}
		if err := s.Restart(); err != nil {
			t.Fatalf("%s: %v", s.Kind, err)
		}
		if s.Addr != addr || s.ping() != nil || s.Pid() == 0 {
			t.Fatalf("%s: restarted on %s (was %s), pid %d", s.Kind, s.Addr, addr, s.Pid())
		}
		if n, err := s.PublishCount(); err != nil || n != 0 {
			t.Fatalf("%s: PublishCount = %d, %v", s.Kind, n, err)
		}
	}
}

func TestBinaryMissing(t *testing.T) {
	_, err := Binary("no-such-broker-server")
	if err == nil || !strings.Contains(err.Error(), "scripts/setup.sh") {
		t.Fatalf("err = %v, want the install hint", err)
	}
}
