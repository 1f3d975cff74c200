package main

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/base64"
	"fmt"
	"log/slog"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/eventstore/eventstoretest"
	"github.com/kcledger/kcledger/projections"
	"github.com/kcledger/kcledger/web/api/apitest"
)

// ownEvent is an event at seq signed by s, with a hash of its own.
func ownEvent(s *domain.Signer, seq uint64) domain.Recorded {
	e := domain.Event{ID: fmt.Sprint("e", seq), Hash: fmt.Sprintf("%064x", seq)}
	s.Sign(&e)
	return domain.Recorded{Seq: seq, Event: e}
}

// followAll follows feed until it has applied the record at last, and
// returns what it applied and the feed's error.
func followAll(t *testing.T, feed projections.Feed, last uint64) ([]uint64, error) {
	t.Helper()
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var got []uint64
	err := feed.Follow(ctx, 0, func(r domain.Recorded) error {
		got = append(got, r.Seq)
		if r.Seq == last {
			cancel()
		}
		return nil
	})
	return got, err
}

// The memory of this process's own signatures keeps the newest n.
func TestOwnSignaturesAreBounded(t *testing.T) {
	o := newOwnSignatures(3)
	for i := range 5 {
		o.add(fmt.Sprint("h", i), fmt.Sprint("s", i))
	}
	o.add("h4", "s4") // again: no second place
	require.Equal(t, 3, o.len())
	for i := range 5 {
		require.Equal(t, i >= 2, o.has(fmt.Sprint("h", i), fmt.Sprint("s", i)), "h%d", i)
	}
	require.False(t, o.has("h3", "s4"), "another signature of a remembered hash")

	// serve's: at most ownSignaturesKept; one forgotten is verified again
	// (and passes), one remembered is not.
	trust, err := trustSigners(t.Context(), t.TempDir(), signersBucket(t), testSigner(21), testNow, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	var first, last domain.Recorded
	for seq := uint64(1); seq <= ownSignaturesKept+1; seq++ {
		last = ownEvent(trust.ledgerSigner(), seq)
		if seq == 1 {
			first = last
		}
	}
	require.Equal(t, ownSignaturesKept, trust.made.len())
	require.NoError(t, trust.check(t.Context(), last))
	require.Zero(t, trust.verifications.Load())
	require.NoError(t, trust.check(t.Context(), first))
	require.Equal(t, uint64(1), trust.verifications.Load(), "the oldest was forgotten, and verified")
}

// The stream holds, at the sequence where this process's own event
// should be, bytes other than those it signed (a forger with the
// operator's credentials, as in TestForgedEventsAreRefused): the event is
// verified in full and refused, the events before it are taken unverified.
func TestForgedOwnEventsAreStillRefused(t *testing.T) {
	signer := testSigner(22)
	trust, err := trustSigners(t.Context(), t.TempDir(), signersBucket(t), signer, testNow, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	own := trust.ledgerSigner()
	for _, tc := range []struct {
		name  string
		forge func(e *domain.Event)
	}{
		{"the hash it signed, a random signature under its key id", func(e *domain.Event) {
			sig := make([]byte, ed25519.SignatureSize)
			_, _ = rand.Read(sig)
			e.Signature = base64.StdEncoding.EncodeToString(sig)
		}},
		{"its signature on another hash", func(e *domain.Event) {
			e.Hash = fmt.Sprintf("%064x", 999)
		}},
		{"the signature of another of its events", func(e *domain.Event) {
			e.Signature = ownEvent(own, 6).Event.Signature
		}},
		{"no signature", func(e *domain.Event) { e.SignedBy, e.Signature = "", "" }},
		{"its hash and signature under another key id", func(e *domain.Event) {
			e.SignedBy = testSigner(23).ID()
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			var feed sliceFeed
			for seq := uint64(1); seq <= 8; seq++ {
				feed = append(feed, ownEvent(own, seq))
			}
			forged := feed[4]
			require.True(t, trust.made.has(forged.Event.Hash, forged.Event.Signature), "signed by this process")
			tc.forge(&forged.Event)
			feed[4] = forged
			before := trust.verifications.Load()
			got, err := followAll(t, trust.checked(feed), 8)
			require.ErrorIs(t, err, domain.ErrForged)
			require.ErrorContains(t, err, "seq 5")
			require.Equal(t, []uint64{1, 2, 3, 4}, got)
			if tc.name != "its hash and signature under another key id" { // refused before any verification: not trusted
				require.Equal(t, uint64(1), trust.verifications.Load()-before, "the forgery alone is verified")
			}
		})
	}
}

// As serve wires them: what the ledger records is signed by
// trust.ledgerSigner, decided on through trust.decidedOn and followed
// through trust.checked. No event it signed is verified, in its decisions
// or in the feed; an event another process signed with the same key (as
// bench-api's ledger does), which this one did not sign, is.
func TestOwnEventsAreNotVerifiedAgain(t *testing.T) {
	_, _, store := apitest.StartStore(t)
	signer := testSigner(24)
	trust, err := trustSigners(t.Context(), t.TempDir(), signersBucket(t), signer, testNow, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	ledger := domain.NewLedger(trust.decidedOn(store), domain.Policy{})
	ledger.SignWith(trust.ledgerSigner())
	record := func(l *domain.Ledger, kind domain.CommandKind, key string) uint64 {
		t.Helper()
		res, err := l.Record(t.Context(), eventstoretest.Command(kind, "01", key, testNow))
		require.NoError(t, err)
		require.False(t, res.Replayed)
		return res.Recorded.Seq
	}
	var last uint64
	record(ledger, domain.Allocate, "own-0")
	for i := range 20 {
		last = record(ledger, domain.Disburse, fmt.Sprint("own-", i+1))
	}
	got, err := followAll(t, trust.checked(store), last)
	require.NoError(t, err)
	require.Len(t, got, 21)
	require.Zero(t, trust.verifications.Load(), "own events verified")

	other := domain.NewLedger(store, domain.Policy{})
	other.SignWith(signer)
	last = record(other, domain.Disburse, "other-1")
	got, err = followAll(t, trust.checked(store), last)
	require.NoError(t, err)
	require.Len(t, got, 22)
	require.Equal(t, uint64(1), trust.verifications.Load(), "the other process's event is verified once in the feed")

	// Deciding on the line after it loads that event, and verifies it.
	last = record(ledger, domain.Disburse, "own-21")
	require.Equal(t, uint64(2), trust.verifications.Load())
	got, err = followAll(t, trust.checked(store), last)
	require.NoError(t, err)
	require.Len(t, got, 23)
	require.Equal(t, uint64(3), trust.verifications.Load(), "only the other's event, again, in the second follow from the start")
}
