package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"time"

	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/eventstore"
)

// fillWindow bounds the asynchronous publishes in flight while filling.
const fillWindow = 4096

// fillStallWait bounds how long a publish waits for room in the window.
const fillStallWait = time.Minute

// fill records n valid, signed, chained events into an empty stream on
// natsURL, as fast as JetStream takes them: an allocation then
// disbursements on each of the 126 lines of one year (63 provinces, two
// sources), signed with the key of the data directory dataDir, endorsed
// by its ledger root and registered, so that a serve on dataDir takes
// them. It writes the keys file to keysOut, for verify. It is for
// benchmarks of replay and verification, never for a real ledger.
func fill(ctx context.Context, natsURL string, n int, keysOut, dataDir string, progressTo io.Writer) error {
	nc, err := nats.Connect(natsURL, nats.Name("kcledger-bench-fill"))
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc, jetstream.WithPublishAsyncMaxPending(fillWindow))
	if err != nil {
		return err
	}
	store, err := eventstore.Open(ctx, nc, eventstore.StreamConfig{})
	if err != nil {
		return err
	}
	defer store.Close()
	if last, err := store.LastEventSeq(ctx); err != nil || last != 0 {
		return fmt.Errorf("fill needs an empty stream (it holds up to seq %d): use a scratch server (%v)", last, err)
	}
	if err := os.MkdirAll(dataDir, 0o700); err != nil {
		return err
	}
	key, err := signingKey(dataDir)
	if err != nil {
		return err
	}
	signer := domain.NewSigner(key)
	signers, err := eventstore.OpenSigners(ctx, js, 1)
	if err != nil {
		return err
	}
	trust, err := trustSigners(ctx, dataDir, signers, signer, time.Now(), slog.New(slog.DiscardHandler))
	if err != nil {
		return err
	}
	kr, err := trust.Keys(ctx)
	if err != nil {
		return err
	}
	keys, _ := json.MarshalIndent(kr, "", "  ")
	if err := os.WriteFile(keysOut, keys, 0o644); err != nil {
		return err
	}

	var lines []*domain.LineState
	for _, p := range domain.Provinces(domain.Scheme63) {
		for _, src := range []domain.Source{domain.SourceNational, domain.SourceLocal} {
			lines = append(lines, domain.NewLineState(domain.LineKey{FiscalYear: 2024, Province: p.Code, Source: src}))
		}
	}
	now := time.Now().UTC()
	pr := &progress{w: progressTo, what: "filling", total: uint64(n), last: time.Now()}
	for i := range n {
		st := lines[i%len(lines)]
		c := domain.Command{
			FiscalYear: st.Key.FiscalYear, Province: st.Key.Province, Source: st.Key.Source,
			EffectiveDate: domain.Date{Year: 2024, Month: time.March, Day: 1},
			EventID:       uuid.Must(uuid.NewV7()).String(), Actor: "bench", IdempotencyKey: fmt.Sprint("fill-", i), Now: now,
		}
		if st.Events == 0 {
			c.Kind, c.Amount, c.Decision = domain.Allocate, domain.MaxMovement, "1/QĐ-BENCH"
		} else {
			c.Kind, c.Amount, c.Voucher, c.Beneficiary = domain.Disburse, domain.AmountFromInt64(1000), "KB-BENCH", "Cơ sở CNNT thử tải"
		}
		ev, err := domain.Decide(st, c, domain.Policy{})
		if err != nil {
			return fmt.Errorf("event %d: %w", i, err)
		}
		signer.Sign(&ev)
		m, err := eventstore.NewMessage(domain.Proposal{Event: ev, ExpectedSeq: st.LastSeq})
		if err != nil {
			return err
		}
		// A busy machine (the server shares its cores) may hold the
		// window full for a while: wait for room rather than give up.
		if _, err := js.PublishMsgAsync(m, jetstream.WithStallWait(fillStallWait)); err != nil {
			return fmt.Errorf("event %d: %w", i, err)
		}
		// Sequences are known in advance: the stream is empty and only
		// this process writes.
		if err := st.Apply(domain.Recorded{Event: ev, Seq: uint64(i + 1)}); err != nil {
			return err
		}
		pr.at(uint64(i))
	}
	select {
	case <-js.PublishAsyncComplete():
	case <-ctx.Done():
		return ctx.Err()
	}
	last, err := store.LastEventSeq(ctx)
	if err != nil {
		return err
	}
	if last != uint64(n) {
		return fmt.Errorf("the stream ends at seq %d after %d publishes: some were refused", last, n)
	}
	return nil
}
