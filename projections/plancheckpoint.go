package projections

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"sync"
	"time"

	"github.com/kcledger/kcledger/domain"
)

// plansCheckpointVersion names the format of the reports' model
// checkpoint; one of another version is not read, and the model is
// rebuilt from the stream.
const plansCheckpointVersion = 2

// plansCheckpointMagic begins every checkpoint of the reports' model.
const plansCheckpointMagic = "kcledger-plans-checkpoint\n"

// A checkpoint of the reports' model holds about one atom per event
// (line, project, category, day), a million over ten years of every
// province: it is binary, not JSON, so that saving and loading it stays
// a fraction of a second. After the magic and the version come:
//
//   - the balances' checkpoint of the lines (Balances.Checkpoint, JSON),
//     which the caller matches against the stream;
//   - the names of domain.Balance's fields, by their JSON names: a
//     checkpoint is read only into the same fields, so that one saved
//     before a field was added is refused rather than read as zero;
//   - the lines the atoms are on; the projects' categories and names;
//   - each series of atoms (line, project, category), its sum over its
//     days, then its days in order (the first as a day number, the
//     others as the gap from the one before), each with its balance,
//     counterpart and events.
//
// Counts and gaps are uvarints; amounts are zigzag varints shifted left
// one bit, or the bit set and the digits as a string beyond 18 digits;
// strings are a uvarint length then the bytes.

// Checkpoint returns the live model (NewLivePlans) as it stands, encoded,
// and the sequence it stands at. Writers wait while it encodes; readers
// do not.
func (p *Plans) Checkpoint() ([]byte, uint64) {
	if !p.noSeqs || p.only != nil || p.cut.UntilSeq != 0 || !p.cut.AsOf.IsZero() {
		panic("projections: plans: only the live model (NewLivePlans) has a checkpoint")
	}
	p.mu.RLock()
	defer p.mu.RUnlock()
	lines, seq := p.check.Checkpoint()
	w := &cpWriter{buf: make([]byte, 0, 64+len(lines)+16*len(p.undated)*1024)}
	w.buf = append(w.buf, plansCheckpointMagic...)
	w.uint(plansCheckpointVersion)
	w.bytes(lines)
	fields := balanceFields()
	w.uint(uint64(len(fields)))
	for _, f := range fields {
		w.str(f.name)
	}

	type seriesRef struct {
		k    atomKey
		sr   *series
		line int // index of k.line in the lines written
	}
	var all []seriesRef
	index := map[domain.LineKey]int{}
	var keys []domain.LineKey
	for _, year := range p.days {
		for k, sr := range year {
			all = append(all, seriesRef{k: k, sr: sr})
			if _, ok := index[k.line]; !ok {
				index[k.line] = -1
				keys = append(keys, k.line)
			}
		}
	}
	slices.SortFunc(keys, compareLines)
	for i, k := range keys {
		index[k] = i
	}
	for i := range all {
		all[i].line = index[all[i].k.line]
	}
	w.uint(uint64(len(keys)))
	for _, k := range keys {
		w.uint(uint64(k.FiscalYear))
		w.str(k.Province)
		w.str(string(k.Source))
	}
	writeProjects := func(n int, each func(func(pk projectKey, v string))) {
		type entry struct {
			pk projectKey
			v  string
		}
		es := make([]entry, 0, n)
		each(func(pk projectKey, v string) { es = append(es, entry{pk, v}) })
		slices.SortFunc(es, func(x, y entry) int {
			return cmp.Or(compareLines(x.pk.line, y.pk.line), cmp.Compare(x.pk.project, y.pk.project))
		})
		w.uint(uint64(len(es)))
		for _, e := range es {
			i, ok := index[e.pk.line]
			if !ok {
				panic(fmt.Sprintf("projections: plans: project %s of line %s has no movement", e.pk.project, e.pk.line)) // every key comes from a movement
			}
			w.uint(uint64(i))
			w.str(e.pk.project)
			w.str(e.v)
		}
	}
	writeProjects(len(p.categories), func(add func(projectKey, string)) {
		for pk, c := range p.categories {
			add(pk, string(c))
		}
	})
	writeProjects(len(p.names), func(add func(projectKey, string)) {
		for pk, n := range p.names {
			add(pk, n)
		}
	})
	// The successions, by transfer id: each side as its line (0 for a
	// side not applied, else its index + 1), project and category.
	ids := make([]string, 0, len(p.successions))
	for id := range p.successions {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	w.uint(uint64(len(ids)))
	for _, id := range ids {
		sc := p.successions[id]
		w.str(id)
		w.uint(uint64(sc.fiscalYear))
		w.int(dayNumber(sc.date))
		w.amount(sc.amount)
		for _, side := range []struct {
			has bool
			k   atomKey
		}{{sc.hasOut, sc.out}, {sc.hasIn, sc.in}} {
			if !side.has {
				w.uint(0)
				continue
			}
			w.uint(uint64(index[side.k.line]) + 1)
			w.str(side.k.project)
			w.str(string(side.k.category))
		}
	}

	slices.SortFunc(all, func(x, y seriesRef) int {
		return cmp.Or(cmp.Compare(x.line, y.line), cmp.Compare(x.k.project, y.k.project),
			cmp.Compare(x.k.category, y.k.category), x.k.date.Compare(y.k.date))
	})
	w.uint(uint64(len(all)))
	type dayAtom struct {
		d domain.Date
		a *atom
	}
	var days []dayAtom
	for _, s := range all {
		w.uint(uint64(s.line))
		w.str(s.k.project)
		w.str(string(s.k.category))
		days = days[:0]
		for d, a := range s.sr.byDay {
			days = append(days, dayAtom{d, a})
		}
		slices.SortFunc(days, func(x, y dayAtom) int { return x.d.Compare(y.d) })
		sum := p.undated[s.k.line.FiscalYear][s.k]
		if sum == nil {
			panic(fmt.Sprintf("projections: plans: a series of line %s has no sum", s.k.line)) // Apply adds both
		}
		w.atom(fields, sum)
		w.uint(uint64(len(days)))
		var last int64
		for i, da := range days {
			n := dayNumber(da.d)
			if i == 0 {
				w.int(n)
			} else {
				w.uint(uint64(n - last))
			}
			last = n
			w.atom(fields, da.a)
		}
	}
	return w.buf, seq
}

func (w *cpWriter) atom(fields []balanceField, a *atom) {
	for _, f := range fields {
		w.amount(f.get(&a.balance))
	}
	w.amount(a.counterpart)
	var c carried
	if a.carried != nil {
		c = *a.carried
	}
	w.amount(c.in)
	w.amount(c.out)
	w.uint(uint64(a.events))
}

func (r *cpReader) atom(fields []balanceField, a *atom) {
	for _, f := range fields {
		f.set(&a.balance, r.amount())
	}
	a.counterpart = r.amount()
	if in, out := r.amount(), r.amount(); !in.IsZero() || !out.IsZero() {
		a.carried = &carried{in: in, out: out}
	}
	a.events = int(r.uint())
}

// RestorePlans reads a checkpoint of the live model back. It returns the
// balances' checkpoint inside it, for the caller to match against the
// stream. It refuses one that does not decode, is of another version or
// of other balance fields, or whose atoms do not add up to the balances
// of their lines; the caller then rebuilds from the stream.
func RestorePlans(data []byte) (*Plans, Checkpoint, error) {
	var cp Checkpoint
	fail := func(format string, args ...any) (*Plans, Checkpoint, error) {
		return nil, cp, fmt.Errorf("projections: the reports' checkpoint "+format, args...)
	}
	rest, ok := bytes.CutPrefix(data, []byte(plansCheckpointMagic))
	if !ok {
		return fail("does not decode: it is not one")
	}
	r := &cpReader{buf: rest}
	if v := r.uint(); r.err == nil && v != plansCheckpointVersion {
		return fail("is of version %d, want %d", v, plansCheckpointVersion)
	}
	lines := r.bytes()
	if r.err != nil {
		return fail("does not decode: %v", r.err)
	}
	check, cp, err := RestoreBalances(lines)
	if err != nil {
		return fail("holds balances that are refused: %v", err)
	}
	fields := balanceFields()
	n := r.count()
	var got []string
	for range n {
		got = append(got, r.str())
	}
	if r.err != nil {
		return fail("does not decode: %v", r.err)
	}
	if !slices.EqualFunc(got, fields, func(g string, f balanceField) bool { return g == f.name }) {
		want := make([]string, len(fields))
		for i, f := range fields {
			want[i] = f.name
		}
		return fail("holds balances of fields %v, the model's are %v", got, want)
	}

	keys := make([]domain.LineKey, r.count())
	for i := range keys {
		keys[i] = domain.LineKey{FiscalYear: int(r.uint()), Province: r.str(), Source: domain.Source(r.str())}
		if r.err != nil {
			return fail("does not decode: %v", r.err)
		}
		if _, ok := check.lines[keys[i]]; !ok || keys[i] == (domain.LineKey{}) || (i > 0 && compareLines(keys[i-1], keys[i]) >= 0) {
			return fail("names line %s, which its balances do not hold or not in order", keys[i])
		}
	}
	line := func() (domain.LineKey, bool) {
		i := r.uint()
		if r.err != nil || i >= uint64(len(keys)) {
			return domain.LineKey{}, false
		}
		return keys[i], true
	}
	p := NewLivePlans()
	p.check = check
	readProjects := func(what string, add func(projectKey, string)) error {
		for range r.count() {
			k, ok := line()
			pk := projectKey{k, r.str()}
			v := r.str()
			if !ok || r.err != nil {
				return fmt.Errorf("a project's %s does not decode: %v", what, r.err)
			}
			add(pk, v)
		}
		return nil
	}
	if err := readProjects("category", func(pk projectKey, v string) { p.categories[pk] = domain.Category(v) }); err != nil {
		return fail("%v", err)
	}
	if err := readProjects("name", func(pk projectKey, v string) { p.names[pk] = v }); err != nil {
		return fail("%v", err)
	}
	for range r.count() {
		id := r.str()
		sc := &succession{fiscalYear: int(r.uint()), date: dateOfDayNumber(r.int()), amount: r.amount()}
		for _, side := range []struct {
			has *bool
			k   *atomKey
		}{{&sc.hasOut, &sc.out}, {&sc.hasIn, &sc.in}} {
			i := r.uint()
			if i == 0 {
				continue
			}
			if i > uint64(len(keys)) {
				return fail("does not decode: a succession names line %d of %d", i, len(keys))
			}
			*side.has = true
			*side.k = atomKey{line: keys[i-1], project: r.str(), category: domain.Category(r.str()), date: schemeStart(domain.SchemeOn(sc.date))}
		}
		if r.err != nil {
			return fail("does not decode: %v", r.err)
		}
		if _, dup := p.successions[id]; dup || !sc.hasOut && !sc.hasIn {
			return fail("holds succession %s twice, or with neither side", id)
		}
		p.successions[id] = sc
	}

	type lineSum struct {
		balance domain.Balance
		events  int
	}
	sums := map[domain.LineKey]*lineSum{}
	for range r.count() {
		k, ok := line()
		key := atomKey{line: k, project: r.str(), category: domain.Category(r.str())}
		total := &atom{}
		r.atom(fields, total)
		n := r.count()
		if !ok || r.err != nil || n == 0 {
			return fail("does not decode: a series of atoms is cut short or empty (%v)", r.err)
		}
		sr := &series{byDay: make(map[domain.Date]*atom, n), stale: true}
		// The sum is read, not added up again: adding a million
		// balances costs more than the rest of the restore. The events
		// are counted.
		slab := make([]atom, n)
		var day int64
		events := 0
		for i := range n {
			if i == 0 {
				day = r.int()
			} else if gap := r.uint(); gap == 0 || gap > maxDayGap {
				return fail("does not decode: days of %s out of order", k)
			} else {
				day += int64(gap)
			}
			a := &slab[i]
			r.atom(fields, a)
			if r.err != nil {
				return fail("does not decode: %v", r.err)
			}
			// An atom may hold no event of its own: what a lapse of its
			// whole line lapsed of a project's money (Plans.Apply).
			if a.events < 0 || day < minDayNumber || day > maxDayNumber {
				return fail("holds an atom of line %s with %d events, or out of the calendar", k, a.events)
			}
			d := dateOfDayNumber(day)
			start := schemeStart(domain.SchemeOn(d))
			if i == 0 {
				key.date = start
			} else if key.date != start {
				return fail("holds a series of line %s across both schemes", k)
			}
			sr.byDay[d] = a
			events += a.events
		}
		if events != total.events {
			return fail("holds atoms of line %s that do not add up to their sum (%d events, the sum's %d)", k, events, total.events)
		}
		fy := k.FiscalYear
		if p.days[fy] == nil {
			p.days[fy] = map[atomKey]*series{}
			p.undated[fy] = map[atomKey]*atom{}
		}
		if _, dup := p.days[fy][key]; dup {
			return fail("holds a series of line %s twice", k)
		}
		p.days[fy][key] = sr
		p.undated[fy][key] = total
		p.stale[fy] = true
		s := sums[k]
		if s == nil {
			s = &lineSum{}
			sums[k] = s
		}
		s.balance = s.balance.Plus(total.balance)
		s.events += total.events
	}
	if r.err != nil {
		return fail("does not decode: %v", r.err)
	}
	if len(r.buf) > 0 {
		return fail("does not decode: %d bytes after its end", len(r.buf))
	}
	// The atoms are the lines' movements, sorted: they add up to each
	// line's balance (the ledger's own line of repudiations aside).
	for k, st := range check.lines {
		if k == (domain.LineKey{}) {
			continue
		}
		s := sums[k]
		if s == nil {
			s = &lineSum{}
		}
		if s.events != st.Events || !equalBalances(fields, s.balance, st.Balance) {
			return fail("holds atoms of line %s that do not add up to its balance (%d events, the line's %d)", k, s.events, st.Events)
		}
	}
	return p, cp, nil
}

func compareLines(x, y domain.LineKey) int {
	return cmp.Or(cmp.Compare(x.FiscalYear, y.FiscalYear), cmp.Compare(x.Province, y.Province), cmp.Compare(x.Source, y.Source))
}

// balanceField is one field of domain.Balance, named as its JSON names
// it: new fields come along in checkpoints without a change here.
type balanceField struct {
	name  string
	index int
}

func (f balanceField) get(b *domain.Balance) domain.Amount {
	return *reflect.ValueOf(b).Elem().Field(f.index).Addr().Interface().(*domain.Amount)
}

func (f balanceField) set(b *domain.Balance, a domain.Amount) {
	*reflect.ValueOf(b).Elem().Field(f.index).Addr().Interface().(*domain.Amount) = a
}

// balanceFields lists domain.Balance's fields; each must be an Amount
// with a JSON name, or a checkpoint could not carry it.
var balanceFields = sync.OnceValue(func() []balanceField {
	t := reflect.TypeFor[domain.Balance]()
	amount := reflect.TypeFor[domain.Amount]()
	var out []balanceField
	for i := range t.NumField() {
		f := t.Field(i)
		name, _, _ := bytes.Cut([]byte(f.Tag.Get("json")), []byte(","))
		if f.Type != amount || len(name) == 0 || string(name) == "-" {
			panic(fmt.Sprintf("projections: domain.Balance's field %s is not an Amount with a JSON name: the reports' checkpoint cannot carry it", f.Name))
		}
		out = append(out, balanceField{name: string(name), index: i})
	}
	return out
})

func equalBalances(fields []balanceField, a, b domain.Balance) bool {
	for _, f := range fields {
		if !f.get(&a).Equal(f.get(&b)) {
			return false
		}
	}
	return true
}

// Day numbers count days from 1 January 1970; a checkpoint's days stay
// within the years a Date accepts.
var (
	minDayNumber = dayNumber(domain.Date{Year: 1900, Month: time.January, Day: 1})
	maxDayNumber = dayNumber(domain.Date{Year: 2200, Month: time.December, Day: 31})
)

const maxDayGap = 1 << 20

func dayNumber(d domain.Date) int64 {
	return time.Date(d.Year, d.Month, d.Day, 0, 0, 0, 0, time.UTC).Unix() / 86400
}

func dateOfDayNumber(n int64) domain.Date { return domain.DateOf(time.Unix(n*86400, 0).UTC()) }

type cpWriter struct{ buf []byte }

func (w *cpWriter) uint(n uint64) { w.buf = binary.AppendUvarint(w.buf, n) }
func (w *cpWriter) int(n int64)   { w.buf = binary.AppendVarint(w.buf, n) }

func (w *cpWriter) bytes(b []byte) {
	w.uint(uint64(len(b)))
	w.buf = append(w.buf, b...)
}

func (w *cpWriter) str(s string) {
	w.uint(uint64(len(s)))
	w.buf = append(w.buf, s...)
}

// amount writes a whole number of đồng up to 18 digits as a zigzag
// varint shifted left (bit 0 clear), a longer one as 1 then its digits.
func (w *cpWriter) amount(a domain.Amount) {
	if d := a.Decimal(); d.Exponent() == 0 && d.NumDigits() <= 18 {
		n := d.CoefficientInt64()
		w.uint(uint64(n<<1^n>>63) << 1)
		return
	}
	w.uint(1)
	w.str(a.String())
}

// cpReader reads what cpWriter wrote; its first error sticks, and every
// later read returns zero.
type cpReader struct {
	buf []byte
	err error
}

var errShort = errors.New("cut short")

func (r *cpReader) uint() uint64 {
	if r.err != nil {
		return 0
	}
	n, k := binary.Uvarint(r.buf)
	if k <= 0 {
		r.err = errShort
		return 0
	}
	r.buf = r.buf[k:]
	return n
}

func (r *cpReader) int() int64 {
	if r.err != nil {
		return 0
	}
	n, k := binary.Varint(r.buf)
	if k <= 0 {
		r.err = errShort
		return 0
	}
	r.buf = r.buf[k:]
	return n
}

// count reads a count of things at least a byte each: never more than
// the bytes left, so that a damaged count allocates nothing huge.
func (r *cpReader) count() int {
	n := r.uint()
	if n > uint64(len(r.buf)) {
		r.err = cmp.Or(r.err, fmt.Errorf("a count of %d with %d bytes left", n, len(r.buf)))
		return 0
	}
	return int(n)
}

func (r *cpReader) bytes() []byte {
	n := r.count()
	if r.err != nil {
		return nil
	}
	b := r.buf[:n]
	r.buf = r.buf[n:]
	return b
}

func (r *cpReader) str() string { return string(r.bytes()) }

func (r *cpReader) amount() domain.Amount {
	v := r.uint()
	if v == 0 {
		return domain.Amount{} // zero, as an atom's untouched figures are
	}
	if v&1 == 0 {
		u := v >> 1
		return domain.AmountFromInt64(int64(u>>1) ^ -int64(u&1))
	}
	if v != 1 {
		r.err = cmp.Or(r.err, fmt.Errorf("an amount marked %d", v))
		return domain.Amount{}
	}
	s := r.str()
	if r.err != nil {
		return domain.Amount{}
	}
	a, err := domain.ParseTotal(s)
	if err != nil {
		r.err = fmt.Errorf("an amount: %v", err)
	}
	return a
}
