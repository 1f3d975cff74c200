package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"time"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/eventstore"
	"github.com/kcledger/kcledger/projections"
	"github.com/kcledger/kcledger/projections/export"
)

func runExport(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	batchGC()
	fs := newFlags("export", "write the movements, straight from the stream, as CSV (Excel, UTF-8 with BOM), JSON lines or a Beancount journal", stderr)
	nf := addReaderFlags(fs)
	format := fs.String("format", "csv", "csv, jsonl or beancount")
	year := fs.Int("year", 0, "only this fiscal year")
	province := fs.String("province", "", "only this province code")
	source := fs.String("source", "", "only this source: national or local")
	untilSeq := fs.Uint64("until-seq", 0, "only up to this stream sequence")
	asOf := fs.String("as-of", "", "only what the ledger knew at this moment, e.g. 2025-06-30T17:00:00+07:00")
	viNumbers := fs.Bool("vi-numbers", false, "csv: write amounts the Vietnamese way (1.500.000.000) rather than plain digits")
	output := fs.String("output", "", "write to this file instead of standard output")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	fail := func(code int, format string, a ...any) int {
		fmt.Fprintf(stderr, "kcledger export: "+format+"\n", a...)
		return code
	}
	if err := nf.check(); err != nil {
		return fail(exitUsage, "%v", err)
	}
	var src domain.Source
	if *source != "" {
		s, err := domain.ParseSource(*source)
		if err != nil {
			return fail(exitUsage, "--source: %v", err)
		}
		src = s
	}
	var cut projections.Cut
	if *asOf != "" {
		t, err := time.Parse(time.RFC3339Nano, *asOf)
		if err != nil || t.After(time.Now()) {
			return fail(exitUsage, "--as-of %q: want a past time with its zone, such as 2025-06-30T17:00:00+07:00", *asOf)
		}
		cut.AsOf = t
	}
	cut.UntilSeq = *untilSeq
	if *format != "csv" && *format != "jsonl" && *format != "beancount" {
		return fail(exitUsage, "--format %q: want csv, jsonl or beancount", *format)
	}

	nc, rd, err := nf.open(ctx, "kcledger-export")
	if err != nil {
		return fail(exitFailure, "%v", err)
	}
	defer nc.Close()
	state, err := rd.State(ctx)
	if err != nil {
		return fail(exitFailure, "%v", err)
	}
	if cut.UntilSeq > state.LastSeq {
		return fail(exitUsage, "--until-seq %d is beyond the stream, which ends at %d", cut.UntilSeq, state.LastSeq)
	}

	out := stdout
	var file *os.File
	if *output != "" {
		if file, err = os.Create(*output); err != nil {
			return fail(exitUsage, "--output: %v", err)
		}
		out = file
	}
	bw := bufio.NewWriter(out)
	ex, err := export.New(bw, export.Format(*format), export.Options{VINumbers: *viNumbers})
	if err != nil {
		return fail(exitFailure, "%v", err)
	}

	reps, err := readRepudiations(ctx, rd, state.LastSeq, nil, time.Time{})
	if err != nil {
		return fail(exitFailure, "%v", err)
	}
	trail := projections.NewTrail(projections.Filter{FiscalYear: *year, Province: *province, Source: src}, "", cut, 0, maxExportEvents)
	pr := &progress{w: terminal(stderr), what: "exporting", total: state.LastSeq, last: time.Now()}
	feed := export.NewFeed(trail, ex)
	err = rd.ScanFilter(ctx, eventstore.Filter(*year, *province, src), state.LastSeq, func(se eventstore.StoredEvent) (bool, error) {
		r := se.Recorded
		if reps.Has(se.Seq) && reps.Covers(se.Seq, se.Digest()) {
			// Left out; its repudiation is exported in its place.
			r = domain.Recorded{Seq: se.Seq, Repudiated: true}
		} else if se.Err != nil {
			return false, se.Err
		}
		pr.at(se.Seq)
		return feed.Add(r, se.Stored)
	})
	if err == nil {
		err = ex.Close()
	}
	if err == nil {
		err = bw.Flush()
	}
	if file != nil {
		if cerr := file.Close(); err == nil {
			err = cerr
		}
	}
	if err != nil {
		if errors.Is(err, domain.ErrCorrupt) {
			return fail(exitRefused, "the stream is not sound; run kcledger verify: %v", err)
		}
		return fail(exitFailure, "%v", err)
	}
	return exitOK
}

// maxExportEvents bounds one export.
const maxExportEvents = 100_000_000

// terminal returns w when it is a terminal, for progress reports that
// would only clutter a redirected stream.
func terminal(w io.Writer) io.Writer {
	f, ok := w.(*os.File)
	if !ok {
		return nil
	}
	st, err := f.Stat()
	if err != nil || st.Mode()&os.ModeCharDevice == 0 {
		return nil
	}
	return w
}
