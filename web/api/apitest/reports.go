package apitest

import (
	"context"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/eventstore"
	"github.com/kcledger/kcledger/web/api"
)

// ReportLedger records a small 2025 of two northern provinces and one
// southern, and 2024 in Hà Nội, through the API.
func ReportLedger(t *testing.T, ta *Client) {
	t.Helper()
	for _, b := range []map[string]any{
		{"path": PathAllocations, "fiscal_year": 2024, "province": "01", "source": "national", "amount": "4000000000", "decision": "1/QĐ-BCT", "effective_date": "2024-01-10"},
		{"path": PathDisbursements, "fiscal_year": 2024, "province": "01", "source": "national", "amount": "1000000000", "voucher": "KB-0", "beneficiary": "HTX", "effective_date": "2024-05-10"},
		{"path": PathAllocations, "fiscal_year": 2025, "province": "01", "source": "national", "project": "DA-1", "category": "training", "amount": "5000000000", "decision": "2/QĐ-BCT", "effective_date": "2025-01-10", "project_name": "Đào tạo nghề gốm", "counterpart": "1500000000"},
		{"path": PathDisbursements, "fiscal_year": 2025, "province": "01", "source": "national", "project": "DA-1", "amount": "1200000000", "voucher": "KB-1", "beneficiary": "HTX Gốm", "effective_date": "2025-03-10"},
		{"path": PathAllocations, "fiscal_year": 2025, "province": "01", "source": "local", "amount": "2000000000", "decision": "3/QĐ-UBND", "effective_date": "2025-02-01"},
		{"path": PathDisbursements, "fiscal_year": 2025, "province": "01", "source": "local", "amount": "500000000", "voucher": "KB-2", "beneficiary": "Công ty A", "effective_date": "2025-08-01"},
		{"path": PathAllocations, "fiscal_year": 2025, "province": "22", "source": "local", "amount": "1000000000", "decision": "4/QĐ-UBND", "effective_date": "2025-03-01"},
		{"path": PathAllocations, "fiscal_year": 2025, "province": "79", "source": "national", "amount": "9000000000", "decision": "5/QĐ-BCT", "effective_date": "2025-03-01"},
	} {
		path := b["path"].(string)
		delete(b, "path")
		r := ta.Post(t, path, uuid.NewString(), MustJSON(t, b))
		require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	}
}

// scanCounter counts the scans of the stream a route makes, and the
// messages they deliver.
type scanCounter struct {
	api.HistoryReader
	scans, read atomic.Int64
}

func (s *scanCounter) ScanFilter(ctx context.Context, filter string, last uint64, fn func(eventstore.StoredEvent) (bool, error)) error {
	return s.ScanFilterFrom(ctx, filter, 1, last, fn)
}

func (s *scanCounter) ScanFilterFrom(ctx context.Context, filter string, from, last uint64, fn func(eventstore.StoredEvent) (bool, error)) error {
	s.scans.Add(1)
	return s.HistoryReader.ScanFilterFrom(ctx, filter, from, last, func(se eventstore.StoredEvent) (bool, error) {
		s.read.Add(1)
		return fn(se)
	})
}

// Scans is how many scans of the stream the API's routes have made.
func (a *API) Scans() int64 { return a.scans.scans.Load() }

// ScannedMessages is how many messages those scans delivered.
func (a *API) ScannedMessages() int64 { return a.scans.read.Load() }
