package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"
)

// dataLockFile is the file, in the data directory, that serve holds an
// OS lock on for its whole life. Two serve processes on one store would
// each believe the stream's state is theirs: both acknowledged "seq 1" in
// the review that found it, and after a restart one of the two
// acknowledged allocations was gone.
const dataLockFile = "LOCK"

// lockHolder is what the lock file says of the process that holds it, so
// that the next one can name it.
type lockHolder struct {
	PID     int       `json:"pid"`
	Started time.Time `json:"started"`
	HTTP    string    `json:"http"`
	Host    string    `json:"host"`
}

// errDataDirInUse is the refusal of a data directory another process
// holds.
var errDataDirInUse = errors.New("the data directory is in use")

// lockDataDir takes the data directory's lock, creating the directory if
// needed, or says which process holds it. The lock ends with the process
// (or with unlock): an OS lock, not a file's presence, so a killed
// process leaves nothing to clean.
func lockDataDir(dir, httpAddr string, now time.Time) (unlock func(), err error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("data directory: %w", err)
	}
	path := filepath.Join(dir, dataLockFile)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("data directory lock: %w", err)
	}
	if err := lockFile(f); err != nil {
		var h lockHolder
		b, _ := os.ReadFile(path)
		_ = json.Unmarshal(b, &h)
		f.Close()
		if h.PID == 0 {
			return nil, fmt.Errorf("%w: %s is held by another kcledger serve (%v); stop it, or give this one another --data", errDataDirInUse, dir, err)
		}
		return nil, fmt.Errorf("%w: %s is held by another kcledger serve (pid %d on %s, started %s, HTTP %s); stop it, or give this one another --data",
			errDataDirInUse, dir, h.PID, h.Host, lockTime(h.Started), h.HTTP)
	}
	host, _ := os.Hostname()
	b, _ := json.Marshal(lockHolder{PID: os.Getpid(), Started: now, HTTP: httpAddr, Host: host})
	if err := f.Truncate(0); err == nil {
		_, _ = f.WriteAt(append(b, '\n'), 0)
	}
	return func() { f.Close() }, nil
}

// lockTime prints when the other process started: Vietnam's time,
// labelled.
func lockTime(t time.Time) string {
	if t.IsZero() {
		return "at an unknown time"
	}
	return t.In(vietnam).Format("2006-01-02 15:04:05") + " ICT"
}
