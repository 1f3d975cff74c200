package ui_test

import (
	"encoding/json"
	"fmt"
	"html"
	"net/http"
	"net/url"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/google/uuid"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/web/api"
	"github.com/kcledger/kcledger/web/api/apitest"
)

// Hostile text a beneficiary or reason may hold.
const (
	hostileScript = `<script>alert(1)</script>`
	hostileImg    = `"><img src=x onerror=alert(1)>`
)

// record posts a movement through the API as as, with a fresh
// idempotency key, and returns the key.
func record(t *testing.T, as *apitest.API, path string, body map[string]any) string {
	t.Helper()
	key := uuid.NewString()
	r := as.Post(t, path, key, apitest.MustJSON(t, body))
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	return key
}

func line(m map[string]any) map[string]any {
	b := map[string]any{"fiscal_year": 2025, "province": "01", "source": "national"}
	for k, v := range m {
		b[k] = v
	}
	return b
}

// trailOf is the API's whole audit trail of q, as the admin sees it.
func trailOf(t *testing.T, c *console, q string) []uint64 {
	t.Helper()
	r := c.Get(t, "/v1/audit?limit=1000&"+q)
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
	var res api.AuditResponse
	require.NoError(t, json.Unmarshal(r.Body, &res))
	seqs := make([]uint64, len(res.Entries))
	for i, e := range res.Entries {
		seqs[i] = e.Seq
	}
	return seqs
}

// ledgerOfTwoProvinces records Hà Nội's national line (two projects, a
// disbursement and a refund whose words are hostile) and Hồ Chí Minh
// City's local line.
func ledgerOfTwoProvinces(t *testing.T, c *console) {
	t.Helper()
	record(t, c.API, apitest.PathAllocations, line(map[string]any{"project": "DA-1", "amount": "1500000000", "decision": "3536/QĐ-BCT", "effective_date": "2025-01-10"}))
	record(t, c.API, apitest.PathAllocations, line(map[string]any{"project": "DA-2", "amount": "500000000", "decision": "3537/QĐ-BCT", "effective_date": "2025-01-11"}))
	record(t, c.API, apitest.PathDisbursements, line(map[string]any{"project": "DA-1", "amount": "300000000", "voucher": "UNC-0001", "beneficiary": hostileScript, "effective_date": "2025-03-03"}))
	record(t, c.API, apitest.PathRefunds, line(map[string]any{"project": "DA-1", "amount": "20000000", "voucher": "NT-0001", "reason": hostileImg, "effective_date": "2025-04-04"}))
	record(t, c.API, apitest.PathAllocations, map[string]any{"fiscal_year": 2025, "province": "79", "source": "local",
		"amount": "777000000", "decision": "9/QĐ-UBND", "effective_date": "2025-01-10"})
}

func TestProvincesPage(t *testing.T) {
	c := startConsole(t, consoleOptions{})
	ledgerOfTwoProvinces(t, c)
	c.account(t, "kiemtoan", domain.RoleAuditor, nil, nil)
	c.account(t, "can-bo-01", domain.RoleOfficer, []string{"01"}, []string{"national"})

	b := c.browser(t)
	b.logIn("kiemtoan", testPassword, "/")
	p := b.get("/provinces")
	require.Equal(t, http.StatusOK, p.Status, p.Body)
	assert.Contains(t, p.Body, "<h1>Tỉnh, thành phố</h1>")
	assert.Contains(t, p.Body, `<a href="/provinces/01">Hà Nội</a>`)
	assert.Contains(t, p.Body, `href="/provinces/79"`)
	assert.Contains(t, p.Body, "Miền Bắc")
	assert.Contains(t, p.Body, "Miền Nam")
	assert.Contains(t, p.Body, "năm ngân sách 2025")
	assert.Contains(t, p.Body, "<td>2.000.000.000 ₫</td><td>300.000.000 ₫</td><td>20.000.000 ₫</td><td>1.720.000.000 ₫</td>", "Hà Nội's plan, disbursed, refunded and available in 2025")
	assert.Contains(t, p.Body, "<td>777.000.000 ₫</td>")
	assert.Equal(t, 34, strings.Count(p.Body, `<a href="/provinces/`), "every province in force, each once")

	officer := c.browser(t)
	officer.logIn("can-bo-01", testPassword, "/")
	p = officer.get("/provinces")
	require.Equal(t, http.StatusOK, p.Status, p.Body)
	assert.Contains(t, p.Body, `<a href="/provinces/01">Hà Nội</a>`)
	assert.Equal(t, 1, strings.Count(p.Body, `<a href="/provinces/`), "an officer sees only its own province")
	assert.NotContains(t, p.Body, "777.000.000")
	assert.NotContains(t, p.Body, "Miền Nam")

	officer.get("/lang?to=en&back=%2F")
	p = officer.get("/provinces")
	assert.Contains(t, p.Body, "<h1>Provinces</h1>")
	assert.Contains(t, p.Body, "<td>2,000,000,000 đồng</td>")
}

func TestProvincePage(t *testing.T) {
	c := startConsole(t, consoleOptions{})
	ledgerOfTwoProvinces(t, c)
	b := c.loggedIn(t, "can-bo-01", domain.RoleOfficer, []string{"01"}, []string{"national"})

	p := b.get("/provinces/01")
	require.Equal(t, http.StatusOK, p.Status, p.Body)
	assert.Contains(t, p.Body, "Hà Nội (01): các dòng ngân sách")
	assert.Contains(t, p.Body, "Năm ngân sách 2025")
	assert.Contains(t, p.Body, `href="/lines/2025/01/national"`)
	assert.Contains(t, p.Body, "Khuyến công quốc gia")
	assert.Contains(t, p.Body, `<th scope="row">DA-1</th><td>1.500.000.000 ₫</td><td>300.000.000 ₫</td><td>20.000.000 ₫</td><td>1.220.000.000 ₫</td>`)
	assert.Contains(t, p.Body, `<th scope="row">DA-2</th><td>500.000.000 ₫</td><td>0 ₫</td><td>0 ₫</td><td>500.000.000 ₫</td>`)
	assert.Contains(t, p.Body, `<th scope="row">Cả dòng</th><td>2.000.000.000 ₫</td><td>300.000.000 ₫</td><td>20.000.000 ₫</td><td>1.720.000.000 ₫</td>`)

	// Another province, by editing the address: the API's refusal, and
	// nothing of that province.
	p = b.get("/provinces/79")
	assert.Equal(t, http.StatusForbidden, p.Status)
	assert.Contains(t, p.Body, "Tài khoản của bạn không có quyền làm việc này.")
	assert.NotContains(t, p.Body, "777.000.000")
	assert.NotContains(t, p.Body, "/lines/2025/79")
	p = b.get("/lines/2025/79/local")
	assert.Equal(t, http.StatusForbidden, p.Status)
	assert.NotContains(t, p.Body, "777.000.000")
	assert.NotContains(t, p.Body, "9/QĐ-UBND")

	assert.Equal(t, http.StatusBadRequest, b.get("/provinces/99").Status, "no such province")
	assert.Equal(t, http.StatusBadRequest, b.get("/lines/1999/01/national").Status)
	assert.Equal(t, http.StatusBadRequest, b.get("/lines/2025/01/nowhere").Status)
	assert.Equal(t, http.StatusNotFound, b.get("/lines/2026/01/national").Status, "a line without movements")

	b.get("/lang?to=en&back=%2F")
	p = b.get("/provinces/01")
	assert.Contains(t, p.Body, "Hà Nội (01): budget lines")
	assert.Contains(t, p.Body, `<th scope="row">Whole line</th><td>2,000,000,000 đồng</td>`)
}

func TestLinePageAndTrail(t *testing.T) {
	c := startConsole(t, consoleOptions{})
	ledgerOfTwoProvinces(t, c)
	b := c.loggedIn(t, "kiemtoan", domain.RoleAuditor, nil, nil)
	seqs := trailOf(t, c, "year=2025&province=01&source=national")
	require.Len(t, seqs, 4)

	p := b.get("/lines/2025/01/national")
	require.Equal(t, http.StatusOK, p.Status, p.Body)
	assert.Contains(t, p.Body, "Dòng ngân sách năm 2025 · Hà Nội · Khuyến công quốc gia")
	assert.Contains(t, p.Body, `<th scope="row">Cả dòng</th><td>2.000.000.000 ₫</td><td>300.000.000 ₫</td><td>20.000.000 ₫</td><td>1.720.000.000 ₫</td>`)
	for _, s := range seqs {
		assert.Contains(t, p.Body, fmt.Sprintf(`<a href="/events/%d">%d</a>`, s, s))
	}
	// The disbursement's row: who, when, what, and the totals after it.
	row := rowOf(t, p.Body, seqs[2])
	for _, want := range []string{"admin", "03/03/2025", "(giờ Việt Nam, UTC&#43;7)", "Giải ngân", "UNC-0001", "DA-1", "<td>300.000.000 ₫</td>",
		"<td>2.000.000.000 ₫</td>", "<td>1.700.000.000 ₫</td>", "<td>1.200.000.000 ₫</td>"} {
		assert.Contains(t, row, want)
	}
	// Hostile words are text.
	assert.Contains(t, p.Body, html.EscapeString(hostileScript))
	assert.Contains(t, p.Body, "&#34;&gt;&lt;img src=x onerror=alert(1)&gt;")
	assert.NotContains(t, p.Body, "<script>alert")
	assert.NotContains(t, p.Body, "<img src=x")

	// One project's trail.
	p = b.get("/lines/2025/01/national?project=DA-2")
	require.Equal(t, http.StatusOK, p.Status, p.Body)
	assert.Equal(t, []uint64{seqs[1]}, trailSeqs(p.Body))
	assert.Contains(t, p.Body, `<option value="DA-2" selected>`)

	b.get("/lang?to=en&back=%2F")
	p = b.get("/lines/2025/01/national")
	assert.Contains(t, p.Body, "Budget line 2025 · Hà Nội · National industrial promotion")
	assert.Contains(t, p.Body, "Disbursement")
	assert.Contains(t, p.Body, "<td>300,000,000 đồng</td>")
	assert.Contains(t, p.Body, "3 March 2025")
}

// rowOf is the trail's row of seq.
func rowOf(t *testing.T, body string, seq uint64) string {
	t.Helper()
	start := strings.Index(body, fmt.Sprintf(`<a href="/events/%d">`, seq))
	require.GreaterOrEqual(t, start, 0, "no row of seq %d", seq)
	end := strings.Index(body[start:], "</tr>")
	require.GreaterOrEqual(t, end, 0)
	return body[start : start+end]
}

var eventLink = regexp.MustCompile(`<a href="/events/(\d+)">`)

// trailSeqs are the sequences a page's trail lists, in order.
func trailSeqs(body string) []uint64 {
	var out []uint64
	for _, m := range eventLink.FindAllStringSubmatch(body, -1) {
		var n uint64
		fmt.Sscan(m[1], &n)
		out = append(out, n)
	}
	return out
}

var nextLink = regexp.MustCompile(`<a href="([^"]+)#trail" rel="next">`)
var firstLink = regexp.MustCompile(`<a href="([^"]+)#trail">`)

// The trail pages: following "next" from the first page lists every
// movement once, in order, and "first page" leads back.
func TestLineTrailIsPaged(t *testing.T) {
	c := startConsole(t, consoleOptions{})
	record(t, c.API, apitest.PathAllocations, line(map[string]any{"project": "DA-1", "amount": "1000000000", "decision": "1/QĐ-BCT", "effective_date": "2025-01-10"}))
	for i := range 11 {
		record(t, c.API, apitest.PathDisbursements, line(map[string]any{"project": "DA-1", "amount": fmt.Sprint(1000000 * (i + 1)), "voucher": fmt.Sprintf("UNC-%04d", i), "beneficiary": "HTX Gốm", "effective_date": "2025-03-03"}))
		if i == 4 { // another line in between: not on this line's pages
			record(t, c.API, apitest.PathAllocations, map[string]any{"fiscal_year": 2025, "province": "79", "source": "local", "amount": "5000000", "decision": "9/QĐ-UBND", "effective_date": "2025-01-10"})
		}
	}
	want := trailOf(t, c, "year=2025&province=01&source=national")
	require.Len(t, want, 12)
	b := c.loggedIn(t, "kiemtoan", domain.RoleAuditor, nil, nil)

	var got []uint64
	path := "/lines/2025/01/national?limit=5"
	pages := 0
	for path != "" {
		pages++
		require.LessOrEqual(t, pages, 10)
		p := b.get(path)
		require.Equal(t, http.StatusOK, p.Status, p.Body)
		onPage := trailSeqs(p.Body)
		assert.LessOrEqual(t, len(onPage), 5)
		got = append(got, onPage...)
		if pages > 1 {
			m := firstLink.FindStringSubmatch(p.Body)
			require.NotNil(t, m, "page %d offers the first page", pages)
			first := b.get(html.UnescapeString(m[1]))
			assert.Equal(t, want[:5], trailSeqs(first.Body))
		} else {
			assert.NotContains(t, p.Body, "Về trang đầu")
		}
		path = ""
		if m := nextLink.FindStringSubmatch(p.Body); m != nil {
			path = html.UnescapeString(m[1])
			assert.Contains(t, path, "limit=5", "the next page keeps the page size")
		}
	}
	assert.Equal(t, 3, pages)
	assert.Equal(t, want, got, "every movement once, in order, none skipped")

	// The default page size, with more movements than a page.
	for i := range 45 {
		record(t, c.API, apitest.PathDisbursements, line(map[string]any{"project": "DA-1", "amount": "1000", "voucher": fmt.Sprintf("UNC-9%03d", i), "beneficiary": "HTX", "effective_date": "2025-03-03"}))
	}
	want = trailOf(t, c, "year=2025&province=01&source=national")
	require.Len(t, want, 57)
	p := b.get("/lines/2025/01/national")
	assert.Equal(t, want[:50], trailSeqs(p.Body))
	m := nextLink.FindStringSubmatch(p.Body)
	require.NotNil(t, m)
	p = b.get(html.UnescapeString(m[1]))
	assert.Equal(t, want[50:], trailSeqs(p.Body))
	assert.Nil(t, nextLink.FindStringSubmatch(p.Body), "the last page")
}

// The time travel: a movement recorded after the chosen moment is absent
// from the past view, and present today.
func TestLinesAsOfAMoment(t *testing.T) {
	c := startConsole(t, consoleOptions{})
	c.UseRealTime() // as_of is compared with the server's storage times
	record(t, c.API, apitest.PathAllocations, line(map[string]any{"project": "DA-1", "amount": "1500000000", "decision": "3536/QĐ-BCT", "effective_date": "2025-01-10"}))
	record(t, c.API, apitest.PathDisbursements, line(map[string]any{"project": "DA-1", "amount": "300000000", "voucher": "UNC-0001", "beneficiary": "HTX Gốm", "effective_date": "2025-03-03"}))
	// A moment to the second after both, then wait for the clock to pass
	// it before the next movement.
	moment := time.Now().Truncate(time.Second).Add(time.Second)
	deadline := time.Now().Add(5 * time.Second)
	for !time.Now().After(moment) {
		require.True(t, time.Now().Before(deadline), "the clock did not pass %v", moment)
		time.Sleep(10 * time.Millisecond) // polling the clock itself
	}
	record(t, c.API, apitest.PathDisbursements, line(map[string]any{"project": "DA-1", "amount": "200000000", "voucher": "UNC-LATER", "beneficiary": "Recorded later", "effective_date": "2025-02-02"}))
	b := c.loggedIn(t, "kiemtoan", domain.RoleAuditor, nil, nil)

	vn := moment.In(time.FixedZone("UTC+7", 7*3600))
	q := url.Values{"date": {vn.Format(time.DateOnly)}, "time": {vn.Format(time.TimeOnly)}}.Encode()
	past := b.get("/lines/2025/01/national?" + q)
	require.Equal(t, http.StatusOK, past.Status, past.Body)
	assert.Contains(t, past.Body, "Số liệu trong quá khứ:")
	assert.Contains(t, past.Body, "trang này cho thấy sổ như tại "+vn.Format("02/01/2006")+" "+vn.Format(time.TimeOnly)+" (giờ Việt Nam, UTC&#43;7).")
	assert.Contains(t, past.Body, `<th scope="row">Cả dòng</th><td>1.500.000.000 ₫</td><td>300.000.000 ₫</td><td>0 ₫</td><td>1.200.000.000 ₫</td>`)
	assert.Contains(t, past.Body, "UNC-0001")
	assert.NotContains(t, past.Body, "UNC-LATER", "recorded after the moment")
	assert.Len(t, trailSeqs(past.Body), 2)
	assert.Contains(t, past.Body, `value="`+vn.Format(time.DateOnly)+`"`, "the date stays in its field")
	assert.Contains(t, past.Body, `href="/provinces/01?`+strings.ReplaceAll(q, "&", "&amp;")+`"`, "links keep the moment")

	prov := b.get("/provinces/01?" + q)
	require.Equal(t, http.StatusOK, prov.Status, prov.Body)
	assert.Contains(t, prov.Body, "Số liệu trong quá khứ:")
	assert.Contains(t, prov.Body, `<th scope="row">Cả dòng</th><td>1.500.000.000 ₫</td><td>300.000.000 ₫</td>`)
	assert.Contains(t, b.get("/provinces?"+q).Body, "<td>1.500.000.000 ₫</td><td>300.000.000 ₫</td>")

	today := b.get("/lines/2025/01/national")
	require.Equal(t, http.StatusOK, today.Status)
	assert.NotContains(t, today.Body, "Số liệu trong quá khứ:")
	assert.Contains(t, today.Body, "UNC-LATER")
	assert.Contains(t, today.Body, `<th scope="row">Cả dòng</th><td>1.500.000.000 ₫</td><td>500.000.000 ₫</td><td>0 ₫</td><td>1.000.000.000 ₫</td>`)

	// A date alone is the end of that day: yesterday, before everything
	// here (whose storage times are today's).
	yesterday := time.Now().In(vn.Location()).AddDate(0, 0, -1)
	p := b.get("/lines/2025/01/national?date=" + yesterday.Format("02/01/2006"))
	require.Equal(t, http.StatusOK, p.Status, p.Body)
	assert.Contains(t, p.Body, "trang này cho thấy sổ như tại "+yesterday.Format("02/01/2006")+" 23:59:59 (giờ Việt Nam, UTC&#43;7).")
	assert.Contains(t, p.Body, "Dòng này chưa có nghiệp vụ nào vào thời điểm này.")
	assert.Empty(t, trailSeqs(p.Body))
	assert.Contains(t, p.Body, `value="`+yesterday.Format(time.DateOnly)+`"`, "the date field holds what it reads")

	// A moment in the future, or no date at all: the API's refusal beside
	// the date, and no figures.
	for _, bad := range []string{"date=2099-01-01", "date=31/02/2025", "date=h%C3%B4m+qua", "date=2025-06-30&time=25:99"} {
		for _, path := range []string{"/lines/2025/01/national?", "/provinces/01?", "/provinces?"} {
			p := b.get(path + bad)
			assert.Equal(t, http.StatusBadRequest, p.Status, "%s%s", path, bad)
			assert.Contains(t, p.Body, `<p class="field-error" id="err-as_of" role="alert">Giá trị của trường này không hợp lệ.</p>`, "%s%s", path, bad)
			assert.Contains(t, p.Body, `aria-invalid="true" aria-describedby="err-as_of travel-help"`)
			assert.NotContains(t, p.Body, "1.500.000.000", "%s%s", path, bad)
			assert.NotContains(t, p.Body, "Số liệu trong quá khứ:")
		}
	}

	b.get("/lang?to=en&back=%2F")
	p = b.get("/lines/2025/01/national?" + q)
	assert.Contains(t, p.Body, "Figures of the past:")
	assert.Contains(t, p.Body, "this page shows the ledger as it stood at "+fmt.Sprintf("%d %s %d", vn.Day(), vn.Month(), vn.Year())+", "+vn.Format(time.TimeOnly)+" Vietnam time (UTC&#43;7).")
}

func TestEventPage(t *testing.T) {
	c := startConsole(t, consoleOptions{})
	ledgerOfTwoProvinces(t, c)
	key := record(t, c.API, apitest.PathDisbursements, line(map[string]any{"project": "DA-2", "amount": "100000000", "voucher": "UNC-0002", "beneficiary": hostileImg, "effective_date": "2025-05-05"}))
	c.account(t, "can-bo-01", domain.RoleOfficer, []string{"01"}, []string{"national"})
	r := c.Get(t, "/v1/audit?year=2025")
	require.Equal(t, http.StatusOK, r.Status)
	var all api.AuditResponse
	require.NoError(t, json.Unmarshal(r.Body, &all))
	require.Len(t, all.Entries, 6)
	e := all.Entries[5]
	require.Equal(t, "UNC-0002", e.Event.Voucher)

	b := c.browser(t)
	b.logIn("can-bo-01", testPassword, "/")
	p := b.get(fmt.Sprint("/events/", e.Seq))
	require.Equal(t, http.StatusOK, p.Status, p.Body)
	for _, want := range []string{
		fmt.Sprintf("Nghiệp vụ số %d: Giải ngân", e.Seq),
		"funds.disbursed.v1",
		`href="/lines/2025/01/national"`,
		"Hà Nội (01)", "DA-2", "100.000.000 ₫", "05/05/2025", "(giờ Việt Nam, UTC&#43;7)", "admin", "UNC-0002", key,
		e.Event.ID, e.Event.Hash, e.Event.PrevHash, e.Event.SignedBy, strings.ReplaceAll(e.Event.Signature, "+", "&#43;"),
		// The line's and the project's figures right after it.
		`<th scope="row">Cả dòng</th><td>2.000.000.000 ₫</td><td>400.000.000 ₫</td><td>20.000.000 ₫</td><td>1.620.000.000 ₫</td>`,
		`<th scope="row">DA-2</th><td>500.000.000 ₫</td><td>100.000.000 ₫</td><td>0 ₫</td><td>400.000.000 ₫</td>`,
		"&#34;&gt;&lt;img src=x onerror=alert(1)&gt;",
	} {
		assert.Contains(t, p.Body, want)
	}
	assert.NotContains(t, p.Body, "<img src=x")
	assert.NotEmpty(t, e.Event.PrevHash)

	dis := b.get(fmt.Sprint("/events/", all.Entries[2].Seq))
	require.Equal(t, http.StatusOK, dis.Status)
	assert.Contains(t, dis.Body, html.EscapeString(hostileScript))
	assert.NotContains(t, dis.Body, "<script>alert")

	// Another province's event: refused, with nothing of it.
	other := all.Entries[4]
	require.Equal(t, "79", other.Event.Province)
	p = b.get(fmt.Sprint("/events/", other.Seq))
	assert.Equal(t, http.StatusForbidden, p.Status)
	assert.NotContains(t, p.Body, "9/QĐ-UBND")
	assert.NotContains(t, p.Body, "777.000.000")
	assert.NotContains(t, p.Body, other.Event.Hash)

	assert.Equal(t, http.StatusNotFound, b.get(fmt.Sprint("/events/", e.Seq+100)).Status)
	assert.Equal(t, http.StatusBadRequest, b.get("/events/x").Status)

	b.get("/lang?to=en&back=%2F")
	p = b.get(fmt.Sprint("/events/", e.Seq))
	assert.Contains(t, p.Body, fmt.Sprintf("Movement %d: Disbursement", e.Seq))
	assert.Contains(t, p.Body, "100,000,000 đồng")
	assert.Contains(t, p.Body, "5 May 2025")
}
