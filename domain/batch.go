package domain

import (
	"context"
	"fmt"
	"runtime"
	"sort"
	"sync"
)

// MaxAppendBatch is how many events RecordBatch appends in one atomic
// write (EventLog.AppendAll); a larger batch takes several, in order.
const MaxAppendBatch = 500

// BatchError is the refusal of one command of a batch: Index is its
// place in the batch.
type BatchError struct {
	Index int
	Err   error
}

func (e *BatchError) Error() string {
	return fmt.Sprintf("command %d of the batch: %v", e.Index, e.Err)
}

func (e *BatchError) Unwrap() error { return e.Err }

// RecordBatch records cmds in atomic writes (EventLog.AppendAll) of at
// most MaxAppendBatch events, in order, as an import of past years does;
// every command is decided before the first write, and the batch's lines
// stay locked until the last. Several commands may be on one line: they
// are decided in order, each on the line as the ones before it in the
// batch left it (totals and hash chain), and those of one write all
// expect the line's last sequence as it was before that write. A command whose idempotency key
// already produced the same movement is answered as Record answers a
// retry, with the original event; the rest are appended together. When
// the atomic write is refused (a line moved on, a key was taken
// meanwhile) or its outcome is unknown, or a command is refused on a
// line that turns out to have moved on, each command still to record is
// recorded on its own by Record, in order, which finds any that landed:
// so a batch retried after any failure records each command once. The
// first refusal of a command is returned as a *BatchError naming it,
// with the results of the commands before it.
func (l *Ledger) RecordBatch(ctx context.Context, cmds []Command) ([]Result, error) {
	lines := map[LineKey]*lineEntry{}
	for i := range cmds {
		if err := cmds[i].Validate(l.policy); err != nil {
			return nil, &BatchError{Index: i, Err: err}
		}
		if cmds[i].Kind == Transfer || cmds[i].Kind == Repudiate {
			return nil, &BatchError{Index: i, Err: Errorf(CodeInvalidField, "kind", "a batch takes movements on one line each, not %s", cmds[i].Kind.noun())}
		}
		if k := cmds[i].Line(); lines[k] == nil {
			lines[k] = l.entry(k)
		}
	}
	results, todo, err := l.decideBatch(ctx, cmds, lines)
	if err != nil || len(todo) == 0 {
		return results, err
	}
	// One by one, each as a retry would be.
	for _, i := range todo {
		res, err := l.Record(ctx, cmds[i])
		if err != nil {
			return results[:i], &BatchError{Index: i, Err: err}
		}
		results[i] = res
	}
	return results, nil
}

// batchLine is a line as a batch decides on it: its state with the
// batch's events so far, and the sequence the line had before the batch,
// which all of them expect.
type batchLine struct {
	state    *LineState
	expected uint64
	decided  int // commands of the batch decided on it
}

// decideBatch locks the batch's lines, in the order of their keys as
// Transfer does, answers the retries, decides the rest and appends them
// at once. It returns the indices of the commands left to record one by
// one when the atomic write did not go through.
func (l *Ledger) decideBatch(ctx context.Context, cmds []Command, lines map[LineKey]*lineEntry) ([]Result, []int, error) {
	keys := make([]LineKey, 0, len(lines))
	for k := range lines {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
	for _, k := range keys {
		lines[k].mu.Lock()
		defer lines[k].mu.Unlock()
	}
	results := make([]Result, len(cmds))
	work := make(map[LineKey]*batchLine, len(lines))
	props := make([]Proposal, 0, len(cmds))
	idx := make([]int, 0, len(cmds))
	// rest: the commands from i on, and those decided, are recorded one
	// by one (a line moved on under the batch).
	rest := func(i int) []int {
		for j := i; j < len(cmds); j++ {
			idx = append(idx, j)
		}
		for k := range lines {
			lines[k].state = nil
		}
		return idx
	}
	for i := range cmds {
		cmd := &cmds[i]
		k := cmd.Line()
		e := lines[k]
		w := work[k]
		if w == nil {
			if err := l.refresh(ctx, e, k, false); err != nil {
				return results[:i], nil, err
			}
			w = &batchLine{state: e.state.Clone(), expected: e.state.LastSeq}
			work[k] = w
		}
		c, ok, err := l.log.Claim(ctx, cmd.IdempotencyKey)
		if err != nil {
			return results[:i], nil, err
		}
		if !ok {
			if r, found := e.keys[cmd.IdempotencyKey]; found {
				c, ok = IdempotencyClaim{Fingerprint: r.Event.Fingerprint(), Recorded: r}, true
			}
		}
		if ok {
			res, err := l.replay(ctx, e, c, cmd)
			if err != nil {
				return results[:i], nil, &BatchError{Index: i, Err: err}
			}
			results[i] = res
			if e.state.LastSeq != w.expected {
				// The replay caught the line up: it moved on.
				if w.decided > 0 {
					return results, rest(i + 1), nil
				}
				w.state, w.expected = e.state.Clone(), e.state.LastSeq
			}
			continue
		}
		ev, err := Decide(w.state, *cmd, l.policy)
		if err != nil {
			// The cached line may be stale: only refuse on the line as
			// the log has it. When it moved on, every command from
			// here is recorded on its own, on the line as it is.
			if rerr := l.refresh(ctx, e, k, true); rerr != nil {
				return results[:i], nil, rerr
			}
			if e.state.LastSeq != w.expected {
				if w.decided > 0 {
					return results, rest(i), nil
				}
				w.state, w.expected = e.state.Clone(), e.state.LastSeq
				ev, err = Decide(w.state, *cmd, l.policy)
			}
			if err != nil {
				return results[:i], nil, &BatchError{Index: i, Err: err}
			}
		}
		// Its place in the write is not known yet: no sequence, which
		// Apply takes as the next one.
		if err := w.state.Apply(Recorded{Event: ev, HashChecked: true}); err != nil {
			return results[:i], nil, err
		}
		w.decided++
		props = append(props, Proposal{Event: ev, ExpectedSeq: w.expected})
		idx = append(idx, i)
	}
	if len(props) == 0 {
		return results, nil, nil
	}
	// In atomic writes of MaxAppendBatch, in order, each expecting the
	// lines as the writes before it left them. Every command was decided
	// before the first write, so a refusal by the rules records nothing;
	// the next write's events are signed while one is in flight.
	last := make(map[LineKey]uint64, len(work))
	for k, w := range work {
		last[k] = w.expected
	}
	chunk := func(c int) []Proposal { return props[c*MaxAppendBatch : min((c+1)*MaxAppendBatch, len(props))] }
	chunks := (len(props) + MaxAppendBatch - 1) / MaxAppendBatch
	l.signAll(chunk(0))
	for c := range chunks {
		ps := chunk(c)
		signed := make(chan struct{})
		if c+1 < chunks {
			go func() { defer close(signed); l.signAll(chunk(c + 1)) }()
		} else {
			close(signed)
		}
		for j := range ps {
			ps[j].ExpectedSeq = last[ps[j].Event.Line()]
		}
		seqs, err := l.log.AppendAll(ctx, ps)
		<-signed
		from := c * MaxAppendBatch
		if err != nil || len(seqs) != len(ps) {
			// Refused (ErrStale, ErrKeyTaken) or unknown (a timeout may
			// hide a success): the lines are reloaded by Record, which
			// takes each lock in turn once these are released, and finds
			// what landed.
			for k := range lines {
				lines[k].state = nil
			}
			return results, idx[from:], nil
		}
		for j, i := range idx[from : from+len(ps)] {
			e := lines[cmds[i].Line()]
			r := Recorded{Event: ps[j].Event, Seq: seqs[j], HashChecked: true}
			if err := e.apply(r); err != nil {
				return results[:i], nil, err
			}
			last[cmds[i].Line()] = seqs[j]
			results[i] = Result{Recorded: r, Line: e.state.Clone()}
		}
	}
	return results, nil, nil
}

// signBatchPer is how many events a goroutine signs at least: below it,
// starting one costs more than it saves.
const signBatchPer = 64

// signAll signs the proposals' events, on every core: a signature covers
// the hash alone, final once an event is decided, and Ed25519 is most of
// the time a batch takes to record.
func (l *Ledger) signAll(props []Proposal) {
	if l.signer == nil {
		return
	}
	workers := min(runtime.GOMAXPROCS(0), (len(props)+signBatchPer-1)/signBatchPer)
	if workers <= 1 {
		for i := range props {
			l.signer.Sign(&props[i].Event)
		}
		return
	}
	var wg sync.WaitGroup
	per := (len(props) + workers - 1) / workers
	for from := 0; from < len(props); from += per {
		part := props[from:min(from+per, len(props))]
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range part {
				l.signer.Sign(&part[i].Event)
			}
		}()
	}
	wg.Wait()
}
