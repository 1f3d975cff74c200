package eventstore

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// Backups copy whole JetStream streams with the server's own snapshot
// and restore API ($JS.API.STREAM.SNAPSHOT and .RESTORE, the protocol
// the nats CLI's "stream backup" and "stream restore" speak): a snapshot
// is the stream's store itself, so a restored stream keeps every
// message, its sequence, headers and timestamp, and the gaps. nats.go
// has no client for it; this is one.

// BackupStream is one stream a backup takes, with what it holds.
type BackupStream struct {
	Name string
	// Role says what the stream is to kcledger: "checkpoints",
	// "events", "signers" or "accounts".
	Role string
}

// BackupStreams are the streams that make a ledger, in the order a
// backup takes them: the checkpoints first, so that none counts an event
// the backup's stream lacks (a restored serve resumes from them); the
// signers after the events, so that every key that signed a backed-up
// event is registered in the backup (a key is registered before it
// signs); the accounts last. The web console's sessions are left out: a
// restored ledger asks everyone to log in again.
func BackupStreams(stream, accountsBucket string) []BackupStream {
	if stream == "" {
		stream = DefaultStream
	}
	if accountsBucket == "" {
		accountsBucket = DefaultAccountsBucket
	}
	return []BackupStream{
		{Name: "OBJ_" + DefaultCheckpointsBucket, Role: "checkpoints"},
		{Name: stream, Role: "events"},
		{Name: "KV_" + DefaultSignersBucket, Role: "signers"},
		{Name: "KV_" + accountsBucket, Role: "accounts"},
	}
}

// SnapshotState is what a snapshot, or a restored stream, holds: the
// fields of JetStream's stream state a restore is checked against.
type SnapshotState struct {
	Messages   uint64    `json:"messages"`
	Bytes      uint64    `json:"bytes"`
	FirstSeq   uint64    `json:"first_seq"`
	FirstTime  time.Time `json:"first_ts"`
	LastSeq    uint64    `json:"last_seq"`
	LastTime   time.Time `json:"last_ts"`
	NumDeleted int       `json:"num_deleted,omitempty"`
}

// Same says whether two states name the same messages: counts, bounds
// and times (the bytes a store counts may differ between servers).
func (s SnapshotState) Same(o SnapshotState) bool {
	return s.Messages == o.Messages && s.FirstSeq == o.FirstSeq && s.LastSeq == o.LastSeq &&
		s.FirstTime.Equal(o.FirstTime) && s.LastTime.Equal(o.LastTime) && s.NumDeleted == o.NumDeleted
}

// Snapshot is what the server said of a stream it snapshotted: its
// configuration, verbatim (a restore gives it back as it was), and its
// state when the snapshot began. Messages appended while the snapshot
// is being written may be in it too: only a restore tells exactly.
type Snapshot struct {
	Config json.RawMessage `json:"config"`
	State  SnapshotState   `json:"state"`
}

// Limits of the backup protocol.
const (
	snapshotChunkBytes = 128 * 1024
	// snapshotIdle bounds the wait for the server's next chunk, and for
	// its answer to one of ours.
	snapshotIdle = 30 * time.Second
	// snapshotStart bounds the wait for the snapshot to begin: the
	// server first checks every message's checksum.
	snapshotStart = 10 * time.Minute
	// restoreFinish bounds the wait for a restored stream to load.
	restoreFinish = 10 * time.Minute
)

// apiError is the error of a JetStream API answer.
type apiError struct {
	Code        int    `json:"code"`
	ErrCode     int    `json:"err_code"`
	Description string `json:"description"`
}

func (e *apiError) Error() string {
	return fmt.Sprintf("%s (JetStream error %d)", e.Description, e.ErrCode)
}

// SnapshotStream writes a snapshot of stream name to w, the server's
// bytes as they come, and returns what the server said of it. progress,
// when set, is told the bytes written so far after each chunk. The
// server checks every message's checksum before it begins, and a stream
// whose store is damaged is refused.
func SnapshotStream(ctx context.Context, nc *nats.Conn, name string, w io.Writer, progress func(int64)) (Snapshot, error) {
	fail := func(err error) (Snapshot, error) {
		return Snapshot{}, fmt.Errorf("eventstore: snapshot of stream %s: %w", name, err)
	}
	inbox := nc.NewInbox()
	sub, err := nc.SubscribeSync(inbox)
	if err != nil {
		return fail(err)
	}
	defer sub.Unsubscribe()
	// The server sends up to 8 MiB ahead of our acknowledgements.
	if err := sub.SetPendingLimits(-1, 64*1024*1024); err != nil {
		return fail(err)
	}
	req, _ := json.Marshal(map[string]any{"deliver_subject": inbox, "no_consumers": true, "chunk_size": snapshotChunkBytes, "jsck": true})
	startCtx, cancel := context.WithTimeout(ctx, snapshotStart)
	msg, err := nc.RequestWithContext(startCtx, "$JS.API.STREAM.SNAPSHOT."+name, req)
	cancel()
	if err != nil {
		return fail(err)
	}
	var resp struct {
		Error *apiError `json:"error"`
		Snapshot
	}
	if err := json.Unmarshal(msg.Data, &resp); err != nil {
		return fail(fmt.Errorf("the server's answer: %w", err))
	}
	if resp.Error != nil {
		return fail(resp.Error)
	}
	var written int64
	for {
		chunkCtx, cancel := context.WithTimeout(ctx, snapshotIdle)
		m, err := sub.NextMsgWithContext(chunkCtx)
		cancel()
		if err != nil {
			return fail(fmt.Errorf("after %d bytes: %w", written, err))
		}
		if len(m.Data) == 0 {
			// The end: a status 204, or the server's reason for stopping.
			if st := m.Header.Get("Status"); st != "" && st != "204" {
				return fail(fmt.Errorf("the server stopped after %d bytes: %s %s", written, st, m.Header.Get("Description")))
			}
			return resp.Snapshot, nil
		}
		if _, err := w.Write(m.Data); err != nil {
			return fail(err)
		}
		written += int64(len(m.Data))
		if progress != nil {
			progress(written)
		}
		if m.Reply != "" {
			if err := nc.Publish(m.Reply, nil); err != nil {
				return fail(err)
			}
		}
	}
}

// RestoreStream creates stream name from a snapshot read from r, with
// the configuration and state SnapshotStream returned, and returns the
// state of the stream restored. The stream must not exist. progress,
// when set, is told the bytes sent so far after each chunk.
func RestoreStream(ctx context.Context, nc *nats.Conn, name string, snap Snapshot, r io.Reader, progress func(int64)) (SnapshotState, error) {
	fail := func(err error) (SnapshotState, error) {
		return SnapshotState{}, fmt.Errorf("eventstore: restore of stream %s: %w", name, err)
	}
	if len(snap.Config) == 0 {
		return fail(errors.New("no stream configuration"))
	}
	req, err := json.Marshal(map[string]any{"config": snap.Config, "state": snap.State})
	if err != nil {
		return fail(err)
	}
	reqCtx, cancel := context.WithTimeout(ctx, snapshotIdle)
	msg, err := nc.RequestWithContext(reqCtx, "$JS.API.STREAM.RESTORE."+name, req)
	cancel()
	if err != nil {
		return fail(err)
	}
	var resp struct {
		Error          *apiError `json:"error"`
		DeliverSubject string    `json:"deliver_subject"`
	}
	if err := json.Unmarshal(msg.Data, &resp); err != nil {
		return fail(fmt.Errorf("the server's answer: %w", err))
	}
	if resp.Error != nil {
		return fail(resp.Error)
	}
	if resp.DeliverSubject == "" {
		return fail(errors.New("the server named no subject to send the snapshot to"))
	}
	chunk := make([]byte, snapshotChunkBytes)
	var sent int64
	for {
		n, rerr := io.ReadFull(r, chunk)
		if n > 0 {
			chunkCtx, cancel := context.WithTimeout(ctx, snapshotIdle)
			ack, err := nc.RequestWithContext(chunkCtx, resp.DeliverSubject, chunk[:n])
			cancel()
			if err != nil {
				return fail(fmt.Errorf("after %d bytes: %w", sent, err))
			}
			if len(ack.Data) > 0 {
				return fail(answerError(ack.Data))
			}
			sent += int64(n)
			if progress != nil {
				progress(sent)
			}
		}
		if errors.Is(rerr, io.EOF) || errors.Is(rerr, io.ErrUnexpectedEOF) {
			break
		}
		if rerr != nil {
			return fail(rerr)
		}
	}
	doneCtx, cancel := context.WithTimeout(ctx, restoreFinish)
	defer cancel()
	msg, err = nc.RequestWithContext(doneCtx, resp.DeliverSubject, nil)
	if err != nil {
		return fail(fmt.Errorf("waiting for the stream to load: %w", err))
	}
	var done struct {
		Error *apiError      `json:"error"`
		State *SnapshotState `json:"state"`
	}
	if err := json.Unmarshal(msg.Data, &done); err != nil {
		return fail(fmt.Errorf("the server's answer: %w", err))
	}
	if done.Error != nil {
		return fail(done.Error)
	}
	if done.State == nil {
		return fail(errors.New("the server's answer holds no stream state"))
	}
	return *done.State, nil
}

// answerError reads the error of a JetStream answer.
func answerError(data []byte) error {
	var a struct {
		Error *apiError `json:"error"`
	}
	if err := json.Unmarshal(data, &a); err != nil || a.Error == nil {
		return fmt.Errorf("the server answered %q", bytes.TrimSpace(data))
	}
	return a.Error
}

// RegisteredSigners lists the keys of an existing signers bucket, which
// it never creates: a backup that finds none is pointed at a server that
// holds no ledger.
func RegisteredSigners(ctx context.Context, js jetstream.JetStream) ([]SignerKey, error) {
	lookCtx, cancel := withTimeout(ctx)
	kv, err := js.KeyValue(lookCtx, DefaultSignersBucket)
	cancel()
	if err != nil {
		return nil, fmt.Errorf("eventstore: signers bucket: %w", err)
	}
	return (&Signers{kv: kv}).List(ctx)
}

// WithReplicas returns a stream configuration, as a snapshot holds it,
// with n replicas: a backup of a cluster's stream restores onto the
// single embedded server only as a stream of one replica. Every other
// field is kept as it is.
func WithReplicas(config json.RawMessage, n int) (json.RawMessage, error) {
	var fields map[string]json.RawMessage
	if err := json.Unmarshal(config, &fields); err != nil {
		return nil, fmt.Errorf("eventstore: stream configuration: %w", err)
	}
	fields["num_replicas"] = json.RawMessage(fmt.Sprint(n))
	return json.Marshal(fields)
}
