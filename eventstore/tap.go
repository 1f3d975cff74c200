package eventstore

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sync"

	"github.com/nats-io/nats.go"
)

// TapEnv names the environment variable of the event tap, a test aid:
// when it names a directory, every process writes each message it encodes
// for the stream, headers and body, as one JSON line to a file of its own
// there. scripts/test sets it for the whole test run and then checks every
// event the suite produced against the JSON Schemas of docs/schema.
const TapEnv = "KCLEDGER_EVENT_TAP"

// TapRecord is one line of a tap file.
type TapRecord struct {
	Subject string              `json:"subject"`
	Header  map[string][]string `json:"header"`
	Data    json.RawMessage     `json:"data"`
}

var tapState struct {
	once sync.Once
	mu   sync.Mutex
	f    *os.File
}

// tapDir is the tap's directory, read once: "" when there is no tap.
var tapDir = sync.OnceValue(func() string { return os.Getenv(TapEnv) })

func tap(m *nats.Msg) {
	dir := tapDir()
	if dir == "" {
		return
	}
	tapState.once.Do(func() {
		f, err := os.OpenFile(filepath.Join(dir, fmt.Sprintf("events-%d.jsonl", os.Getpid())), os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o600)
		if err != nil {
			fmt.Fprintf(os.Stderr, "kcledger: %s: %v\n", TapEnv, err)
			return
		}
		tapState.f = f
	})
	if tapState.f == nil {
		return
	}
	line, err := json.Marshal(TapRecord{Subject: m.Subject, Header: m.Header, Data: m.Data})
	if err != nil {
		return
	}
	tapState.mu.Lock()
	defer tapState.mu.Unlock()
	_, _ = tapState.f.Write(append(line, '\n'))
}
