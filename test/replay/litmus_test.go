package replay

import (
	"bytes"
	"context"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/davnas/davnas/internal/testutil"
)

// litmusSuites are the suites litmus 0.13 runs. litmus stops after the first
// suite with a failure, so each runs on its own against a fresh server.
var litmusSuites = []string{"basic", "copymove", "props", "locks", "http"}

// litmusAllowedWarnings lists, per suite, the litmus warnings davnas accepts
// (as "test: message"), each with the reason. Empty: none is accepted.
var litmusAllowedWarnings = map[string][]string{}

var (
	litmusSummary = regexp.MustCompile("<- summary for `([a-z]+)': of ([0-9]+) tests run: ([0-9]+) passed, ([0-9]+) failed")
	litmusTest    = regexp.MustCompile(`^\s*[0-9]+\.\s+([A-Za-z0-9_]+)\.*\s*(.*)$`)
)

// litmusWarnings returns the warnings in litmus output as "test: message".
// litmus redraws a test's line with \r, so each \r-separated piece is read.
func litmusWarnings(out string) []string {
	var warnings []string
	for line := range strings.SplitSeq(strings.ReplaceAll(out, "\r", "\n"), "\n") {
		i := strings.Index(line, "WARNING")
		if i < 0 {
			continue
		}
		name := "?"
		if m := litmusTest.FindStringSubmatch(line[:i]); m != nil {
			name = m[1]
		}
		msg := strings.TrimSpace(strings.TrimPrefix(strings.TrimSpace(line[i:]), "WARNING:"))
		if w := name + ": " + msg; !slices.Contains(warnings, w) {
			warnings = append(warnings, w)
		}
	}
	slices.Sort(warnings)
	return warnings
}

// failedTests returns litmus's FAIL lines.
func failedTests(out string) []string {
	var fails []string
	for line := range strings.SplitSeq(strings.ReplaceAll(out, "\r", "\n"), "\n") {
		if m := litmusTest.FindStringSubmatch(line); m != nil && strings.HasPrefix(m[2], "FAIL") {
			fails = append(fails, m[1]+": "+m[2])
		}
	}
	return fails
}

// TestLitmus runs the litmus WebDAV test suite (apt package litmus) against
// davnas, one suite per fresh server, and fails on any failed test or on a
// warning that is not in litmusAllowedWarnings.
func TestLitmus(t *testing.T) {
	bin := testutil.Need(t, "litmus")
	for _, suite := range litmusSuites {
		t.Run(suite, func(t *testing.T) {
			t.Parallel()
			p := testutil.Start(t, "")
			ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
			defer cancel()
			cmd := exec.CommandContext(ctx, bin, p.URL+"/dav/")
			cmd.Dir = t.TempDir() // litmus writes debug.log and child.log here
			cmd.Env = append(cmd.Environ(), "TESTS="+suite)
			cmd.WaitDelay = 10 * time.Second
			var out bytes.Buffer
			cmd.Stdout, cmd.Stderr = &out, &out
			err := cmd.Run()
			text := out.String()
			if ctx.Err() != nil {
				t.Fatalf("litmus %s did not finish within 3 minutes:\n%s", suite, text)
			}

			m := litmusSummary.FindStringSubmatch(text)
			if m == nil || m[1] != suite {
				t.Fatalf("litmus %s printed no summary (%v):\n%s", suite, err, text)
			}
			run, _ := strconv.Atoi(m[2])
			passed, _ := strconv.Atoi(m[3])
			failed, _ := strconv.Atoi(m[4])
			t.Logf("litmus %s: %d run, %d passed, %d failed", suite, run, passed, failed)
			if failed != 0 || passed != run || err != nil {
				t.Errorf("litmus %s: %d of %d failed (exit: %v):\n  %s", suite, failed, run, err, strings.Join(failedTests(text), "\n  "))
			}

			warnings := litmusWarnings(text)
			for _, w := range warnings {
				t.Logf("litmus %s warning: %s", suite, w)
			}
			allowed := slices.Clone(litmusAllowedWarnings[suite])
			slices.Sort(allowed)
			if !slices.Equal(warnings, allowed) {
				t.Errorf("litmus %s warnings %q, allow-list %q", suite, warnings, allowed)
			}
		})
	}
}

// TestLitmusOutputParsing checks the parsing above on litmus 0.13's output
// format, where each test line is redrawn after a carriage return.
func TestLitmusOutputParsing(t *testing.T) {
	out := "-> running `basic':\n" +
		"\r 8. delete_null...........\r 8. delete_null........... pass\n" +
		"\r 9. delete_fragment.......\r 9. delete_fragment....... WARNING: DELETE removed collection resource with Request-URI including fragment; unsafe\n" +
		"    ...................... pass (with 1 warning)\n" +
		"\r10. mkcol.................\r10. mkcol................. FAIL (MKCOL on `/dav/litmus/coll/': 500 Internal Server Error)\n" +
		"-> 1 warning was issued.\n" +
		"<- summary for `basic': of 16 tests run: 15 passed, 1 failed. 93.8%\n"
	if got, want := litmusWarnings(out), []string{"delete_fragment: DELETE removed collection resource with Request-URI including fragment; unsafe"}; !slices.Equal(got, want) {
		t.Errorf("warnings %q, want %q", got, want)
	}
	if got := failedTests(out); len(got) != 1 || !strings.HasPrefix(got[0], "mkcol: FAIL (MKCOL") {
		t.Errorf("failures %q", got)
	}
	if m := litmusSummary.FindStringSubmatch(out); m == nil || m[1] != "basic" || m[2] != "16" || m[3] != "15" || m[4] != "1" {
		t.Errorf("summary %q", m)
	}
}
