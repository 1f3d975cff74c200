package ui_test

import (
	"encoding/json"
	"net/http"
	"net/url"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/web/api"
	"github.com/kcledger/kcledger/web/api/apitest"
)

// recordFields are the inputs each form must have: the fields of its API
// body, no more.
var recordFields = map[string][]string{
	"allocate": {"fiscal_year", "province", "source", "category", "amount", "decision", "effective_date", "project", "project_name", "implementing_unit", "counterpart"},
	"adjust":   {"fiscal_year", "province", "source", "project", "category", "delta", "decision", "reason", "effective_date"},
	"disburse": {"fiscal_year", "province", "source", "project", "category", "amount", "voucher", "beneficiary", "effective_date"},
	"refund":   {"fiscal_year", "province", "source", "project", "category", "amount", "voucher", "reason", "effective_date"},
	"transfer": {"transfer_kind", "fiscal_year", "province", "source", "to_fiscal_year", "to_province", "to_source", "project", "category", "amount", "decision", "reason", "effective_date"},
	"lapse":    {"fiscal_year", "province", "source", "project", "category", "amount", "decision", "reason", "effective_date"},
}

var inputNameRE = regexp.MustCompile(`<(?:input|select|textarea) id="f-[a-z_]+" name="([a-z_]+)"`)

// openForm opens a recording form: its first address sends the browser
// to the one that fixes the form's idempotency key.
func openForm(t *testing.T, b *browser, path string) page {
	t.Helper()
	p := b.get(path)
	require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
	require.Contains(t, p.Location(), "key=")
	f := b.get(p.Location())
	require.Equal(t, http.StatusOK, f.Status, f.Body)
	return f
}

// fill is a form's hidden fields and the given values.
func fill(t *testing.T, form page, values map[string]string) url.Values {
	t.Helper()
	v := url.Values{"csrf": {hidden(t, form, "csrf")}, "idempotency_key": {hidden(t, form, "idempotency_key")}}
	for k, x := range values {
		v.Set(k, x)
	}
	return v
}

// trail is the audit trail of a line, read through the API as the admin.
func trail(t *testing.T, c *console, year, province, source string) api.AuditResponse {
	t.Helper()
	r := c.Get(t, "/v1/audit?"+url.Values{"year": {year}, "province": {province}, "source": {source}}.Encode())
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	var res api.AuditResponse
	require.NoError(t, json.Unmarshal(r.Body, &res))
	return res
}

// available is what the API says is available on a line.
func available(t *testing.T, c *console, year, province, source string) string {
	t.Helper()
	tr := trail(t, c, year, province, source)
	if len(tr.Entries) == 0 {
		return "0"
	}
	return tr.Entries[len(tr.Entries)-1].Line.Available().String()
}

// submit posts a form and follows its redirect to the confirmation.
func submit(t *testing.T, b *browser, path string, form url.Values) page {
	t.Helper()
	p := b.post(path, form)
	require.Equal(t, http.StatusSeeOther, p.Status, p.Body)
	require.True(t, strings.HasPrefix(p.Location(), "/record/done/"), p.Location())
	done := b.get(p.Location())
	require.Equal(t, http.StatusOK, done.Status, done.Body)
	return done
}

var (
	allocation = map[string]string{"fiscal_year": "2025", "province": "01", "source": "national", "amount": "1,5 tỷ",
		"decision": "123/QĐ-BCT", "effective_date": "2025-03-01", "category": "training"}
	disbursement = map[string]string{"fiscal_year": "2025", "province": "01", "source": "national", "amount": "200 triệu",
		"voucher": "UNC-0002", "beneficiary": "Hợp tác xã Gốm Bát Tràng", "effective_date": "2025-05-01"}
)

func with(base map[string]string, changes ...string) map[string]string {
	m := map[string]string{}
	for k, v := range base {
		m[k] = v
	}
	for i := 0; i+1 < len(changes); i += 2 {
		m[changes[i]] = changes[i+1]
	}
	return m
}

// Every form has exactly its API body's fields, labelled from the
// catalogue, and offers an officer only its own provinces and sources;
// an admin gets every province in force (and, where a merged province's
// line may still move money, the codes of before the merger). An
// auditor has no form at all.
func TestRecordFormsOfferTheScope(t *testing.T) {
	c := startConsole(t, consoleOptions{})
	c.account(t, "ketoan-hn", domain.RoleOfficer, []string{"01", "79"}, []string{"national"})
	c.account(t, "quantri", domain.RoleAdmin, nil, nil)
	c.account(t, "kiemtoan", domain.RoleAuditor, nil, nil)
	b := c.browser(t)
	b.logIn("ketoan-hn", testPassword, "/")

	list := b.get("/record")
	require.Equal(t, http.StatusOK, list.Status)
	for _, href := range []string{"/record/allocate", "/record/adjust", "/record/disburse", "/record/refund",
		"/record/transfer?transfer_kind=succession", "/record/transfer?transfer_kind=carry_over", "/record/lapse"} {
		assert.Contains(t, list.Body, `href="`+strings.ReplaceAll(href, "&", "&amp;")+`"`)
	}
	for kind, fields := range recordFields {
		f := openForm(t, b, "/record/"+kind)
		var got []string
		for _, m := range inputNameRE.FindAllStringSubmatch(f.Body, -1) {
			got = append(got, m[1])
		}
		assert.Equal(t, fields, got, "the inputs of %s", kind)
		assert.Contains(t, f.Body, `<option value="01">01 · Hà Nội</option>`, kind)
		assert.Contains(t, f.Body, `<option value="79">79 · TP. Hồ Chí Minh</option>`, kind)
		assert.NotContains(t, f.Body, `<option value="48"`, "%s: a province outside the scope", kind)
		assert.NotContains(t, f.Body, `<option value="local"`, "%s: a source outside the scope", kind)
		assert.Contains(t, f.Body, `name="fiscal_year" value="2026"`, "%s: this year in Vietnam", kind)
		assert.Contains(t, f.Body, `<label for="f-effective_date">Ngày hiệu lực</label>`, kind)
		assert.Contains(t, f.Body, `aria-live="polite"`, kind)
		assert.Regexp(t, `name="idempotency_key" value="[0-9a-f-]{36}"`, f.Body)
	}
	d := openForm(t, b, "/record/disburse")
	assert.Contains(t, d.Body, `<label for="f-beneficiary">Đơn vị thụ hưởng</label>`)
	assert.Contains(t, d.Body, `<label for="f-voucher">Số chứng từ Kho bạc</label>`)
	co := openForm(t, b, "/record/transfer?transfer_kind=carry_over")
	assert.Contains(t, co.Body, `<option value="carry_over" selected>`)
	assert.Contains(t, co.Body, `name="fiscal_year" value="2025"`, "a carry-over recorded now leaves last year")

	admin := c.browser(t)
	admin.logIn("quantri", testPassword, "/")
	a := openForm(t, admin, "/record/allocate")
	n := strings.Count(a.Body, `<option value="`) - strings.Count(a.Body, `<option value="">`)
	assert.Equal(t, 34+2+len(domain.Categories()), n, "the 34 provinces in force, both sources, the categories")
	assert.Contains(t, a.Body, `<option value="48">48 · Đà Nẵng</option>`)
	assert.NotContains(t, a.Body, `<option value="02"`, "Hà Giang's code is not in force")
	assert.Contains(t, openForm(t, admin, "/record/refund").Body, `<option value="02">02 · Hà Giang</option>`,
		"a refund may be of a merged province's line")

	aud := c.browser(t)
	aud.logIn("kiemtoan", testPassword, "/")
	for _, path := range []string{"/record", "/record/allocate", "/record/transfer"} {
		p := aud.get(path)
		assert.Equal(t, http.StatusForbidden, p.Status, path)
		assert.NotContains(t, p.Body, `name="idempotency_key"`)
	}
	assert.NotContains(t, aud.get("/").Body, `href="/record"`)
	// A form posted by an auditor (drawn elsewhere) is refused with the
	// problem page, no form.
	p := aud.post("/record/allocate", url.Values{"csrf": {hidden(t, aud.get("/keys"), "csrf")},
		"idempotency_key": {uuid.NewString()}, "fiscal_year": {"2025"}, "province": {"01"}, "source": {"national"},
		"amount": {"1 tỷ"}, "decision": {"1/QĐ"}, "effective_date": {"2025-03-01"}})
	assert.Equal(t, http.StatusForbidden, p.Status)
	assert.Contains(t, p.Body, "Tài khoản của bạn không có quyền làm việc này.")
	assert.NotContains(t, p.Body, `name="idempotency_key"`)
	assert.Empty(t, trail(t, c, "2025", "01", "national").Entries)
	assert.Equal(t, http.StatusNotFound, b.get("/record/repudiate").Status)
}

// An allocation then a disbursement, typed the Vietnamese way through the
// forms: each confirmation shows its event and the line's balance right
// after it, to the đồng, read from the API; a beneficiary holding markup
// is recorded as text and shown escaped; a refresh of a confirmation
// records nothing.
func TestRecordAllocationThenDisbursement(t *testing.T) {
	c := startConsole(t, consoleOptions{})
	b := c.loggedIn(t, "ketoan-hn", domain.RoleOfficer, []string{"01"}, []string{"national"})

	form := openForm(t, b, "/record/allocate")
	done := submit(t, b, "/record/allocate", fill(t, form, allocation))
	assert.Contains(t, done.Body, "Đã ghi vào sổ.")
	assert.NotContains(t, done.Body, "đã được ghi trước đó")
	assert.Contains(t, done.Body, "1,5 tỷ = 1.500.000.000 ₫", "the reading of what was typed")
	assert.Contains(t, done.Body, "Giao kế hoạch")
	assert.Contains(t, done.Body, "2025 · 01 Hà Nội · KCQG")
	assert.Contains(t, done.Body, "123/QĐ-BCT")
	assert.Contains(t, done.Body, "Đào tạo nghề, truyền nghề")
	assert.Contains(t, done.Body, "01/03/2025")
	assert.Contains(t, done.Body, "(giờ Việt Nam, UTC&#43;7)", "the recorded time is labelled with its zone")
	assert.Contains(t, done.Body, "ketoan-hn")
	assert.Regexp(t, `Còn lại</th><td>1\.500\.000\.000 ₫</td>`, done.Body)
	assert.Equal(t, "1500000000", available(t, c, "2025", "01", "national"))

	form = openForm(t, b, "/record/disburse")
	done = submit(t, b, "/record/disburse", fill(t, form, with(disbursement, "beneficiary", "<script>alert(1)</script>")))
	assert.Contains(t, done.Body, "200 triệu = 200.000.000 ₫")
	assert.Contains(t, done.Body, "Giải ngân")
	assert.Contains(t, done.Body, "UNC-0002")
	assert.Contains(t, done.Body, "&lt;script&gt;alert(1)&lt;/script&gt;")
	assert.NotContains(t, done.Body, "<script>alert")
	assert.Regexp(t, `Đã giải ngân \(trừ nộp trả\)</th><td>200\.000\.000 ₫</td>`, done.Body)
	assert.Regexp(t, `Còn lại</th><td>1\.300\.000\.000 ₫</td>`, done.Body)
	tr := trail(t, c, "2025", "01", "national")
	require.Len(t, tr.Entries, 2)
	assert.Equal(t, "<script>alert(1)</script>", tr.Entries[1].Event.Beneficiary, "recorded as typed")
	assert.Equal(t, "1300000000", available(t, c, "2025", "01", "national"))

	// A refresh of the confirmation reads; it records nothing.
	again := b.get("/record/done/" + itoa(tr.Entries[1].Seq))
	assert.Equal(t, http.StatusOK, again.Status)
	assert.Len(t, trail(t, c, "2025", "01", "national").Entries, 2)
}

func itoa(n uint64) string { return strconv.FormatUint(n, 10) }

// An allocation to a project shows the project's facts and its own
// balance beside the line's.
func TestRecordAllocationToAProject(t *testing.T) {
	c := startConsole(t, consoleOptions{})
	b := c.loggedIn(t, "ketoan-hn", domain.RoleOfficer, []string{"01"}, []string{"national"})
	form := openForm(t, b, "/record/allocate")
	done := submit(t, b, "/record/allocate", fill(t, form, with(allocation, "amount", "1 tỷ 500 triệu",
		"project", "DA-01", "project_name", "Đề án <b>gốm</b>", "implementing_unit", "Trung tâm Khuyến công", "counterpart", "500 triệu")))
	assert.Contains(t, done.Body, "1 tỷ 500 triệu = 1.500.000.000 ₫")
	assert.Contains(t, done.Body, "DA-01")
	assert.Contains(t, done.Body, "Đề án &lt;b&gt;gốm&lt;/b&gt;")
	assert.Contains(t, done.Body, "Trung tâm Khuyến công")
	assert.Regexp(t, `Vốn đối ứng</dt><dd>500\.000\.000 ₫</dd>`, done.Body)
	assert.Contains(t, done.Body, "Số dư của đề án DA-01 ngay sau nghiệp vụ")
	assert.Equal(t, 2, strings.Count(done.Body, "Còn lại</th><td>1.500.000.000 ₫</td>"), "the line's and the project's")
	// A counterpart the ledger cannot read is refused beside it.
	form = openForm(t, b, "/record/allocate")
	p := b.post("/record/allocate", fill(t, form, with(allocation, "project", "DA-02", "counterpart", "năm trăm")))
	assert.Equal(t, http.StatusBadRequest, p.Status)
	assert.Contains(t, p.Body, `<p class="field-error" id="err-counterpart" role="alert">Số tiền không hợp lệ`)
	assert.Len(t, trail(t, c, "2025", "01", "national").Entries, 1)
}

// The same form posted twice (a double click, a refresh of the POST) or
// again from the back button records once; the second answer says it was
// recorded before and shows it. The same key for another movement is
// refused, and that form gets a key of its own.
func TestRecordTwiceRecordsOnce(t *testing.T) {
	c := startConsole(t, consoleOptions{})
	b := c.loggedIn(t, "ketoan-hn", domain.RoleOfficer, []string{"01"}, []string{"national"})

	form := openForm(t, b, "/record/allocate")
	values := fill(t, form, allocation)
	first := b.post("/record/allocate", values)
	require.Equal(t, http.StatusSeeOther, first.Status, first.Body)
	second := b.post("/record/allocate", values)
	require.Equal(t, http.StatusSeeOther, second.Status, second.Body)
	assert.NotContains(t, first.Location(), "again=")
	done := b.get(second.Location())
	require.Equal(t, http.StatusOK, done.Status)
	assert.Contains(t, done.Body, "Nghiệp vụ này đã được ghi trước đó")
	assert.Regexp(t, `Còn lại</th><td>1\.500\.000\.000 ₫</td>`, done.Body)
	tr := trail(t, c, "2025", "01", "national")
	require.Len(t, tr.Entries, 1, "recorded once")
	assert.Equal(t, values.Get("idempotency_key"), tr.Entries[0].Event.IdempotencyKey)
	assert.True(t, strings.HasPrefix(second.Location(), "/record/done/"+itoa(tr.Entries[0].Seq)+"?"), second.Location())

	// The back button comes back to the form's own address, and its key.
	formAgain := b.get("/record/allocate?key=" + values.Get("idempotency_key"))
	require.Equal(t, http.StatusOK, formAgain.Status)
	assert.Equal(t, values.Get("idempotency_key"), hidden(t, formAgain, "idempotency_key"))
	third := b.post("/record/allocate", fill(t, formAgain, allocation))
	require.Equal(t, http.StatusSeeOther, third.Status)
	assert.Contains(t, third.Location(), "again=1")
	assert.Len(t, trail(t, c, "2025", "01", "national").Entries, 1)

	// The same key for another amount: refused, nothing recorded, and a
	// new key to record it with.
	reused := b.post("/record/allocate", fill(t, formAgain, with(allocation, "amount", "2 tỷ")))
	assert.Equal(t, http.StatusConflict, reused.Status)
	assert.Contains(t, reused.Body, "Biểu mẫu này đã được dùng để ghi một nghiệp vụ khác")
	assert.Contains(t, reused.Body, `value="2 tỷ"`)
	newKey := hidden(t, reused, "idempotency_key")
	assert.NotEqual(t, values.Get("idempotency_key"), newKey)
	assert.Len(t, trail(t, c, "2025", "01", "national").Entries, 1)
	submit(t, b, "/record/allocate", fill(t, reused, with(allocation, "amount", "2 tỷ")))
	assert.Equal(t, "3500000000", available(t, c, "2025", "01", "national"))

	// An adjustment's address carries its typed delta to read back, and
	// nothing else.
	v := fill(t, openForm(t, b, "/record/adjust"), map[string]string{"fiscal_year": "2025", "province": "01", "source": "national",
		"delta": "-1000", "decision": "45/QĐ-BCT", "reason": "Điều chỉnh giảm", "effective_date": "2025-06-15"})
	adj := b.post("/record/adjust", v)
	require.Equal(t, http.StatusSeeOther, adj.Status, adj.Body)
	assert.Regexp(t, `^/record/done/[0-9]+\?typed=-1000$`, adj.Location())
	assert.Contains(t, b.get(adj.Location()).Body, "-1000 = -1.000 ₫")
}

// A double click sends the same form twice at once: both answers lead
// to the one movement recorded.
func TestRecordDoubleClickAtOnce(t *testing.T) {
	c := startConsole(t, consoleOptions{})
	b := c.loggedIn(t, "ketoan-hn", domain.RoleOfficer, []string{"01"}, []string{"national"})
	form := openForm(t, b, "/record/allocate")
	body := fill(t, form, allocation).Encode()
	const clicks = 4
	var wg sync.WaitGroup
	status := make([]int, clicks)
	errs := make([]error, clicks)
	for i := range clicks {
		wg.Go(func() {
			req, err := http.NewRequestWithContext(t.Context(), http.MethodPost, c.URL+"/record/allocate", strings.NewReader(body))
			if err != nil {
				errs[i] = err
				return
			}
			req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
			req.Header.Set("Origin", c.URL)
			resp, err := b.http.Do(req)
			if err != nil {
				errs[i] = err
				return
			}
			resp.Body.Close()
			status[i] = resp.StatusCode
		})
	}
	wg.Wait()
	for i := range clicks {
		require.NoError(t, errs[i])
		assert.Equal(t, http.StatusSeeOther, status[i], "click %d", i)
	}
	assert.Len(t, trail(t, c, "2025", "01", "national").Entries, 1)
	assert.Equal(t, "1500000000", available(t, c, "2025", "01", "national"))
}

// Refusals are shown beside the field they name, in the user's language,
// with the form refilled as typed and the API's status; nothing is
// recorded.
func TestRecordRefusals(t *testing.T) {
	c := startConsole(t, consoleOptions{})
	c.account(t, "ketoan-hn", domain.RoleOfficer, []string{"01"}, []string{"national"})
	r := c.Post(t, apitest.PathAllocations, uuid.NewString(), apitest.MustJSON(t, apitest.ValidBody(apitest.PathAllocations)))
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	b := c.browser(t)
	b.logIn("ketoan-hn", testPassword, "/")

	for _, tc := range []struct {
		name, kind string
		values     map[string]string
		status     int
		field      string
		message    string
		refilled   string
	}{
		{"overspend", "disburse", with(disbursement, "amount", "2 tỷ"), http.StatusUnprocessableEntity, "amount",
			"Không đủ kinh phí: số tiền lớn hơn số còn lại của dòng ngân sách.", `value="2 tỷ"`},
		{"a province outside the scope", "disburse", with(disbursement, "province", "79"), http.StatusForbidden, "province",
			"Tài khoản của bạn không có quyền làm việc này.", `<option value="79" selected>79 · TP. Hồ Chí Minh</option>`},
		{"an amount the ledger cannot read", "disburse", with(disbursement, "amount", "hai trăm"), http.StatusBadRequest, "amount",
			"Số tiền không hợp lệ", "Chưa đọc được số tiền “hai trăm”"},
		{"an amount read two ways", "allocate", with(allocation, "amount", "60,840 tỷ"), http.StatusBadRequest, "amount",
			"Số tiền không hợp lệ", `value="60,840 tỷ"`},
		{"a missing voucher", "disburse", with(disbursement, "voucher", ""), http.StatusBadRequest, "voucher",
			"Trường này là bắt buộc.", "Hợp tác xã Gốm Bát Tràng"},
		{"a missing amount", "disburse", with(disbursement, "amount", ""), http.StatusBadRequest, "amount",
			"Trường này là bắt buộc.", "UNC-0002"},
		{"a 10 KB beneficiary", "disburse", with(disbursement, "beneficiary", strings.Repeat("x", 10<<10)), http.StatusBadRequest, "beneficiary",
			"Giá trị của trường này không hợp lệ.", strings.Repeat("x", 10<<10)},
		{"a year that is no number", "allocate", with(allocation, "fiscal_year", "năm nay"), http.StatusBadRequest, "fiscal_year",
			"Năm ngân sách không hợp lệ.", `value="năm nay"`},
		{"a date outside the year", "disburse", with(disbursement, "effective_date", "2027-01-01"), http.StatusUnprocessableEntity, "effective_date",
			"Ngày hiệu lực nằm ngoài thời hạn", `value="2027-01-01"`},
		{"a delta of zero", "adjust", map[string]string{"fiscal_year": "2025", "province": "01", "source": "national", "delta": "0",
			"decision": "45/QĐ-BCT", "reason": "Điều chỉnh", "effective_date": "2025-06-15"}, http.StatusBadRequest, "delta",
			"Số tiền không hợp lệ", `value="0"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			before := trail(t, c, "2025", "01", "national")
			form := openForm(t, b, "/record/"+tc.kind)
			p := b.post("/record/"+tc.kind, fill(t, form, tc.values))
			require.Equal(t, tc.status, p.Status, p.Body)
			assert.Contains(t, p.Body, "Chưa ghi gì vào sổ.")
			m := regexp.MustCompile(`<p class="field-error" id="err-` + tc.field + `" role="alert">([^<]*)</p>`).FindStringSubmatch(p.Body)
			require.NotNil(t, m, "no refusal beside %s:\n%s", tc.field, p.Body)
			assert.Contains(t, m[1], tc.message)
			assert.Regexp(t, `id="f-`+tc.field+`"[^>]* aria-invalid="true" aria-describedby="[^"]*err-`+tc.field+`"`, p.Body)
			assert.Contains(t, p.Body, tc.refilled, "refilled as typed")
			assert.Equal(t, hidden(t, form, "idempotency_key"), hidden(t, p, "idempotency_key"), "the same form, the same key")
			assert.Equal(t, len(before.Entries), len(trail(t, c, "2025", "01", "national").Entries), "nothing recorded")
			assert.Empty(t, trail(t, c, "2025", "79", "national").Entries)
		})
	}
	assert.Equal(t, "1000000000", available(t, c, "2025", "01", "national"), "the balance is unchanged")
}

// A refusal that names no field of the form is shown above it.
func TestRecordRefusalAboveTheForm(t *testing.T) {
	c := startConsole(t, consoleOptions{})
	b := c.loggedIn(t, "ketoan-hn", domain.RoleOfficer, []string{"01"}, []string{"national"})
	form := openForm(t, b, "/record/allocate")
	v := fill(t, form, allocation)
	v.Set("idempotency_key", "")
	p := b.post("/record/allocate", v)
	require.Equal(t, http.StatusBadRequest, p.Status, p.Body)
	assert.Contains(t, p.Body, `<p class="error" role="alert">Chưa ghi gì vào sổ. Mã chống ghi trùng của biểu mẫu không hợp lệ; hãy tải lại trang.</p>`)
	assert.NotContains(t, p.Body, `class="field-error"`)
	assert.Regexp(t, `name="idempotency_key" value="[0-9a-f-]{36}"`, p.Body, "a new key to send it with")
	assert.Empty(t, trail(t, c, "2025", "01", "national").Entries)
}

// A form without its session's token is refused, and records nothing.
func TestRecordNeedsTheFormToken(t *testing.T) {
	c := startConsole(t, consoleOptions{})
	b := c.loggedIn(t, "ketoan-hn", domain.RoleOfficer, []string{"01"}, []string{"national"})
	form := openForm(t, b, "/record/allocate")
	v := fill(t, form, allocation)
	v.Del("csrf")
	p := b.post("/record/allocate", v)
	assert.Equal(t, http.StatusForbidden, p.Status)
	assert.Empty(t, trail(t, c, "2025", "01", "national").Entries)
}

// In English the form, its refusals and the confirmation are English,
// and figures spell the unit out.
func TestRecordInEnglish(t *testing.T) {
	c := startConsole(t, consoleOptions{})
	b := c.loggedIn(t, "ketoan-hn", domain.RoleOfficer, []string{"01"}, []string{"national"})
	require.Equal(t, http.StatusSeeOther, b.get("/lang?to=en&back=%2F").Status)

	list := b.get("/record")
	assert.Contains(t, list.Body, "Record a movement")
	form := openForm(t, b, "/record/allocate")
	assert.Contains(t, form.Body, `<html lang="en">`)
	assert.Contains(t, form.Body, `<label for="f-amount">Amount</label>`)
	assert.Contains(t, form.Body, "National industrial promotion (KCQG)")
	done := submit(t, b, "/record/allocate", fill(t, form, allocation))
	assert.Contains(t, done.Body, "Recorded in the ledger.")
	assert.Contains(t, done.Body, "1,5 tỷ = 1,500,000,000 đồng")
	assert.Regexp(t, `Available</th><td>1,500,000,000 đồng</td>`, done.Body)
	assert.Contains(t, done.Body, "1 March 2025")

	form = openForm(t, b, "/record/disburse")
	p := b.post("/record/disburse", fill(t, form, with(disbursement, "amount", "2 tỷ")))
	assert.Equal(t, http.StatusUnprocessableEntity, p.Status)
	assert.Contains(t, p.Body, `<p class="field-error" id="err-amount" role="alert">Insufficient funds`)
	assert.Contains(t, p.Body, "Nothing was recorded.")
}

// A transfer's confirmation shows both of its events, each with its own
// line's balance.
func TestRecordCarryOver(t *testing.T) {
	c := startConsole(t, consoleOptions{})
	c.account(t, "ketoan-hn", domain.RoleOfficer, []string{"01"}, []string{"national"})
	r := c.Post(t, apitest.PathAllocations, uuid.NewString(), apitest.MustJSON(t, apitest.ValidBody(apitest.PathAllocations)))
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	b := c.browser(t)
	b.logIn("ketoan-hn", testPassword, "/")
	form := openForm(t, b, "/record/transfer?transfer_kind=carry_over")
	done := submit(t, b, "/record/transfer", fill(t, form, map[string]string{
		"transfer_kind": "carry_over", "fiscal_year": "2025", "province": "01", "source": "national",
		"to_fiscal_year": "2026", "to_province": "01", "amount": "400.000.000",
		"decision": "12/QĐ-UBND", "effective_date": "2026-01-15"}))
	assert.Contains(t, done.Body, "Chuyển đi")
	assert.Contains(t, done.Body, "Nhận về")
	assert.Contains(t, done.Body, "Chuyển nguồn sang năm sau")
	assert.Contains(t, done.Body, "400.000.000 = 400.000.000 ₫")
	assert.Contains(t, done.Body, `<a href="/record/transfer?transfer_kind=carry_over">Ghi tiếp: Chuyển nguồn sang năm sau</a>`)
	assert.Regexp(t, `(?s)Chuyển đi.*Còn lại</th><td>600\.000\.000 ₫</td>.*Nhận về.*Còn lại</th><td>400\.000\.000 ₫</td>`, done.Body)
	assert.Equal(t, "600000000", available(t, c, "2025", "01", "national"))
	assert.Equal(t, "400000000", available(t, c, "2026", "01", "national"))
}

// A confirmation's figures are the API's: an address edited to another
// province's movement is refused as the API refuses that event, one that
// is no movement is not found, and a transfer's other side must be its.
func TestRecordConfirmationReadsTheAPI(t *testing.T) {
	c := startConsole(t, consoleOptions{})
	c.account(t, "ketoan-hn", domain.RoleOfficer, []string{"01"}, []string{"national"})
	body := apitest.ValidBody(apitest.PathAllocations)
	body["province"] = "79"
	body["amount"] = "777000000"
	r := c.Post(t, apitest.PathAllocations, uuid.NewString(), apitest.MustJSON(t, body))
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	var other api.RecordResponse
	require.NoError(t, json.Unmarshal(r.Body, &other))
	r = c.Post(t, apitest.PathAllocations, uuid.NewString(), apitest.MustJSON(t, apitest.ValidBody(apitest.PathAllocations)))
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	var own api.RecordResponse
	require.NoError(t, json.Unmarshal(r.Body, &own))
	b := c.browser(t)
	b.logIn("ketoan-hn", testPassword, "/")

	p := b.get("/record/done/" + itoa(other.Seq))
	assert.Equal(t, http.StatusForbidden, p.Status)
	assert.NotContains(t, p.Body, "777.000.000")
	p = b.get("/record/done/" + itoa(own.Seq))
	assert.Equal(t, http.StatusOK, p.Status)
	assert.Contains(t, p.Body, "1.000.000.000 ₫")
	p = b.get("/record/done/" + itoa(own.Seq) + "?in_seq=" + itoa(own.Seq))
	assert.Equal(t, http.StatusNotFound, p.Status, "an allocation is no transfer's side")
	assert.Equal(t, http.StatusNotFound, b.get("/record/done/999").Status)
	assert.Equal(t, http.StatusBadRequest, b.get("/record/done/x").Status)
}

// The live reading answers what the form will post, in the visitor's
// language.
func TestReading(t *testing.T) {
	c := startConsole(t, consoleOptions{})
	c.account(t, "ketoan-hn", domain.RoleOfficer, []string{"01"}, []string{"national"})
	b := c.browser(t)
	assert.Equal(t, http.StatusSeeOther, b.get("/reading?amount=1").Status, "only for a session")
	b.logIn("ketoan-hn", testPassword, "/")
	read := func(amount string) (string, bool) {
		t.Helper()
		p := b.get("/reading?amount=" + url.QueryEscape(amount))
		require.Equal(t, http.StatusOK, p.Status)
		assert.Equal(t, "application/json; charset=utf-8", p.Header.Get("Content-Type"))
		var a struct {
			Text string `json:"text"`
			OK   bool   `json:"ok"`
		}
		require.NoError(t, json.Unmarshal([]byte(p.Body), &a))
		return a.Text, a.OK
	}
	for in, want := range map[string]string{
		"1,5 tỷ":        "1,5 tỷ = 1.500.000.000 ₫",
		"1.500.000.000": "1.500.000.000 = 1.500.000.000 ₫",
		"200 triệu":     "200 triệu = 200.000.000 ₫",
	} {
		text, ok := read(in)
		assert.True(t, ok, in)
		assert.Equal(t, want, text)
	}
	text, ok := read("<b>hai</b>")
	assert.False(t, ok)
	assert.Contains(t, text, "Chưa đọc được số tiền “<b>hai</b>”", "JSON text, which app.js shows as text")
	b.get("/lang?to=en&back=%2F")
	text, ok = read("1,5 tỷ")
	assert.True(t, ok)
	assert.Equal(t, "1,5 tỷ = 1,500,000,000 đồng", text)
}
