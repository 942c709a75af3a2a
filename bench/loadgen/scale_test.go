package loadgen

import (
	"context"
	"os"
	"strings"
	"testing"
	"time"
)

func TestParseWorkload(t *testing.T) {
	tests := []struct {
		in       string
		base     string
		size     int
		wantErr  string
		wantName string
	}{
		{in: "broadcast", base: Broadcast, wantName: "broadcast"},
		{in: "broadcast:10000", base: Broadcast, size: 10000, wantName: "broadcast, 10,000 members"},
		{in: "idle:19000", base: Idle, size: 19000, wantName: "idle, 19,000 conns"},
		{in: "echo-small:5", wantErr: "takes no size"},
		{in: "broadcast:0", wantErr: "not a positive count"},
		{in: "broadcast:x", wantErr: "not a positive count"},
		{in: "nope:3", wantErr: "unknown workload"},
	}
	for _, tt := range tests {
		base, size, err := parseWorkload(tt.in)
		if tt.wantErr != "" {
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("parseWorkload(%q) = %v, want an error with %q", tt.in, err, tt.wantErr)
			}
			continue
		}
		if err != nil || base != tt.base || size != tt.size {
			t.Errorf("parseWorkload(%q) = %q, %d, %v; want %q, %d", tt.in, base, size, err, tt.base, tt.size)
		}
		if got := workloadLabel(tt.in); got != tt.wantName {
			t.Errorf("workloadLabel(%q) = %q, want %q", tt.in, got, tt.wantName)
		}
	}
	for _, w := range ScaleWorkloads {
		if _, _, err := parseWorkload(w); err != nil {
			t.Errorf("ScaleWorkloads entry %q: %v", w, err)
		}
	}
}

func TestParseSyscw(t *testing.T) {
	n, err := parseSyscw([]byte("rchar: 10\nwchar: 0\nsyscr: 3\nsyscw: 42\nread_bytes: 0\n"))
	if err != nil || n != 42 {
		t.Fatalf("parseSyscw = %d, %v; want 42", n, err)
	}
	for _, bad := range []string{"rchar: 1\n", "syscw: x\n"} {
		if _, err := parseSyscw([]byte(bad)); err == nil {
			t.Errorf("parseSyscw(%q) succeeded", bad)
		}
	}
}

// TestScaleHarness runs sized workloads on tiny counts against this
// module's library, with window profiles, and checks every metric,
// including the write system calls per delivery, and the table's labels.
func TestScaleHarness(t *testing.T) {
	if testing.Short() {
		t.Skip("starts server processes")
	}
	cfg := QuickConfig()
	cfg.Libs = []string{"ours"}
	cfg.Workloads = []string{Broadcast + ":30", Idle + ":50"}
	cfg.Warmup = 50 * time.Millisecond
	cfg.Duration = time.Second
	cfg.IdleSettle = 50 * time.Millisecond
	cfg.WindowProfileDir = t.TempDir()
	rep, err := Run(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range rep.Results {
		if r.Err != nil {
			t.Fatalf("%s: %v", r.Workload, r.Err)
		}
		for _, d := range rowsFor(r.Workload) {
			if _, ok := r.Metrics[d.key]; !ok {
				t.Errorf("%s: no %q", r.Workload, d.label)
			}
		}
	}
	if w := rep.Results[0].Metrics[mWritesPerOp]; w <= 0 || w > 2 {
		t.Errorf("broadcast: %v write system calls per delivery, want (0, 2]", w)
	}
	if files, err := os.ReadDir(cfg.WindowProfileDir); err != nil || len(files) != 1 {
		t.Errorf("window profiles: %v, %v; want the broadcast's", files, err)
	}
	table := rep.Table()
	for _, want := range []string{"| broadcast, 30 members | deliveries/s |", "| idle, 50 conns |"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
	cfg.CPUProfileDir = t.TempDir()
	if _, err := Run(context.Background(), cfg); err == nil {
		t.Error("Run with both CPUProfileDir and WindowProfileDir succeeded")
	}
}
