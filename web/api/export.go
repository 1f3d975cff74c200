package api

import (
	"bufio"
	"fmt"
	"net/http"
	"strconv"
	"strings"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/eventstore"
	"github.com/kcledger/kcledger/projections"
	"github.com/kcledger/kcledger/projections/export"
)

// PathExport is the export route: the movements as `kcledger export`
// writes them, within the reader's scope.
const PathExport = "/v1/export"

// exportParams are the export's query parameters.
var exportParams = []string{"format", "year", "province", "source", "as_of", "until_seq", "vi_numbers"}

// maxExportEntries bounds one export, as the CLI's.
const maxExportEntries = 100_000_000

// exportBuffer is how much of an export is held before the first bytes
// go out: a refusal found before then is still a problem answer.
const exportBuffer = 64 << 10

// getExport streams the movements a reader sees (an officer only its
// own lines) as CSV, JSON lines or a Beancount journal, written by the
// same writers as `kcledger export` (projections/export), as a download.
// The trail is that of /v1/audit: the same filter, cut and repudiations.
// A message found unsound once the download has begun ends it abruptly
// (the connection is cut), so that a truncated file never looks whole.
func (a *Server) getExport(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	if err := checkParams(q, exportParams...); err != nil {
		WriteError(w, r, a.log, err)
		return
	}
	f, err := a.readFilter(r)
	if err != nil {
		WriteError(w, r, a.log, err)
		return
	}
	format := export.FormatCSV
	if s := q.Get("format"); s != "" {
		if format, err = export.ParseFormat(s); err != nil {
			WriteError(w, r, a.log, err)
			return
		}
	}
	var vi bool
	if s := q.Get("vi_numbers"); s != "" {
		if vi, err = strconv.ParseBool(s); err != nil {
			WriteError(w, r, a.log, domain.Errorf(domain.CodeInvalidField, "vi_numbers", "vi_numbers %q: want true or false", s))
			return
		}
	}
	cut, last, err := a.cutOfStream(r, q)
	if err != nil {
		WriteError(w, r, a.log, err)
		return
	}

	out := &lazyAnswer{w: w, begin: func() {
		h := w.Header()
		h.Set("Content-Type", format.ContentType())
		h.Set("Content-Disposition", `attachment; filename="`+exportFileName(f, format)+`"`)
		h.Set("Cache-Control", "no-store")
		h.Set("X-Content-Type-Options", "nosniff")
		w.WriteHeader(http.StatusOK)
	}}
	bw := bufio.NewWriterSize(out, exportBuffer)
	ex, err := export.New(bw, format, export.Options{VINumbers: vi})
	if err == nil {
		err = a.scanExport(r, f, cut, last, export.NewFeed(projections.NewTrail(f, "", cut, 0, maxExportEntries), ex))
	}
	if err == nil {
		err = ex.Close()
	}
	if err == nil {
		err = bw.Flush()
	}
	switch {
	case err == nil:
		if !out.started {
			out.begin() // nothing at all to write: still a download
		}
	case !out.started:
		WriteError(w, r, a.log, err)
	default:
		a.log.Error("export cut short", "request_id", requestID(r), "err", err)
		panic(http.ErrAbortHandler)
	}
}

// scanExport feeds the messages of f up to last, as /v1/audit reads
// them, into feed.
func (a *Server) scanExport(r *http.Request, f projections.Filter, cut projections.Cut, last uint64, feed *export.Feed) error {
	stalled := a.health.Stalled()
	var prev domain.Recorded
	return a.history.ScanFilter(r.Context(), eventstore.Filter(f.FiscalYear, f.Province, f.Source), last, func(se eventstore.StoredEvent) (bool, error) {
		if a.repudiations.Has(se.Seq) && a.repudiations.Covers(se.Seq, se.Digest()) {
			// Left out; its repudiation is exported in its place.
			return feed.Add(domain.Recorded{Seq: se.Seq, Repudiated: true}, se.Stored)
		}
		if cut.EndsAt(se.At(), prev, se.Stored) {
			return false, nil
		}
		prev = se.At()
		switch {
		case stalled != nil && se.Seq >= stalled.Seq:
			return false, stalled.unavailable()
		case se.Err != nil:
			return false, unsoundAt(se.Seq, se.Err)
		case se.Unsigned != nil:
			return false, unsoundAt(se.Seq, se.Unsigned)
		}
		return feed.Add(se.Recorded, se.Stored)
	})
}

// exportFileName names a download by what it holds:
// kcledger-2025-01-national.csv.
func exportFileName(f projections.Filter, format export.Format) string {
	parts := []string{"kcledger"}
	if f.FiscalYear != 0 {
		parts = append(parts, strconv.Itoa(f.FiscalYear))
	}
	if f.Province != "" {
		parts = append(parts, f.Province)
	}
	if f.Source != "" {
		parts = append(parts, string(f.Source))
	}
	return fmt.Sprintf("%s.%s", strings.Join(parts, "-"), format.Extension())
}

// lazyAnswer writes the answer's status and headers at its first byte.
type lazyAnswer struct {
	w       http.ResponseWriter
	begin   func()
	started bool
}

func (l *lazyAnswer) Write(p []byte) (int, error) {
	if !l.started {
		l.started = true
		l.begin()
	}
	return l.w.Write(p)
}
