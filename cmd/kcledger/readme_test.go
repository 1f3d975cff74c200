package main

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// tourCommand is a command of the README's tour with the lines the README
// shows it print.
type tourCommand struct {
	line   int // in README.md
	text   string
	output []string
}

// readmeTour reads the commands of the README's "A five-minute tour":
// in its ```console blocks the lines that start with "$ ", in its ```sh
// blocks every line; a line ending in a backslash goes on on the next.
func readmeTour(t *testing.T) []tourCommand {
	t.Helper()
	data, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	require.NoError(t, err)
	lines := strings.Split(string(data), "\n")
	var (
		tour          []tourCommand
		inTour, found bool
		block         string // "console", "sh" or "" outside a block
	)
	for i := 0; i < len(lines); i++ {
		l := lines[i]
		if strings.HasPrefix(l, "## ") {
			inTour = l == "## A five-minute tour"
			found = found || inTour
			continue
		}
		if !inTour {
			continue
		}
		if strings.HasPrefix(l, "```") {
			if block != "" {
				block = ""
			} else {
				block = strings.TrimPrefix(l, "```")
			}
			continue
		}
		if block != "console" && block != "sh" || strings.TrimSpace(l) == "" {
			continue
		}
		text, isCommand := strings.CutPrefix(l, "$ ")
		if block == "sh" {
			text, isCommand = l, true
		}
		if !isCommand {
			if len(tour) > 0 {
				tour[len(tour)-1].output = append(tour[len(tour)-1].output, l)
			}
			continue
		}
		c := tourCommand{line: i + 1}
		for strings.HasSuffix(text, `\`) && i+1 < len(lines) {
			i++
			text = strings.TrimSuffix(text, `\`) + " " + strings.TrimSpace(lines[i])
		}
		c.text = text
		tour = append(tour, c)
	}
	require.True(t, found, "README.md has no section \"A five-minute tour\"")
	return tour
}

// shellWords splits a command line as sh would for the simple lines of
// the tour: words, '…' and "…" quotes, a # comment, and > FILE.
func shellWords(line string) (words []string, redirect string, err error) {
	var (
		cur     strings.Builder
		inWord  bool
		toStdin bool
	)
	flush := func() {
		if !inWord {
			return
		}
		if toStdin {
			redirect, toStdin = cur.String(), false
		} else {
			words = append(words, cur.String())
		}
		cur.Reset()
		inWord = false
	}
	for i := 0; i < len(line); i++ {
		switch ch := line[i]; {
		case ch == ' ' || ch == '\t':
			flush()
		case ch == '#' && !inWord:
			flush()
			return words, redirect, nil
		case ch == '>' && !inWord:
			toStdin = true
		case ch == '\'':
			j := strings.IndexByte(line[i+1:], '\'')
			if j < 0 {
				return nil, "", fmt.Errorf("unclosed ' in %q", line)
			}
			cur.WriteString(line[i+1 : i+1+j])
			inWord, i = true, i+1+j
		case ch == '"':
			j := strings.IndexByte(line[i+1:], '"')
			if j < 0 {
				return nil, "", fmt.Errorf("unclosed \" in %q", line)
			}
			if strings.ContainsAny(line[i+1:i+1+j], "$`\\") {
				return nil, "", fmt.Errorf("shell expansion in %q", line)
			}
			cur.WriteString(line[i+1 : i+1+j])
			inWord, i = true, i+1+j
		case ch == '$' || ch == '`' || ch == '\\' || ch == '|' || ch == '&' || ch == ';' || ch == '<':
			return nil, "", fmt.Errorf("shell syntax %q in %q", ch, line)
		default:
			cur.WriteByte(ch)
			inWord = true
		}
	}
	flush()
	if toStdin {
		return nil, "", fmt.Errorf("> without a file in %q", line)
	}
	return words, redirect, nil
}

var (
	tourUser     = regexp.MustCompile(`(?:--user |KCLEDGER_NATS_USER=)(\S+)`)
	tourPassword = regexp.MustCompile(`'[0-9a-f]*…'`)
	tourPending  = regexp.MustCompile(`, (\d+) pending`)
)

// The README's tour, run as written against a real serve, in a directory
// of its own that stands for the reader's checkout. Only what must be is
// substituted: serve's addresses (the tour's are the defaults, these are
// random ports) and the passwords the tour shows as '5c1e…', taken from
// what nats-user add printed earlier in the run.
func TestREADMETour(t *testing.T) {
	tour := readmeTour(t)
	work := t.TempDir()
	p := startServe(t, "--data", filepath.Join(work, "kcledger-data"))
	natsBin := os.Getenv("KCLEDGER_NATS_CLI")

	// The environment of a reader's shell: none of the machine's
	// KCLEDGER_ settings, and the tour's exports as they come.
	var base []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "KCLEDGER_") {
			base = append(base, kv)
		}
	}
	base = append(base, "KCLEDGER_SERVER="+p.http, "HOME="+t.TempDir())
	exported := map[string]string{}
	environ := func() []string {
		env := append([]string(nil), base...)
		for k, v := range exported {
			env = append(env, k+"="+v)
		}
		return env
	}
	passwords := map[string]string{} // NATS user → password, as printed
	var written []string             // files the tour writes in the checkout
	ran := 0

	for _, c := range tour {
		text := strings.ReplaceAll(c.text, "nats://127.0.0.1:4222", p.nats)
		if tourPassword.MatchString(text) {
			m := tourUser.FindStringSubmatch(text)
			require.NotNil(t, m, "README.md:%d: a password placeholder without its user", c.line)
			pw, ok := passwords[m[1]]
			require.True(t, ok, "README.md:%d: no earlier nats-user add printed the password of %s", c.line, m[1])
			text = tourPassword.ReplaceAllString(text, "'"+pw+"'")
		}
		require.NotContains(t, text, "…", "README.md:%d: a placeholder left in a command: make it concrete", c.line)
		wantCode := exitOK
		for _, o := range c.output {
			if strings.HasPrefix(o, "kcledger: refused") {
				wantCode = exitRefused
			}
		}

		first := strings.Fields(text)[0]
		switch first {
		case "go":
			// go build -o kcledger ./cmd/kcledger: the binary the other
			// process tests build once stands in for it.
			require.Equal(t, "go build -o kcledger ./cmd/kcledger", text, "README.md:%d", c.line)
			data, err := os.ReadFile(binary(t))
			require.NoError(t, err)
			require.NoError(t, os.WriteFile(filepath.Join(work, "kcledger"), data, 0o755))
			written = append(written, "kcledger")
			continue
		case "bean-check", "bean-query":
			continue // TestExports runs the real Beancount tools on the export
		case "nats":
			if natsBin == "" {
				continue // the nats CLI only with KCLEDGER_NATS_CLI
			}
			// Through sh, as the reader's shell would: $(cat ...).
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			cmd := exec.CommandContext(ctx, "/bin/sh", "-c", text)
			cmd.Dir = work
			cmd.Env = append(environ(), "PATH="+filepath.Dir(natsBin)+string(os.PathListSeparator)+os.Getenv("PATH"))
			out, err := cmd.CombinedOutput()
			cancel()
			require.NoError(t, err, "README.md:%d: %s\n%s", c.line, text, out)
			ran++
			continue
		}

		words, redirect, err := shellWords(text)
		require.NoError(t, err, "README.md:%d", c.line)
		if words[0] == "export" {
			for _, kv := range words[1:] {
				k, v, ok := strings.Cut(kv, "=")
				require.True(t, ok, "README.md:%d: export %s", c.line, kv)
				exported[k] = v
			}
			continue
		}
		require.Equal(t, "./kcledger", words[0], "README.md:%d: a tour command this test does not know: %s", c.line, text)
		for i, w := range words {
			if w == "--output" && i+1 < len(words) {
				written = append(written, words[i+1])
			}
		}
		if redirect != "" {
			written = append(written, redirect)
		}

		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		cmd := exec.CommandContext(ctx, filepath.Join(work, "kcledger"), words[1:]...)
		cmd.Dir, cmd.Env = work, environ()
		stdout, stderr := &lockedBuffer{}, &lockedBuffer{}
		cmd.Stdout, cmd.Stderr = stdout, stderr
		if redirect != "" {
			f, err := os.Create(filepath.Join(work, redirect))
			require.NoError(t, err)
			cmd.Stdout = f
			defer f.Close()
		}
		if words[1] == "subscribe" {
			// It runs until Ctrl-C (the README's ^C). Its --exec script
			// is the reader's own; this one notes each event it gets.
			runTourSubscriber(t, c, cmd, stderr, words, work)
			cancel()
			ran++
			continue
		}
		err = cmd.Run()
		cancel()
		code := 0
		if ee, ok := err.(*exec.ExitError); ok {
			code = ee.ExitCode()
		} else {
			require.NoError(t, err, "README.md:%d", c.line)
		}
		require.Equal(t, wantCode, code, "README.md:%d: %s\nstdout:\n%s\nstderr:\n%s", c.line, text, stdout, stderr)
		ran++

		if words[1] == "nats-user" {
			var user, pw string
			for _, l := range strings.Split(stdout.String(), "\n") {
				f := strings.Fields(l)
				if len(f) == 2 && f[0] == "user" {
					user = f[1]
				}
				if len(f) == 2 && f[0] == "password" {
					pw = f[1]
				}
			}
			require.NotEmpty(t, pw, "README.md:%d: no password printed:\n%s", c.line, stdout)
			passwords[user] = pw
		}
	}
	require.Greater(t, ran, 15, "the tour's commands were run")

	// What the tour writes in the checkout is ignored by git.
	if _, err := exec.LookPath("git"); err == nil {
		for _, f := range append(written, "kcledger-data/") {
			out, err := exec.Command("git", "-C", filepath.Join("..", ".."), "check-ignore", "--no-index", "-q", f).CombinedOutput()
			assert.NoError(t, err, "the tour writes %s, which .gitignore does not cover: %s", f, out)
		}
	}
}

// runTourSubscriber runs the tour's subscribe until it has handed every
// pending event to its --exec command, then stops it as Ctrl-C does.
func runTourSubscriber(t *testing.T, c tourCommand, cmd *exec.Cmd, stderr *lockedBuffer, words []string, work string) {
	t.Helper()
	for i, w := range words {
		if w == "--exec" && i+1 < len(words) {
			script := filepath.Join(work, words[i+1])
			require.NoError(t, os.WriteFile(script, []byte("#!/bin/sh\ncat >/dev/null\necho \"$KCLEDGER_SEQ\" >> posted.txt\n"), 0o755))
		}
	}
	require.NoError(t, cmd.Start())
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	var pending int
	waitUntil(t, 30*time.Second, func() bool {
		m := tourPending.FindStringSubmatch(stderr.String())
		if m == nil {
			return false
		}
		pending, _ = strconv.Atoi(m[1])
		data, _ := os.ReadFile(filepath.Join(work, "posted.txt"))
		return strings.Count(string(data), "\n") >= pending
	}, stderr.String)
	require.Positive(t, pending, "README.md:%d: the tour's subscriber has events to post", c.line)
	require.NoError(t, cmd.Process.Signal(os.Interrupt))
	select {
	case err := <-done:
		require.NoError(t, err, "README.md:%d: %s", c.line, stderr)
	case <-time.After(30 * time.Second):
		t.Fatalf("README.md:%d: subscribe did not stop within 30s of its Ctrl-C", c.line)
	}
	require.Contains(t, stderr.String(), "kcledger subscribe: stopped")
}
