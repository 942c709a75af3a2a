package main

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// entry builds one case's index.json entry.
func entry(behavior, behaviorClose string, code string) string {
	return `{"behavior": "` + behavior + `", "behaviorClose": "` + behaviorClose +
		`", "duration": 2, "remoteCloseCode": ` + code + `, "reportfile": "x.html"}`
}

// reportJSON builds an index.json for one agent from case id -> entry.
func reportJSON(agent string, cases ...string) string {
	var b strings.Builder
	b.WriteString(`{"` + agent + `": {`)
	for i := 0; i < len(cases); i += 2 {
		if i > 0 {
			b.WriteString(", ")
		}
		b.WriteString(`"` + cases[i] + `": ` + cases[i+1])
	}
	b.WriteString("}}")
	return b.String()
}

var (
	ok       = entry("OK", "OK", "1000")
	info     = entry("INFORMATIONAL", "INFORMATIONAL", "1000")
	allOK    = reportJSON("lib", "1.1.1", ok, "1.1.2", ok, "2.1", ok, "7.13.1", info, "7.1.6", info)
	withNonS = reportJSON("lib", "1.1.1", ok, "6.4.3", entry("NON-STRICT", "OK", "1007"))
)

func writeFile(t *testing.T, name, content string) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), name)
	if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

func TestRun(t *testing.T) {
	tests := []struct {
		name     string
		reports  []string
		status   int
		stdout   []string // substrings expected in stdout
		stderr   []string // substrings expected in stderr
		noStdout []string
	}{
		{
			name:    "all OK passes",
			reports: []string{allOK},
			status:  0,
			stdout:  []string{`agent "lib": 5 cases`, "OK 3, INFORMATIONAL 2", "PASS"},
		},
		{
			name:    "one NON-STRICT fails",
			reports: []string{withNonS},
			status:  1,
			stdout:  []string{"NON-STRICT 1", "FAIL (1 not OK)", "6.4.3", "remoteCloseCode=1007"},
		},
		{
			name:    "one FAILED fails",
			reports: []string{reportJSON("lib", "1.1.1", ok, "5.1", entry("FAILED", "FAILED", "null"))},
			status:  1,
			stdout:  []string{"FAILED 1", "5.1", "remoteCloseCode=none"},
		},
		{
			name:    "behavior OK with an unclean close fails",
			reports: []string{reportJSON("lib", "7.5.1", entry("OK", "UNCLEAN", "null"))},
			status:  1,
			stdout:  []string{"UNCLEAN 1", "7.5.1"},
		},
		{
			name:    "behavior OK with a wrong close code fails",
			reports: []string{reportJSON("lib", "7.9.1", entry("OK", "WRONG CODE", "1000"))},
			status:  1,
			stdout:  []string{"WRONG CODE 1"},
		},
		{
			name:    "informational-only case passes",
			reports: []string{reportJSON("lib", "7.13.2", info)},
			status:  0,
			stdout:  []string{"INFORMATIONAL 1", "PASS"},
		},
		{
			name:    "INFORMATIONAL elsewhere fails",
			reports: []string{reportJSON("lib", "7.1.5", info)},
			status:  1,
			stdout:  []string{"7.1.5", "FAIL"},
		},
		{
			name:    "UNIMPLEMENTED fails",
			reports: []string{reportJSON("lib", "12.1.1", entry("UNIMPLEMENTED", "OK", "1000"))},
			status:  1,
			stdout:  []string{"UNIMPLEMENTED 1"},
		},
		{
			name:    "malformed JSON is an error",
			reports: []string{`{"lib": {"1.1.1": {"behavior": "OK",`},
			status:  2,
			stderr:  []string{"malformed report"},
		},
		{
			name:    "empty report is an error",
			reports: []string{`{}`},
			status:  2,
			stderr:  []string{"ran no case"},
		},
		{
			name:    "agent without cases is an error",
			reports: []string{`{"lib": {}}`},
			status:  2,
			stderr:  []string{"ran no case"},
		},
		{
			name:    "an error outranks a failure",
			reports: []string{withNonS, `[]`},
			status:  2,
			stdout:  []string{"NON-STRICT 1"},
			stderr:  []string{"malformed report"},
		},
		{
			name:    "every report is judged",
			reports: []string{allOK, withNonS},
			status:  1,
			stdout:  []string{"PASS", "FAIL (1 not OK)"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var args []string
			for _, r := range tt.reports {
				args = append(args, writeFile(t, "index.json", r))
			}
			var stdout, stderr bytes.Buffer
			if got := run(args, &stdout, &stderr); got != tt.status {
				t.Errorf("status %d, want %d\nstdout:\n%s\nstderr:\n%s", got, tt.status, &stdout, &stderr)
			}
			for _, s := range tt.stdout {
				if !strings.Contains(stdout.String(), s) {
					t.Errorf("stdout lacks %q:\n%s", s, &stdout)
				}
			}
			for _, s := range tt.stderr {
				if !strings.Contains(stderr.String(), s) {
					t.Errorf("stderr lacks %q:\n%s", s, &stderr)
				}
			}
		})
	}
}

func TestRunUsageAndMissingFile(t *testing.T) {
	var stdout, stderr bytes.Buffer
	if got := run(nil, &stdout, &stderr); got != 2 {
		t.Errorf("no arguments: status %d, want 2", got)
	}
	missing := filepath.Join(t.TempDir(), "index.json")
	if got := run([]string{missing}, &stdout, &stderr); got != 2 {
		t.Errorf("missing file: status %d, want 2", got)
	}
	if !strings.Contains(stderr.String(), missing) {
		t.Errorf("stderr does not name the missing file:\n%s", &stderr)
	}
}

func TestParseReportErrors(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want error
	}{
		{"truncated", `{"a": {"1.1.1": `, errMalformed},
		{"array", `[]`, errMalformed},
		{"null", `null`, errMalformed},
		{"trailing data", allOK + `{}`, errMalformed},
		{"bad case id", reportJSON("lib", "1.x.1", ok), errMalformed},
		{"empty case id part", reportJSON("lib", "1..1", ok), errMalformed},
		{"missing behavior", reportJSON("lib", "1.1.1", `{"behaviorClose": "OK"}`), errMalformed},
		{"null case", reportJSON("lib", "1.1.1", `null`), errMalformed},
		{"wrong type", reportJSON("lib", "1.1.1", `{"behavior": 1, "behaviorClose": "OK"}`), errMalformed},
		{"no agent", `{}`, errEmpty},
		{"no case", `{"lib": {}}`, errEmpty},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := parseReport(strings.NewReader(tt.in))
			if !errors.Is(err, tt.want) {
				t.Fatalf("parseReport: %v, want an error matching %v", err, tt.want)
			}
		})
	}
}

func TestSummarize(t *testing.T) {
	in := `{
	  "b-agent": {"1.1.1": ` + ok + `},
	  "a-agent": {
	    "1.1.10": ` + entry("OK", "WRONG CODE", "1002") + `,
	    "1.1.2": ` + entry("NON-STRICT", "OK", "1000") + `,
	    "7.1.6": ` + info + `,
	    "10.1.1": ` + ok + `,
	    "9.1.1": ` + entry("FAILED", "UNCLEAN", "null") + `
	  }
	}`
	rep, err := parseReport(strings.NewReader(in))
	if err != nil {
		t.Fatal(err)
	}
	code := func(n int) *int { return &n }
	want := []summary{
		{
			Source: "f", Agent: "a-agent", Total: 5, Duration: 10,
			Counts: map[string]int{"OK": 1, "NON-STRICT": 1, "WRONG CODE": 1, "INFORMATIONAL": 1, "FAILED": 1},
			NotOK: []verdict{
				{"1.1.2", "NON-STRICT", "NON-STRICT", "OK", code(1000), "x.html"},
				{"1.1.10", "WRONG CODE", "OK", "WRONG CODE", code(1002), "x.html"},
				{"9.1.1", "FAILED", "FAILED", "UNCLEAN", nil, "x.html"},
			},
		},
		{Source: "f", Agent: "b-agent", Total: 1, Duration: 2, Counts: map[string]int{"OK": 1}},
	}
	if diff := cmp.Diff(want, summarize("f", rep)); diff != "" {
		t.Errorf("summarize (-want +got):\n%s", diff)
	}
}

func TestCompareCaseIDs(t *testing.T) {
	ids := []string{"10.1.1", "2.1", "1.1.10", "1.1.2", "1.1", "9.7.6", "1.2.1", "01.1"}
	want := []string{"01.1", "1.1", "1.1.2", "1.1.10", "1.2.1", "2.1", "9.7.6", "10.1.1"}
	got := slices.Clone(ids)
	slices.SortFunc(got, compareCaseIDs)
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("order (-want +got):\n%s", diff)
	}
}

// FuzzParseReport checks that any accepted report summarizes consistently:
// every case counted once, and exactly the failing ones listed.
func FuzzParseReport(f *testing.F) {
	f.Add([]byte(allOK))
	f.Add([]byte(withNonS))
	f.Add([]byte(`{"a": {"7.13.1": {"behavior": "OK", "behaviorClose": "INFORMATIONAL"}}}`))
	f.Add([]byte(`{"a": {"1.1.1": {"behavior": "OK", "behaviorClose": "OK", "remoteCloseCode": null}}, "b": {"2.2": {"behavior": "X", "behaviorClose": "Y"}}}`))
	f.Add([]byte(`{}`))
	f.Add([]byte(`{"a": {"1.1.1": `))
	f.Fuzz(func(t *testing.T, data []byte) {
		rep, err := parseReport(bytes.NewReader(data))
		if err != nil {
			if !errors.Is(err, errMalformed) && !errors.Is(err, errEmpty) {
				t.Fatalf("error %v matches neither errMalformed nor errEmpty", err)
			}
			return
		}
		for _, s := range summarize("f", rep) {
			sum, failing := 0, 0
			for _, n := range s.Counts {
				sum += n
			}
			for id, c := range rep[s.Agent] {
				if _, ok := judge(id, c); !ok {
					failing++
				}
			}
			if sum != s.Total || s.Total != len(rep[s.Agent]) || s.Total == 0 {
				t.Fatalf("agent %q: counts sum to %d, total %d, cases %d", s.Agent, sum, s.Total, len(rep[s.Agent]))
			}
			if failing != len(s.NotOK) {
				t.Fatalf("agent %q: %d failing cases, %d listed", s.Agent, failing, len(s.NotOK))
			}
			for i := 1; i < len(s.NotOK); i++ {
				if compareCaseIDs(s.NotOK[i-1].ID, s.NotOK[i].ID) >= 0 {
					t.Fatalf("agent %q: not-OK list out of order: %s before %s", s.Agent, s.NotOK[i-1].ID, s.NotOK[i].ID)
				}
			}
		}
	})
}
