package projections

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/kcledger/kcledger/domain"
)

// Breakdown is what the rows of a plan-execution report are.
type Breakdown string

// The breakdowns.
const (
	ByProvince Breakdown = "province"
	BySource   Breakdown = "source"
	ByCategory Breakdown = "category"
	ByProject  Breakdown = "project"
)

// ParseBreakdown reads a breakdown; the field is "by".
func ParseBreakdown(s string) (Breakdown, error) {
	switch b := Breakdown(s); b {
	case ByProvince, BySource, ByCategory, ByProject:
		return b, nil
	}
	return "", domain.Errorf(domain.CodeInvalidField, "by", "by %q is not valid: use province, source, category or project", bounded(s))
}

// PlanQuery asks for one plan-execution report.
type PlanQuery struct {
	FiscalYear int
	// Region or Province narrow the scope; both empty is the whole
	// country. Province is a code of Scheme.
	Region   domain.Region
	Province string
	// Source is "" for both sources.
	Source domain.Source
	By     Breakdown
	// Scheme is the province scheme; "" is the one in force at the end of
	// the fiscal year.
	Scheme domain.Scheme
	// EffectiveUntil keeps the movements dated on or before it (the first
	// 9 months); the previous year is cut on the same day a year earlier.
	EffectiveUntil  domain.Date
	ComparePrevious bool
	// Monthly adds the scope's executed month by month (PlanReport's
	// Monthly).
	Monthly bool
	// Events lists the sequences behind each row.
	Events       bool
	Presentation Presentation
	// Allow limits the budget lines counted (an officer's provinces and
	// sources); nil counts every line.
	Allow func(domain.LineKey) bool
}

// DefaultScheme is the scheme in force at the end of fiscal year fy.
func DefaultScheme(fy int) domain.Scheme {
	return domain.SchemeOn(domain.Date{Year: fy, Month: time.December, Day: 31})
}

// Normalize fills the defaults and checks the query; the error names the
// parameter at fault.
func (q *PlanQuery) Normalize(p domain.Policy) error {
	if q.FiscalYear < domain.MinFiscalYear || q.FiscalYear > domain.MaxFiscalYear {
		return domain.Errorf(domain.CodeInvalidYear, "year", "year %d is outside %d–%d", q.FiscalYear, domain.MinFiscalYear, domain.MaxFiscalYear)
	}
	if q.By == "" {
		q.By = ByProvince
	}
	if _, err := ParseBreakdown(string(q.By)); err != nil {
		return err
	}
	if q.Source != "" && q.Source != domain.SourceNational && q.Source != domain.SourceLocal {
		return domain.Errorf(domain.CodeUnknownSource, "source", "source %q is not valid: use national (KCQG) or local (KCĐP)", bounded(string(q.Source)))
	}
	if !q.EffectiveUntil.IsZero() {
		from := domain.Date{Year: q.FiscalYear - 1, Month: time.January, Day: 1}
		to := p.SettlementEnd(q.FiscalYear)
		if q.EffectiveUntil.Before(from) || q.EffectiveUntil.After(to) {
			return domain.Errorf(domain.CodeInvalidField, "effective_until",
				"effective_until %s is outside fiscal year %d's window, %s (plans assigned the year before) to %s (end of the settlement period)", q.EffectiveUntil, q.FiscalYear, from, to)
		}
	}
	switch q.Scheme {
	case "":
		q.Scheme = DefaultScheme(q.FiscalYear)
	case domain.Scheme63, domain.Scheme34:
	default:
		return domain.Errorf(domain.CodeInvalidField, "scheme", "scheme %q is not valid: use 63 (provinces until 30 June 2025) or 34 (from 1 July 2025)", bounded(string(q.Scheme)))
	}
	if q.Scheme == domain.Scheme63 && !q.before34() {
		return domain.Errorf(domain.CodeInvalidField, "scheme",
			"fiscal year %d has movements under the 34 provinces in force from %s, which the 63-province scheme cannot show: use scheme 34 (or cut effective_until before %s)", q.FiscalYear, domain.Scheme34Start, domain.Scheme34Start)
	}
	if q.Region != "" && q.Province != "" {
		return domain.Errorf(domain.CodeInvalidField, "province", "give a region or a province, not both")
	}
	if q.Region != "" && !slices.Contains(domain.Regions(), q.Region) {
		return domain.Errorf(domain.CodeInvalidField, "region", "region %q is not valid: use north, central_highlands or south", bounded(string(q.Region)))
	}
	if q.Province != "" {
		if _, ok := domain.LookupProvince(q.Scheme, q.Province); !ok {
			return domain.Errorf(domain.CodeUnknownProvince, "province", "province %q is not in the %s-province scheme", bounded(q.Province), q.Scheme)
		}
	}
	if q.Presentation == (Presentation{}) {
		q.Presentation = DefaultPresentation()
	}
	return q.Presentation.Validate()
}

// before34 says whether everything the query counts of its fiscal year is
// dated before the 34-province scheme.
func (q *PlanQuery) before34() bool {
	end := domain.Date{Year: q.FiscalYear, Month: time.December, Day: 31}
	if !q.EffectiveUntil.IsZero() {
		end = q.EffectiveUntil
	}
	return end.Before(domain.Scheme34Start)
}

// atomKey is the finest cell the model keeps: every breakdown and every
// effective-date cut is a sum of atoms.
type atomKey struct {
	line     domain.LineKey
	project  string
	category domain.Category
	date     domain.Date
}

type atom struct {
	balance     domain.Balance
	counterpart domain.Amount
	events      int
	seqs        []uint64
	// carried, nil for the many atoms without, holds the carry-overs
	// (chuyển nguồn) among balance.TransferredIn and TransferredOut; the
	// rest are successions. It is never changed in place: sums share it.
	carried *carried
}

// carried is what an atom carried over from the previous fiscal year (in)
// and to the next (out).
type carried struct{ in, out domain.Amount }

// plus returns the sum of two carried sums, either of which may be nil.
func (c *carried) plus(o *carried) *carried {
	switch {
	case o == nil:
		return c
	case c == nil:
		return o
	}
	return &carried{in: c.in.Add(o.in), out: c.out.Add(o.out)}
}

type projectKey struct {
	line    domain.LineKey
	project string
}

// Plans is the read model of plan-execution reports, built from the
// events themselves, fed like Past: Add takes the stream in order up to a
// cut's end (UntilSeq, AsOf), checking every line's chain and invariants
// as Balances does, and keeping each movement in an atom of (line,
// project, category, effective date) so that any breakdown and any
// effective-date cut is a sum of atoms. Repudiated messages count for
// nothing.
type Plans struct {
	mu    sync.RWMutex
	cut   Cut
	only  map[int]bool // nil: every year
	check *Balances
	// undated holds, by fiscal year, the sums of each (line, project,
	// category, scheme its days fall in): a report without an
	// effective_until cut reads a few atoms per project. days holds the
	// same sums per day, for the reports with a cut.
	undated map[int]map[atomKey]*atom
	days    map[int]map[atomKey]*series
	// stale lists the years with a series whose running sums are stale.
	stale map[int]bool
	// noSeqs: the live model keeps no sequences (memory); a report that
	// lists them is built from the stream.
	noSeqs bool
	// categories holds a project's category as its first movement that
	// names one gave it: later movements that name none inherit it.
	categories map[projectKey]domain.Category
	// names holds a project's name, as its latest allocation gave it.
	names map[projectKey]string
	// successions holds both sides of every succession transfer, by
	// transfer id: under the 34-province scheme a province and its
	// successor are one, and the two sides cancel in a row that holds
	// both.
	successions map[string]*succession
	// last is the last message Add took, so that a cut never ends
	// inside a transfer (Cut.EndsAt).
	last domain.Recorded
}

// succession is one succession transfer as the model saw it: its sides'
// atoms (undated, as in Plans.undated), once each side is applied.
type succession struct {
	fiscalYear int
	date       domain.Date
	amount     domain.Amount
	out, in    atomKey
	// hasOut and hasIn say which sides were applied (a cut may fall
	// between them).
	hasOut, hasIn bool
}

// NewPlans starts the model. The cut's EffectiveUntil is ignored (a query
// gives its own); years, when given, keeps only those fiscal years.
func NewPlans(c Cut, years ...int) *Plans {
	p := &Plans{cut: Cut{UntilSeq: c.UntilSeq, AsOf: c.AsOf}, check: NewBalances(), undated: map[int]map[atomKey]*atom{}, days: map[int]map[atomKey]*series{}, stale: map[int]bool{}, categories: map[projectKey]domain.Category{}, names: map[projectKey]string{}, successions: map[string]*succession{}}
	if len(years) > 0 {
		p.only = map[int]bool{}
		for _, y := range years {
			p.only[y] = true
		}
	}
	return p
}

// NewLivePlans starts the model a server keeps up to date with Run: every
// year, no cut, no sequences.
func NewLivePlans() *Plans {
	p := NewPlans(Cut{})
	p.noSeqs = true
	return p
}

// ErrNoSeqs is PlanExecution asked for sequences of a model that keeps
// none.
var ErrNoSeqs = errors.New("projections: plans: this model keeps no sequences")

// Run replays feed from the start into p, then follows it until ctx ends,
// as Balances.Run does.
func (p *Plans) Run(ctx context.Context, feed Feed) error {
	return feed.Follow(ctx, p.Applied(), p.Apply)
}

// PassedOver says whether the message at seq was passed over as
// repudiated.
func (p *Plans) PassedOver(seq uint64) bool { return p.check.PassedOver(seq) }

// WaitFor blocks until the event at seq (or a later one) has been
// applied, or ctx ends.
func (p *Plans) WaitFor(ctx context.Context, seq uint64) error { return p.check.WaitFor(ctx, seq) }

// Add takes the next event of the stream, stored at stored; it returns
// false once the cut has ended, and an error wrapping domain.ErrCorrupt
// for a stream that is not sound.
func (p *Plans) Add(r domain.Recorded, stored time.Time) (bool, error) {
	if p.cut.EndsAt(r, p.last, stored) {
		return false, nil
	}
	p.last = r
	return true, p.Apply(r)
}

// Apply adds one event, without a cut: the live model. The event and its
// atom land together, under the lock reports read with.
func (p *Plans) Apply(r domain.Recorded) error {
	if !r.Repudiated && r.Event.Type != domain.TypeRepudiated && p.only != nil && !p.only[r.Event.FiscalYear] {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if r.Seq <= p.check.Applied() {
		return nil
	}
	var projectsLapsed map[string]domain.Amount
	if !r.Repudiated && r.Event.Type == domain.TypeLapsed && r.Event.Project == "" {
		projectsLapsed = p.check.projectsAvailable(r.Event.Line())
	}
	if err := p.check.Apply(r); err != nil {
		return fmt.Errorf("projections: plans: %w", err)
	}
	if r.Repudiated || r.Event.Type == domain.TypeRepudiated {
		return nil
	}
	e := &r.Event
	pk := projectKey{e.Line(), e.Project}
	cat := e.Category
	if e.Type == domain.TypeTransferredIn && e.TransferKind == domain.TransferSuccession && cat == "" && e.Project != "" {
		// A project passed on keeps its code, and its category, unless
		// the destination's project already has one. (Only within a
		// year: a model of some years only must say what one of every
		// year does.)
		if _, ok := p.categories[pk]; !ok {
			cat = p.categories[projectKey{e.FromLine, e.Project}]
		}
	}
	if e.Project != "" {
		if known, ok := p.categories[pk]; ok && cat == "" {
			cat = known
		} else if !ok && cat != "" {
			p.categories[pk] = cat
		}
	}
	if e.ProjectName != "" {
		p.names[pk] = e.ProjectName
	}
	k := atomKey{line: e.Line(), project: e.Project, category: cat, date: e.EffectiveDate}
	day := k.date
	k.date = schemeStart(domain.SchemeOn(e.EffectiveDate))
	p.addAtom(p.undated, k, e, r.Seq)
	if e.TransferKind == domain.TransferSuccession {
		sc := p.successions[e.TransferID]
		if sc == nil {
			sc = &succession{fiscalYear: e.FiscalYear, date: e.EffectiveDate, amount: e.Amount}
			p.successions[e.TransferID] = sc
		}
		if e.Type == domain.TypeTransferredOut {
			sc.out, sc.hasOut = k, true
		} else {
			sc.in, sc.hasIn = k, true
		}
	}
	p.dayAtom(e.FiscalYear, k, day).add(e, r.Seq, !p.noSeqs)
	// A lapse of the whole line lapses what each project still had
	// (domain.LineState.Apply): that part of its amount is the
	// project's, the rest the line's own.
	for code, a := range projectsLapsed {
		pk := atomKey{line: k.line, project: code, category: p.categories[projectKey{k.line, code}], date: k.date}
		for _, at := range []*atom{p.undatedAtom(e.FiscalYear, pk), p.dayAtom(e.FiscalYear, pk, day)} {
			at.balance.Lapsed = at.balance.Lapsed.Add(a)
		}
		for _, at := range []*atom{p.undatedAtom(e.FiscalYear, k), p.dayAtom(e.FiscalYear, k, day)} {
			at.balance.Lapsed = at.balance.Lapsed.Sub(a)
		}
	}
	p.stale[e.FiscalYear] = true
	return nil
}

// undatedAtom returns the undated atom of k in fiscal year fy, made if
// needed.
func (p *Plans) undatedAtom(fy int, k atomKey) *atom {
	year := p.undated[fy]
	if year == nil {
		year = map[atomKey]*atom{}
		p.undated[fy] = year
	}
	a := year[k]
	if a == nil {
		a = &atom{}
		year[k] = a
	}
	return a
}

// dayAtom returns the atom of k on one day of fiscal year fy, made if
// needed, and marks its series stale.
func (p *Plans) dayAtom(fy int, k atomKey, day domain.Date) *atom {
	year := p.days[fy]
	if year == nil {
		year = map[atomKey]*series{}
		p.days[fy] = year
	}
	sr := year[k]
	if sr == nil {
		sr = &series{byDay: map[domain.Date]*atom{}}
		year[k] = sr
	}
	a := sr.byDay[day]
	if a == nil {
		a = &atom{}
		sr.byDay[day] = a
	}
	sr.stale = true
	return a
}

func (p *Plans) addAtom(atoms map[int]map[atomKey]*atom, k atomKey, e *domain.Event, seq uint64) {
	year := atoms[e.FiscalYear]
	if year == nil {
		year = map[atomKey]*atom{}
		atoms[e.FiscalYear] = year
	}
	a := year[k]
	if a == nil {
		a = &atom{}
		year[k] = a
	}
	a.add(e, seq, !p.noSeqs)
}

func (a *atom) add(e *domain.Event, seq uint64, seqs bool) {
	a.balance = a.balance.After(e)
	a.counterpart = a.counterpart.Add(e.Counterpart)
	if e.TransferKind == domain.TransferCarryOver {
		c := &carried{in: e.Amount}
		if e.Type == domain.TypeTransferredOut {
			c = &carried{out: e.Amount}
		}
		a.carried = a.carried.plus(c)
	}
	a.events++
	if seqs {
		a.seqs = append(a.seqs, seq)
	}
}

// plus adds b's sums to a's, the sequences left out.
func (a *atom) plus(b *atom) {
	a.balance = a.balance.Plus(b.balance)
	a.counterpart = a.counterpart.Add(b.counterpart)
	a.carried = a.carried.plus(b.carried)
	a.events += b.events
}

// series is one undated atom's days, with running sums over them in day
// order once refreshed.
type series struct {
	byDay map[domain.Date]*atom
	// days and running (running[i] sums the days up to days[i], seqs
	// left out) are valid unless stale.
	days    []domain.Date
	running []atom
	stale   bool
}

func (s *series) refresh() {
	s.days = s.days[:0]
	for d := range s.byDay {
		s.days = append(s.days, d)
	}
	slices.SortFunc(s.days, domain.Date.Compare)
	s.running = s.running[:0]
	var sum atom
	for _, d := range s.days {
		sum.plus(s.byDay[d])
		s.running = append(s.running, sum)
	}
	s.stale = false
}

// until sums the days up to d: by the running sums when they are fresh,
// day by day when they are stale (a write since the last refresh). The
// sequences are gathered when asked for.
func (s *series) until(d domain.Date, seqs bool) atom {
	var sum atom
	if !s.stale && !seqs {
		i, found := slices.BinarySearchFunc(s.days, d, domain.Date.Compare)
		if found {
			i++
		}
		if i > 0 {
			sum = s.running[i-1]
		}
		return sum
	}
	for day, a := range s.byDay {
		if day.After(d) {
			continue
		}
		sum.plus(a)
		if seqs {
			sum.seqs = append(sum.seqs, a.seqs...)
		}
	}
	return sum
}

// refreshYear brings the running sums of a year up to date, under the
// write lock; reports then read them under the read lock.
func (p *Plans) refreshYear(fy int) {
	p.mu.RLock()
	stale := p.stale[fy]
	p.mu.RUnlock()
	if !stale {
		return
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range p.days[fy] {
		if s.stale {
			s.refresh()
		}
	}
	p.stale[fy] = false
}

// schemeStart stands for every date of a scheme in the undated atoms:
// what a code means depends on nothing else of the date.
func schemeStart(s domain.Scheme) domain.Date {
	if s == domain.Scheme34 {
		return domain.Scheme34Start
	}
	return domain.Date{Year: domain.MinFiscalYear - 1, Month: time.January, Day: 1}
}

// Applied is the sequence of the last event applied.
func (p *Plans) Applied() uint64 { return p.check.Applied() }

// Balances is the checked balances of the lines the model holds, for
// cross-checks.
func (p *Plans) Balances() *Balances { return p.check }

// PlanRow is one row (or subtotal, or total) of a report.
type PlanRow struct {
	// Key is the row's machine key: a province code, a source, a
	// category (or "" when none), or a project as province/source/code
	// of its line ("01/national/DA-1"; the code is empty for movements
	// tied to no project).
	Key   string `json:"key"`
	Label string `json:"label"`
	// Plan is Allocated plus TransferredIn and CarriedIn, minus
	// TransferredOut and CarriedOut; Executed is net disbursed (disbursed
	// minus refunded); Available is Plan minus Executed and Lapsed.
	Plan      Money `json:"plan"`
	Executed  Money `json:"executed"`
	Available Money `json:"available"`
	// Allocated is allocations plus adjustments (dự toán giao).
	Allocated Money `json:"allocated"`
	// TransferredIn and TransferredOut are the successions (a merged
	// province's line passed to its successor) into and out of the row.
	// Under the 34-province scheme a succession whose two sides fall in
	// the row is a move within it and counts in neither.
	TransferredIn  Money `json:"transferred_in"`
	TransferredOut Money `json:"transferred_out"`
	// CarriedIn is what the previous fiscal year's lines carried over to
	// this year's (chuyển nguồn), CarriedOut what this year's carried
	// over to the next: a carry-over is plan of the year it goes to, and
	// leaves the plan of the year it comes from.
	CarriedIn  Money `json:"carried_in"`
	CarriedOut Money `json:"carried_out"`
	// Lapsed is what lapsed after the settlement period (hủy dự toán).
	Lapsed Money `json:"lapsed"`
	// PercentOfPlan is Executed over the row's own plan or the scope's
	// total plan (Presentation.ShareOf).
	PercentOfPlan Percent `json:"percent_of_plan"`
	// Share is Executed over the scope's execution.
	Share Percent `json:"share"`
	// Projects counts the distinct projects with a positive plan in the
	// row.
	Projects int `json:"projects"`
	// Counterpart is the counterpart money (vốn đối ứng) pledged: never
	// state money, never in Plan.
	Counterpart Money `json:"counterpart"`
	Events      int   `json:"events"`
	// Seqs are the stream sequences of the events behind the row, when
	// asked for.
	Seqs     []uint64      `json:"seqs,omitempty"`
	Previous *PlanPrevious `json:"previous,omitempty"`
}

// PlanPrevious compares a row with the same row of the previous fiscal
// year, cut on the same day a year earlier.
type PlanPrevious struct {
	FiscalYear     int     `json:"fiscal_year"`
	Plan           Money   `json:"plan"`
	Executed       Money   `json:"executed"`
	PlanGrowth     Percent `json:"plan_growth"`
	ExecutedGrowth Percent `json:"executed_growth"`
}

// PlanScope is what a report covers.
type PlanScope struct {
	// Kind is "country", "region" or "province".
	Kind     string           `json:"kind"`
	Region   domain.Region    `json:"region,omitempty"`
	Province *domain.Province `json:"province,omitempty"`
}

// PlanReport is a plan-execution report as the ministry publishes them.
type PlanReport struct {
	FiscalYear int       `json:"fiscal_year"`
	Scope      PlanScope `json:"scope"`
	// Source is "national", "local" or "both".
	Source string        `json:"source"`
	By     Breakdown     `json:"by"`
	Scheme domain.Scheme `json:"scheme"`
	// Provinces are the provinces of Scheme the scope counts.
	Provinces      []domain.Province `json:"provinces"`
	EffectiveUntil *domain.Date      `json:"effective_until,omitempty"`
	// AsOfSeq is the last sequence the model had applied.
	AsOfSeq      uint64       `json:"as_of_seq"`
	Presentation Presentation `json:"presentation"`
	Rows         []PlanRow    `json:"rows"`
	// Sources are the subtotals per source.
	Sources []PlanRow `json:"sources"`
	Total   PlanRow   `json:"total"`
	// Monthly, when the query asks for it, is the scope's executed (net
	// disbursed) by effective date: January to December of the fiscal
	// year, then a thirteenth entry for what is dated after it (the
	// settlement period). It adds up to Total's Executed.
	Monthly []Money `json:"monthly,omitempty"`
}

// MonthsOfYear is the length of PlanReport.Monthly: twelve months and
// what is dated after the fiscal year.
const MonthsOfYear = 13

// monthOf is the entry of PlanReport.Monthly an effective date counts in.
func monthOf(fy int, d domain.Date) int {
	switch {
	case d.Year < fy:
		return 0
	case d.Year > fy:
		return MonthsOfYear - 1
	}
	return int(d.Month) - 1
}

// cell sums atoms.
type cell struct {
	balance     domain.Balance
	counterpart domain.Amount
	carried     carried
	events      int
	seqs        []uint64
	plans       map[projectKey]domain.Amount
}

func (c *cell) add(k atomKey, a *atom, seqs bool) {
	if c.plans == nil {
		c.plans = map[projectKey]domain.Amount{}
	}
	c.balance = c.balance.Plus(a.balance)
	c.counterpart = c.counterpart.Add(a.counterpart)
	if a.carried != nil {
		c.carried = carried{in: c.carried.in.Add(a.carried.in), out: c.carried.out.Add(a.carried.out)}
	}
	c.events += a.events
	if seqs {
		c.seqs = append(c.seqs, a.seqs...)
	}
	if k.project != "" {
		pk := projectKey{k.line, k.project}
		c.plans[pk] = c.plans[pk].Add(a.balance.Plan())
	}
}

// cancel takes a succession whose two sides the cell holds out of its
// transfers: a move within the cell, which changes its plan by nothing.
func (c *cell) cancel(amount domain.Amount) {
	c.balance.TransferredIn = c.balance.TransferredIn.Sub(amount)
	c.balance.TransferredOut = c.balance.TransferredOut.Sub(amount)
}

// projects counts the cell's projects with a positive plan; same names
// a project that a succession carried on to another line (under the
// 34-province scheme, one project under two codes of one province).
func (c *cell) projects(same map[projectKey]projectKey) int {
	plans := c.plans
	if len(same) > 0 {
		plans = make(map[projectKey]domain.Amount, len(c.plans))
		for pk, a := range c.plans {
			for i := 0; i < len(same) && same[pk] != (projectKey{}); i++ { // bounded: no cycle can loop
				pk = same[pk]
			}
			plans[pk] = plans[pk].Add(a)
		}
	}
	n := 0
	for _, a := range plans {
		if a.Sign() > 0 {
			n++
		}
	}
	return n
}

// provinceIn returns the province of scheme s a movement's code counts
// under. A line of a fiscal year before the merger keeps its 63-scheme
// code whenever its movements are dated (history stays under old codes);
// on later lines a code means the province of the scheme in force on the
// movement's date. Under 34 an old code rolls up to its successor, also
// when it is dated after the merger: a refund, a transfer out or a lapse
// on a line of a code no longer in force.
func provinceIn(s domain.Scheme, line domain.LineKey, d domain.Date) (domain.Province, error) {
	in := domain.SchemeOn(d)
	if line.FiscalYear < domain.Scheme34Start.Year {
		in = domain.Scheme63
	}
	if in == s {
		if p, ok := domain.LookupProvince(s, line.Province); ok {
			return p, nil
		}
	}
	if s == domain.Scheme34 {
		if p, ok := domain.Successor(line.Province); ok {
			return p, nil
		}
	}
	return domain.Province{}, fmt.Errorf("projections: plans: %w: province %q of line %s, dated %s, has no province in the %s-province scheme", domain.ErrCorrupt, line.Province, line, d, s)
}

type rowKey struct{ key, label string }

// PlanExecution builds the report q asks for. q must have been
// normalized.
func (p *Plans) PlanExecution(q PlanQuery) (PlanReport, error) {
	if q.Events && p.noSeqs {
		return PlanReport{}, ErrNoSeqs
	}
	if !q.EffectiveUntil.IsZero() {
		p.refreshYear(q.FiscalYear)
		if q.ComparePrevious {
			p.refreshYear(q.FiscalYear - 1)
		}
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	pr := q.Presentation
	rep := PlanReport{
		FiscalYear: q.FiscalYear, By: q.By, Scheme: q.Scheme, Source: "both",
		AsOfSeq: p.check.Applied(), Presentation: pr, Rows: []PlanRow{}, Sources: []PlanRow{},
	}
	if q.Source != "" {
		rep.Source = string(q.Source)
	}
	if !q.EffectiveUntil.IsZero() {
		d := q.EffectiveUntil
		rep.EffectiveUntil = &d
	}
	inScope := func(pv domain.Province) bool {
		return (q.Region == "" || pv.Region == q.Region) && (q.Province == "" || pv.Code == q.Province)
	}
	switch {
	case q.Province != "":
		pv, _ := domain.LookupProvince(q.Scheme, q.Province)
		rep.Scope = PlanScope{Kind: "province", Province: &pv}
	case q.Region != "":
		rep.Scope = PlanScope{Kind: "region", Region: q.Region}
	default:
		rep.Scope = PlanScope{Kind: "country"}
	}
	rep.Provinces = []domain.Province{}
	for _, pv := range domain.Provinces(q.Scheme) {
		if inScope(pv) {
			rep.Provinces = append(rep.Provinces, pv)
		}
	}

	prevUntil := domain.Date{}
	if !q.EffectiveUntil.IsZero() {
		prevUntil = yearEarlier(q.EffectiveUntil)
	}
	type sums struct {
		rows    map[rowKey]*cell
		sources map[domain.Source]*cell
		total   cell
		months  [MonthsOfYear]domain.Amount
	}
	collect := func(fy int, until domain.Date) (sums, error) {
		s := sums{rows: map[rowKey]*cell{}, sources: map[domain.Source]*cell{}}
		// rowOf is the row an atom counts in, and whether the scope
		// counts it at all.
		rowOf := func(k atomKey) (rowKey, bool, error) {
			pv, err := provinceIn(q.Scheme, k.line, k.date)
			if err != nil || !inScope(pv) {
				return rowKey{}, false, err
			}
			var rk rowKey
			switch q.By {
			case ByProvince:
				rk = rowKey{pv.Code, pv.Name}
			case BySource:
				rk = rowKey{string(k.line.Source), k.line.Source.Label()}
			case ByCategory:
				rk = rowKey{string(k.category), categoryLabel(k.category)}
			case ByProject:
				// A project is its code within its line: two provinces
				// may use the same code.
				rk = rowKey{k.line.Province + "/" + string(k.line.Source) + "/" + k.project, k.project}
				if n := p.names[projectKey{k.line, k.project}]; n != "" {
					rk.label = n
				}
				if k.project == "" {
					rk.label = "Không thuộc đề án"
				}
			}
			return rk, true, nil
		}
		visit := func(k atomKey, a *atom) error {
			rk, ok, err := rowOf(k)
			if err != nil || !ok {
				return err
			}
			c := s.rows[rk]
			if c == nil {
				c = &cell{}
				s.rows[rk] = c
			}
			c.add(k, a, q.Events)
			sc := s.sources[k.line.Source]
			if sc == nil {
				sc = &cell{}
				s.sources[k.line.Source] = sc
			}
			sc.add(k, a, q.Events)
			s.total.add(k, a, q.Events)
			return nil
		}
		keep := func(k atomKey) bool {
			return (q.Source == "" || k.line.Source == q.Source) && (q.Allow == nil || q.Allow(k.line))
		}
		// internal cancels the successions whose two sides the scope
		// counts, in the total, the source's subtotal and, when both
		// fall in one, the row: under the 34-province scheme, a province
		// and its successor are one. (Under 63, which shows nothing dated
		// from the merger, there are none.)
		internal := func() error {
			for _, sc := range p.successions {
				if sc.fiscalYear != fy || !sc.hasOut || !sc.hasIn || !until.IsZero() && sc.date.After(until) || !keep(sc.out) || !keep(sc.in) {
					continue
				}
				ro, okOut, err := rowOf(sc.out)
				if err != nil {
					return err
				}
				ri, okIn, err := rowOf(sc.in)
				if err != nil {
					return err
				}
				if !okOut || !okIn {
					continue // one side is outside the scope: money that came in or left
				}
				// Both sides were visited, so their cells exist.
				if ro == ri {
					s.rows[ro].cancel(sc.amount)
				}
				s.sources[sc.out.line.Source].cancel(sc.amount)
				s.total.cancel(sc.amount)
			}
			return nil
		}
		// monthly sums each day's executed into its month, in the scope
		// and by the cut.
		monthly := func() error {
			if !q.Monthly || fy != q.FiscalYear {
				return nil
			}
			for k, sr := range p.days[fy] {
				if !keep(k) {
					continue
				}
				if _, ok, err := rowOf(k); err != nil || !ok {
					if err != nil {
						return err
					}
					continue
				}
				for day, a := range sr.byDay {
					if until.IsZero() || !day.After(until) {
						m := monthOf(fy, day)
						s.months[m] = s.months[m].Add(a.balance.NetDisbursed())
					}
				}
			}
			return nil
		}
		if err := monthly(); err != nil {
			return s, err
		}
		if until.IsZero() {
			for k, a := range p.undated[fy] {
				if keep(k) {
					if err := visit(k, a); err != nil {
						return s, err
					}
				}
			}
			return s, internal()
		}
		for k, sr := range p.days[fy] {
			if !keep(k) {
				continue
			}
			sum := sr.until(until, q.Events)
			if sum.events == 0 {
				continue // nothing dated by the cut: not even its scheme counts
			}
			if err := visit(k, &sum); err != nil {
				return s, err
			}
		}
		return s, internal()
	}
	cur, err := collect(q.FiscalYear, q.EffectiveUntil)
	if err != nil {
		return rep, err
	}
	var prev sums
	if q.ComparePrevious {
		if prev, err = collect(q.FiscalYear-1, prevUntil); err != nil {
			return rep, err
		}
	}
	// A project a succession carried on is one project on both lines.
	same := map[projectKey]projectKey{}
	if q.Scheme == domain.Scheme34 {
		for _, sc := range p.successions {
			if sc.hasOut && sc.hasIn && sc.out.project != "" {
				same[projectKey{sc.out.line, sc.out.project}] = projectKey{sc.in.line, sc.in.project}
			}
		}
	}
	totalPlan, totalExec := cur.total.balance.Plan(), cur.total.balance.NetDisbursed()
	row := func(key, label string, c *cell, pc *cell) PlanRow {
		if c == nil {
			c = &cell{}
		}
		b := c.balance
		den, of := b.Plan(), "own_plan"
		if pr.ShareOf == OfTotalPlan {
			den, of = totalPlan, "total_plan"
		}
		r := PlanRow{
			Key: key, Label: label,
			Plan: pr.money(b.Plan()), Executed: pr.money(b.NetDisbursed()), Available: pr.money(b.Available()),
			Allocated:     pr.money(b.Allocated),
			TransferredIn: pr.money(b.TransferredIn.Sub(c.carried.in)), TransferredOut: pr.money(b.TransferredOut.Sub(c.carried.out)),
			CarriedIn: pr.money(c.carried.in), CarriedOut: pr.money(c.carried.out), Lapsed: pr.money(b.Lapsed),
			PercentOfPlan: pr.Percent(b.NetDisbursed(), den, of),
			Share:         pr.Percent(b.NetDisbursed(), totalExec, "scope_executed"),
			Projects:      c.projects(same), Counterpart: pr.money(c.counterpart), Events: c.events,
		}
		if q.Events {
			r.Seqs = slices.Clone(c.seqs)
			if r.Seqs == nil {
				r.Seqs = []uint64{}
			}
			slices.Sort(r.Seqs)
		}
		if q.ComparePrevious {
			if pc == nil {
				pc = &cell{}
			}
			pb := pc.balance
			r.Previous = &PlanPrevious{
				FiscalYear: q.FiscalYear - 1,
				Plan:       pr.money(pb.Plan()), Executed: pr.money(pb.NetDisbursed()),
				PlanGrowth:     pr.Percent(b.Plan().Sub(pb.Plan()), pb.Plan(), "previous_year"),
				ExecutedGrowth: pr.Percent(b.NetDisbursed().Sub(pb.NetDisbursed()), pb.NetDisbursed(), "previous_year"),
			}
		}
		return r
	}
	// A row is its key in both years; its label is this year's (a
	// project named only this year, or only the year before, is one
	// project).
	type both struct {
		label     string
		cur, prev *cell
	}
	byKey := map[string]*both{}
	for k, c := range prev.rows {
		byKey[k.key] = &both{label: k.label, prev: c}
	}
	for k, c := range cur.rows {
		b := byKey[k.key]
		if b == nil {
			b = &both{}
			byKey[k.key] = b
		}
		b.label, b.cur = k.label, c
	}
	ordered := make([]string, 0, len(byKey))
	for k := range byKey {
		ordered = append(ordered, k)
	}
	order := rowOrder(q.By, q.Scheme)
	slices.SortFunc(ordered, func(x, y string) int {
		return cmp.Or(cmp.Compare(order(x), order(y)), cmp.Compare(x, y))
	})
	for _, k := range ordered {
		b := byKey[k]
		rep.Rows = append(rep.Rows, row(k, b.label, b.cur, b.prev))
	}
	for _, s := range domain.Sources() {
		if q.Source != "" && s != q.Source {
			continue
		}
		rep.Sources = append(rep.Sources, row(string(s), s.Label(), cur.sources[s], prev.sources[s]))
	}
	rep.Total = row("", "Tổng cộng", &cur.total, &prev.total)
	if q.Monthly {
		rep.Monthly = make([]Money, MonthsOfYear)
		for i, a := range cur.months {
			rep.Monthly[i] = pr.money(a)
		}
	}
	return rep, nil
}

// rowOrder puts provinces in the reference order and categories in
// display order; other keys sort by themselves.
func rowOrder(by Breakdown, s domain.Scheme) func(string) int {
	pos := map[string]int{}
	switch by {
	case ByProvince:
		for i, p := range domain.Provinces(s) {
			pos[p.Code] = i
		}
	case BySource:
		for i, src := range domain.Sources() {
			pos[string(src)] = i
		}
	case ByCategory:
		for i, c := range domain.Categories() {
			pos[string(c)] = i
		}
		pos[""] = len(pos)
	}
	return func(k string) int { return pos[k] }
}

func categoryLabel(c domain.Category) string {
	if c == "" {
		return "Chưa phân loại"
	}
	return c.Label()
}

// yearEarlier is d a year earlier; 29 February becomes 28 February.
func yearEarlier(d domain.Date) domain.Date {
	d.Year--
	if d.Month == time.February && d.Day == 29 {
		d.Day = 28
	}
	return d
}
