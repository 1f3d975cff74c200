package eventstore_test

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/cloudevents/sdk-go/v2/binding"
	cehttp "github.com/cloudevents/sdk-go/v2/protocol/http"
	"github.com/google/uuid"
	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/eventstore"
)

// Both sides of a transfer and a lapse, appended as the ledger does (the
// sides with AppendAll), carry their own CloudEvents type and their own
// line as subject, and the CloudEvents SDK reads each of them; a header
// naming the other side's line or type is caught.
func TestTransfersAndLapsesCarryCloudEvents(t *testing.T) {
	ctx := context.Background()
	s := startServer(t)
	log := openLog(t, s, eventstore.StreamConfig{})
	src := domain.NewLineState(domain.LineKey{FiscalYear: 2025, Province: "02", Source: domain.SourceNational})
	dst := domain.NewLineState(domain.LineKey{FiscalYear: 2025, Province: "08", Source: domain.SourceNational})
	cmd := func(k domain.CommandKind, amount int64, date domain.Date) domain.Command {
		return domain.Command{Kind: k, FiscalYear: 2025, Province: "02", Source: domain.SourceNational,
			Amount: domain.AmountFromInt64(amount), Decision: "1/QĐ-UBND", EffectiveDate: date,
			EventID: uuid.Must(uuid.NewV7()).String(), Actor: "ce", IdempotencyKey: uuid.Must(uuid.NewV7()).String(),
			Now: time.Date(2026, time.March, 1, 2, 3, 4, 5, time.UTC)}
	}
	record := func(st *domain.LineState, ev domain.Event, seq uint64) {
		require.NoError(t, st.Apply(domain.Recorded{Event: ev, Seq: seq}))
	}
	al, err := domain.Decide(src, cmd(domain.Allocate, 3_000, domain.Date{Year: 2025, Month: time.March, Day: 1}), domain.Policy{})
	require.NoError(t, err)
	seq, err := log.Append(ctx, domain.Proposal{Event: al})
	require.NoError(t, err)
	record(src, al, seq)

	tr := cmd(domain.Transfer, 2_000, domain.Date{Year: 2025, Month: time.July, Day: 1})
	tr.TransferKind, tr.To, tr.InEventID = domain.TransferSuccession, dst.Key, uuid.Must(uuid.NewV7()).String()
	out, in, err := domain.DecideTransfer(src, dst, tr, domain.Policy{})
	require.NoError(t, err)
	seqs, err := log.AppendAll(ctx, []domain.Proposal{{Event: out, ExpectedSeq: src.LastSeq}, {Event: in, ExpectedSeq: dst.LastSeq}})
	require.NoError(t, err)
	record(src, out, seqs[0])
	record(dst, in, seqs[1])

	lp, err := domain.Decide(src, cmd(domain.Lapse, 1_000, domain.Date{Year: 2026, Month: time.February, Day: 2}), domain.Policy{})
	require.NoError(t, err)
	lseq, err := log.Append(ctx, domain.Proposal{Event: lp, ExpectedSeq: src.LastSeq})
	require.NoError(t, err)

	js, err := jetstream.New(connect(t, s))
	require.NoError(t, err)
	stream, err := js.Stream(ctx, eventstore.DefaultStream)
	require.NoError(t, err)
	for _, tc := range []struct {
		seq              uint64
		ev               domain.Event
		subject, ceSubj  string
		otherSubj, other string // a contradicting ce-subject and ce-type
	}{
		{seqs[0], out, "kcledger.events.2025.02.national.transferred_out.v1", "2025/02/national", "2025/08/national", "funds.transferred_in.v1"},
		{seqs[1], in, "kcledger.events.2025.08.national.transferred_in.v1", "2025/08/national", "2025/02/national", "funds.transferred_out.v1"},
		{lseq, lp, "kcledger.events.2025.02.national.lapsed.v1", "2025/02/national", "2025/08/national", "funds.refunded.v1"},
	} {
		t.Run(tc.ev.Type.Kind(), func(t *testing.T) {
			m, err := stream.GetMsg(ctx, tc.seq)
			require.NoError(t, err)
			assert.Equal(t, tc.subject, m.Subject)
			for header, want := range map[string]string{
				"ce-specversion": "1.0", "ce-id": tc.ev.ID, "ce-type": string(tc.ev.Type), "ce-source": "/kcledger",
				"ce-time": "2026-03-01T02:03:04.000000005Z", "ce-subject": tc.ceSubj, "content-type": "application/json",
			} {
				assert.Equal(t, []string{want}, m.Header.Values(header), header)
			}
			require.NoError(t, eventstore.CheckCloudEvents(m.Header, &tc.ev))

			h := http.Header{}
			for k, vs := range m.Header {
				for _, v := range vs {
					h.Add(k, v)
				}
			}
			ce, err := binding.ToEvent(ctx, cehttp.NewMessage(h, io.NopCloser(bytes.NewReader(m.Data))))
			require.NoError(t, err)
			require.NoError(t, ce.Validate())
			assert.Equal(t, string(tc.ev.Type), ce.Type())
			assert.Equal(t, tc.ceSubj, ce.Subject())
			var back domain.Event
			require.NoError(t, ce.DataAs(&back))
			assert.Equal(t, tc.ev.Hash, back.ComputeHash(), "the data is the event, whole")
			assert.Equal(t, tc.ev.TransferID, back.TransferID)

			for header, v := range map[string]string{"ce-subject": tc.otherSubj, "ce-type": tc.other} {
				forged := nats.Header(http.Header(m.Header).Clone())
				forged.Set(header, v)
				err := eventstore.CheckCloudEvents(forged, &tc.ev)
				require.Error(t, err, header)
				assert.Contains(t, err.Error(), "header "+header+" is")
			}
		})
	}
}
