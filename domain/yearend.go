package domain

import (
	"crypto/sha256"
	"encoding/hex"
	"slices"
	"strconv"
	"strings"
)

// The end of the budget year, done for every line at once: a bulk
// operation is planned here, purely, from the states of its lines, into
// the commands to record (transfers and lapses); the edge records them one
// by one. Each command's idempotency key is derived from the operation,
// its decision, its line and its project, so that running the same
// operation again (after a crash in the middle, or twice by mistake)
// records nothing twice: what landed is no longer available and is not
// planned again, and a command that landed unseen is replayed by its key.

// YearEndOp names a bulk operation of the end of the budget year. Values
// are part of the idempotency keys: never rename one.
type YearEndOp string

// The bulk operations.
const (
	// OpSuccession transfers what is available on every line of a
	// province merged in 2025 to its successor (TransferSuccession).
	OpSuccession YearEndOp = "succession"
	// OpCarryOver (chuyển nguồn) transfers what is available on year N's
	// lines to year N+1 (TransferCarryOver).
	OpCarryOver YearEndOp = "carry_over"
	// OpCloseYear lapses (hủy dự toán) what is still available on every
	// line of year N once its settlement period is over, and so closes
	// each line.
	OpCloseYear YearEndOp = "close_year"
)

// SuccessionYear is the fiscal year whose lines a succession moves by
// default: the 63-province codes were in force in 2025 until the merger,
// and no year before has a settlement period that reaches it. The next
// year's lines may hold money allocated in advance under an old code
// (LineCode), and are moved by a succession of SuccessionYear+1.
const SuccessionYear = 2025

// YearEnd asks for one bulk operation.
type YearEnd struct {
	Op YearEndOp
	// FiscalYear is the year of the lines moved or closed: SuccessionYear
	// for a succession, N for a carry-over from N or the closing of N.
	FiscalYear    int
	EffectiveDate Date
	Decision      string
	Reason        string
	// Province and Source narrow the operation to the lines of one
	// province, one source, or both (one line); empty means all.
	Province string
	Source   Source
}

// Validate checks the operation before any line is read: a known
// operation, a decision, a date within the operation's window, and a
// province and source that can have lines it moves. The error names the
// request's field (op, fiscal_year, effective_date, decision, province,
// source).
func (y YearEnd) Validate(p Policy) error {
	switch y.Op {
	case OpSuccession, OpCarryOver, OpCloseYear:
	default:
		return Errorf(CodeInvalidField, "op", "unknown year-end operation %q; want %q, %q or %q", y.Op, OpSuccession, OpCarryOver, OpCloseYear)
	}
	if y.FiscalYear < MinFiscalYear || y.FiscalYear > MaxFiscalYear {
		return Errorf(CodeInvalidYear, "fiscal_year", "fiscal year %d is outside %d–%d", y.FiscalYear, MinFiscalYear, MaxFiscalYear)
	}
	if y.Op == OpSuccession && y.FiscalYear != SuccessionYear && y.FiscalYear != SuccessionYear+1 {
		return Errorf(CodeInvalidTransfer, "fiscal_year", "a succession moves the lines of fiscal year %d, the year of the merger (or %d's, allocated in advance), not %d", SuccessionYear, SuccessionYear+1, y.FiscalYear)
	}
	if strings.TrimSpace(y.Decision) == "" {
		return Errorf(CodeMissingField, "decision", "a year-end operation cites the decision (quyết định) that orders it")
	}
	if y.EffectiveDate.IsZero() {
		return Errorf(CodeMissingField, "effective_date", "the effective date (of the decision) is required, as YYYY-MM-DD")
	}
	d := y.EffectiveDate
	switch y.Op {
	case OpSuccession, OpCarryOver:
		k := y.transferKind()
		from, to := p.TransferWindow(k, y.FiscalYear)
		if d.Before(from) || d.After(to) {
			what := map[YearEndOp]string{OpSuccession: "succession", OpCarryOver: "carry-over (chuyển nguồn)"}[y.Op]
			return Errorf(CodeDateOutsideWindow, "effective_date", "a %s from fiscal year %d must be dated %s to %s, not %s", what, y.FiscalYear, from, to, d)
		}
	case OpCloseYear:
		if end := p.SettlementEnd(y.FiscalYear); !d.After(end) {
			return Errorf(CodeDateOutsideWindow, "effective_date",
				"the settlement period of fiscal year %d ends on %s: its lines may be closed (hủy dự toán) from %s, not on %s", y.FiscalYear, end, end.AddDays(1), d)
		}
	}
	if y.Source != "" && y.Source != SourceNational && y.Source != SourceLocal {
		return Errorf(CodeUnknownSource, "source", "unknown source %q; want %q (KCQG) or %q (KCĐP)", y.Source, SourceNational, SourceLocal)
	}
	if y.Province == "" {
		return nil
	}
	_, in63 := LookupProvince(Scheme63, y.Province)
	_, in34 := LookupProvince(Scheme34, y.Province)
	if !in63 && !in34 {
		return Errorf(CodeUnknownProvince, "province", "unknown province code %q", y.Province)
	}
	if y.Op == OpSuccession {
		if succ, merged := Successor(y.Province); !in63 || !merged || succ.Code == y.Province {
			return Errorf(CodeInvalidTransfer, "province", "province %s was not merged into another in 2025: its lines continue under its own code, there is nothing to succeed", y.Province)
		}
		return nil
	}
	if _, ok := LineCode(y.Province, y.FiscalYear); !ok {
		return Errorf(CodeProvinceNotInForce, "province", "province code %s was not in force during fiscal year %d: it has no lines that year", y.Province, y.FiscalYear)
	}
	return nil
}

func (y YearEnd) transferKind() TransferKind {
	if y.Op == OpSuccession {
		return TransferSuccession
	}
	return TransferCarryOver
}

// Lines returns the keys of every line the operation may concern, in key
// order, from the reference data alone: for a succession, the 2025 lines
// of each merged province; otherwise every line of the year, of every
// province code in force during it. Most have no events; the planner
// passes those over.
func (y YearEnd) Lines() []LineKey {
	var codes []string
	add := func(s Scheme, keep func(Province) bool) {
		for _, p := range Provinces(s) {
			if keep(p) && !slices.Contains(codes, p.Code) {
				codes = append(codes, p.Code)
			}
		}
	}
	if y.Op == OpSuccession {
		add(Scheme63, func(p Province) bool { s, ok := Successor(p.Code); return ok && s.Code != p.Code })
	} else {
		all := func(p Province) bool { _, ok := LineCode(p.Code, y.FiscalYear); return ok }
		add(Scheme63, all)
		add(Scheme34, all)
	}
	var keys []LineKey
	for _, c := range codes {
		if y.Province != "" && c != y.Province {
			continue
		}
		for _, s := range Sources() {
			if y.Source == "" || s == y.Source {
				keys = append(keys, LineKey{FiscalYear: y.FiscalYear, Province: c, Source: s})
			}
		}
	}
	slices.SortFunc(keys, func(a, b LineKey) int { return strings.Compare(a.String(), b.String()) })
	return keys
}

// covers says whether line k is one the operation moves or closes.
func (y YearEnd) covers(k LineKey) bool {
	if k.FiscalYear != y.FiscalYear || y.Province != "" && k.Province != y.Province || y.Source != "" && k.Source != y.Source {
		return false
	}
	if y.Op == OpSuccession {
		s, ok := Successor(k.Province)
		_, in63 := LookupProvince(Scheme63, k.Province)
		return in63 && ok && s.Code != k.Province
	}
	_, ok := LineCode(k.Province, k.FiscalYear)
	return ok
}

// destination is where a transfer out of line k goes: the successor's
// line of the same year for a succession; for a carry-over, next year's
// line of the same province, or of its successor once its code is no
// longer in force on the date (the rule validateTransfer checks).
func (y YearEnd) destination(k LineKey) LineKey {
	to := k
	if y.Op == OpSuccession {
		s, _ := Successor(k.Province)
		to.Province = s.Code
		return to
	}
	to.FiscalYear++
	if _, err := ProvinceOn(k.Province, y.EffectiveDate); err != nil {
		if s, ok := Successor(k.Province); ok {
			to.Province = s.Code
		}
	}
	return to
}

// PlanYearEnd returns the commands that carry out y on the given lines, in
// the order to record them: lines in key order, and within a line one
// command per project with money available (in project order), for
// min(the project's available, what remains of the line), then one
// without a project for the rest. A succession or carry-over moves only
// what is available, and passes over a line with nothing available; a
// closing lapses it, and gives a line with nothing available a lapse of
// zero, so that every line of the year with events ends closed. Lines the
// operation does not cover, lines without events and lines already
// closed are passed over.
//
// The commands lack what the edge sets (EventID, InEventID, Actor, Now);
// each has its idempotency key (YearEndKey). Planning again on the states
// after some of them landed returns the rest, with the same keys.
func PlanYearEnd(y YearEnd, lines []*LineState, p Policy) ([]Command, error) {
	if err := y.Validate(p); err != nil {
		return nil, err
	}
	sorted := slices.Clone(lines)
	slices.SortFunc(sorted, func(a, b *LineState) int { return strings.Compare(a.Key.String(), b.Key.String()) })
	var cmds []Command
	for i, s := range sorted {
		if i > 0 && sorted[i-1].Key == s.Key {
			return nil, Errorf(CodeInternal, "", "line %s given twice to the year-end planner", s.Key)
		}
		if !y.covers(s.Key) || s.Events == 0 || s.Closed {
			continue
		}
		line, err := y.planLine(s)
		if err != nil {
			return nil, err
		}
		cmds = append(cmds, line...)
	}
	return cmds, nil
}

// planLine is PlanYearEnd for one line.
func (y YearEnd) planLine(s *LineState) ([]Command, error) {
	remaining := s.Balance.Available()
	var cmds []Command
	add := func(project string, amt Amount) error {
		if amt.Cmp(MaxMovement) > 0 {
			return Errorf(CodeInvalidAmount, "amount", "%s available on %s exceeds the limit of %s per movement: record it in parts, by hand",
				amt.VND(), s.Key, MaxMovement.VND())
		}
		c := Command{
			FiscalYear: s.Key.FiscalYear, Province: s.Key.Province, Source: s.Key.Source, Project: project,
			Amount: amt, Decision: y.Decision, Reason: y.Reason, EffectiveDate: y.EffectiveDate,
			IdempotencyKey: YearEndKey(y.Op, y.Decision, s.Key, project),
		}
		if y.Op == OpCloseYear {
			c.Kind = Lapse
		} else {
			c.Kind, c.TransferKind, c.To = Transfer, y.transferKind(), y.destination(s.Key)
		}
		cmds = append(cmds, c)
		remaining = remaining.Sub(amt)
		return nil
	}
	projects := make([]string, 0, len(s.Projects))
	for code := range s.Projects {
		projects = append(projects, code)
	}
	slices.Sort(projects)
	for _, code := range projects {
		if remaining.Sign() <= 0 {
			break
		}
		avail := s.Projects[code].Available()
		if avail.Sign() <= 0 {
			continue
		}
		if err := add(code, minAmount(avail, remaining)); err != nil {
			return nil, err
		}
	}
	if remaining.Sign() > 0 || y.Op == OpCloseYear {
		// A lapse without a project takes exactly what remains, and
		// closes the line even when that is nothing.
		if err := add("", maxAmount(remaining, ZeroAmount)); err != nil {
			return nil, err
		}
	}
	return cmds, nil
}

func minAmount(a, b Amount) Amount {
	if a.Cmp(b) < 0 {
		return a
	}
	return b
}

func maxAmount(a, b Amount) Amount {
	if a.Cmp(b) > 0 {
		return a
	}
	return b
}

// YearEndKey is the idempotency key of the command a bulk operation
// records on line k for project ("" for the line's rest): "ye1-", the
// operation, and the first 160 bits of the SHA-256 of the operation,
// decision, line and project as netstrings. The date and reason are left
// out: the same operation under the same decision is the same movement.
func YearEndKey(op YearEndOp, decision string, k LineKey, project string) string {
	var b strings.Builder
	for _, f := range []string{"yearend-v1", string(op), decision, strconv.Itoa(k.FiscalYear), k.Province, string(k.Source), project} {
		b.WriteString(strconv.Itoa(len(f)))
		b.WriteByte(':')
		b.WriteString(f)
		b.WriteByte(',')
	}
	sum := sha256.Sum256([]byte(b.String()))
	return "ye1-" + string(op) + "-" + hex.EncodeToString(sum[:20])
}
