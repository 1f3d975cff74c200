package ui

import (
	"bytes"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/projections/export"
	"github.com/kcledger/kcledger/web/api"
	"github.com/kcledger/kcledger/web/i18n"
)

// exportsPage offers the movements for download, as `kcledger export`
// writes them (GET /v1/export): CSV for Excel, a Beancount journal, JSON
// lines; for a year, a province, a source, as the ledger stood at a
// moment; and says how an auditor checks them.
type exportsPage struct {
	Formats   []export.Format
	Sources   []domain.Source
	Provinces api.ProvincesResponse
	Form      exportForm
	Err       error
}

// exportForm is the download form's values, as typed.
type exportForm struct {
	Format, Year, Province, Source, AsOf string
	VINumbers                            bool
}

// exportFields are the form's fields, by the API's parameter names.
var exportFields = []string{"format", "year", "province", "source", "as_of", "vi_numbers"}

func readExportForm(q url.Values) exportForm {
	f := exportForm{
		Format: q.Get("format"), Year: strings.TrimSpace(q.Get("year")), Province: q.Get("province"),
		Source: q.Get("source"), AsOf: strings.TrimSpace(q.Get("as_of")), VINumbers: q.Get("vi_numbers") != "",
	}
	if f.Format == "" {
		f.Format = string(export.FormatCSV)
	}
	return f
}

// query is the API's query for the form: as_of typed in a browser's
// date-time field is Vietnam's time, sent with its zone.
func (f exportForm) query() url.Values {
	q := url.Values{"format": {f.Format}}
	for k, v := range map[string]string{"year": f.Year, "province": f.Province, "source": f.Source, "as_of": asOfParam(f.AsOf)} {
		if v != "" {
			q.Set(k, v)
		}
	}
	if f.VINumbers && f.Format == string(export.FormatCSV) {
		q.Set("vi_numbers", "true")
	}
	return q
}

// asOfParam reads a browser's datetime-local value (2025-06-30T17:00)
// as Vietnam's time; anything else goes to the API as it is, which
// names the field in its refusal.
func asOfParam(s string) string {
	for _, layout := range []string{"2006-01-02T15:04", "2006-01-02T15:04:05"} {
		if t, err := time.ParseInLocation(layout, s, i18n.Vietnam()); err == nil {
			return t.Format(time.RFC3339)
		}
	}
	return s
}

func (s *Server) exportsPage(w http.ResponseWriter, r *http.Request, v *visit) {
	s.drawExports(w, r, v, http.StatusOK, exportsPage{Form: readExportForm(r.URL.Query())})
}

func (s *Server) drawExports(w http.ResponseWriter, r *http.Request, v *visit, status int, p exportsPage) {
	if err := s.call(r, v, request{method: http.MethodGet, path: "/v1/provinces"}, &p.Provinces); err != nil {
		s.problem(w, r, v, err)
		return
	}
	p.Formats, p.Sources = export.Formats, domain.Sources()
	s.render(w, r, v, status, "exports", "exports.title", p)
}

// downloadExport streams GET /v1/export, called as the visitor, to the
// browser: nothing of it is held in memory beyond the API's own buffer.
// A refusal is shown on the exports page beside the field it names, or,
// for one of scope (another province), as the problem page.
func (s *Server) downloadExport(w http.ResponseWriter, r *http.Request, v *visit) {
	f := readExportForm(r.URL.Query())
	q := request{method: http.MethodGet, path: api.PathExport, query: f.query()}
	req, err := http.NewRequestWithContext(r.Context(), q.method, (&url.URL{Path: q.path, RawQuery: q.query.Encode()}).String(), http.NoBody)
	if err != nil {
		s.failed(w, r, v, err)
		return
	}
	req.Header.Set("Accept-Language", string(v.lang))
	dw := &downloadWriter{w: w, header: http.Header{}}
	s.api.ServeAs(dw, req, v.account)
	if dw.passing {
		return
	}
	if dw.status == 0 {
		dw.status = http.StatusOK
	}
	rec := &recorder{header: dw.header, status: dw.status, body: dw.refusal}
	err = rec.problem(q)
	if code := domain.ErrorCode(err); code == domain.CodeInvalidField || code == domain.CodeInvalidYear || code == domain.CodeUnknownField ||
		code == domain.CodeUnknownProvince || code == domain.CodeUnknownSource {
		s.drawExports(w, r, v, statusOf(code), exportsPage{Form: f, Err: err})
		return
	}
	s.problem(w, r, v, err)
}

// maxRefusalBytes bounds a refusal's body kept to be read.
const maxRefusalBytes = 64 << 10

// downloadWriter passes a successful answer of the API straight to the
// browser, with the headers of a download, and keeps a refusal to be
// shown as a page.
type downloadWriter struct {
	w       http.ResponseWriter
	header  http.Header
	status  int
	passing bool
	refusal bytes.Buffer
}

func (d *downloadWriter) Header() http.Header { return d.header }

func (d *downloadWriter) WriteHeader(code int) {
	if d.status != 0 {
		return
	}
	d.status = code
	if code >= 300 {
		return
	}
	h := d.w.Header()
	for _, k := range []string{"Content-Type", "Content-Disposition", "Cache-Control"} {
		if v := d.header.Get(k); v != "" {
			h.Set(k, v)
		}
	}
	d.passing = true
	d.w.WriteHeader(code)
}

func (d *downloadWriter) Write(b []byte) (int, error) {
	if d.status == 0 {
		d.WriteHeader(http.StatusOK)
	}
	if d.passing {
		return d.w.Write(b)
	}
	if d.refusal.Len()+len(b) > maxRefusalBytes {
		return 0, errRefusalTooLarge
	}
	return d.refusal.Write(b)
}

var errRefusalTooLarge = domain.Errorf(domain.CodeInternal, "", "ui: the API's refusal is too large")
