package api

import (
	"context"
	"errors"
	"net/http"

	"github.com/google/uuid"

	"github.com/kcledger/kcledger/domain"
)

// YearEndPaths are the routes, by operation.
var YearEndPaths = map[domain.YearEndOp]string{
	domain.OpSuccession: "/v1/year-end/succession",
	domain.OpCarryOver:  "/v1/year-end/carry-over",
	domain.OpCloseYear:  "/v1/year-end/close-year",
}

// yearEndRequest is the body of the three routes.
type yearEndRequest struct {
	// FiscalYear is the year of the lines: for a carry-over the year
	// carried from, for a closing the year closed; a succession's is
	// 2025 when absent.
	FiscalYear    int          `json:"fiscal_year"`
	EffectiveDate *domain.Date `json:"effective_date"`
	Decision      string       `json:"decision"`
	Reason        string       `json:"reason"`
	// Province and Source narrow the operation (both: one line). A
	// carry-over names one line, or says all.
	Province string `json:"province"`
	Source   string `json:"source"`
	All      bool   `json:"all"`
	DryRun   bool   `json:"dry_run"`
}

var yearEndFields = map[string]bool{
	"fiscal_year": true, "effective_date": true, "decision": true, "reason": true,
	"province": true, "source": true, "all": true, "dry_run": true,
}

func decodeYearEnd(body []byte) (yearEndRequest, error) {
	return decodeBody[yearEndRequest](body, yearEndFields, "effective_date")
}

// operation is the request as the domain's YearEnd, with the fields each
// operation requires.
func (req yearEndRequest) operation(op domain.YearEndOp) (domain.YearEnd, error) {
	y := domain.YearEnd{Op: op, FiscalYear: req.FiscalYear, Decision: req.Decision, Reason: req.Reason, Province: req.Province}
	if req.Source != "" {
		src, err := domain.ParseSource(req.Source)
		if err != nil {
			return y, err
		}
		y.Source = src
	}
	if req.EffectiveDate == nil || req.EffectiveDate.IsZero() {
		return y, domain.Errorf(domain.CodeMissingField, "effective_date", "effective_date is required: the date of the decision, as \"YYYY-MM-DD\"")
	}
	y.EffectiveDate = *req.EffectiveDate
	switch op {
	case domain.OpSuccession:
		if y.FiscalYear == 0 {
			y.FiscalYear = domain.SuccessionYear
		}
		if req.All {
			return y, domain.Errorf(domain.CodeInvalidField, "all", "a succession takes every merged province's lines unless a province is named; it takes no \"all\"")
		}
	case domain.OpCarryOver, domain.OpCloseYear:
		if y.FiscalYear == 0 {
			return y, domain.Errorf(domain.CodeMissingField, "fiscal_year", "fiscal_year is required: the year whose lines are %s, e.g. 2025", map[domain.YearEndOp]string{domain.OpCarryOver: "carried over", domain.OpCloseYear: "closed"}[op])
		}
	}
	if op == domain.OpCarryOver {
		switch {
		case req.All && (y.Province != "" || y.Source != ""):
			return y, domain.Errorf(domain.CodeInvalidField, "all", "a carry-over takes one line (province and source) or all lines, not both")
		case !req.All && (y.Province == "" || y.Source == ""):
			field := "province"
			if y.Province != "" {
				field = "source"
			}
			return y, domain.Errorf(domain.CodeMissingField, field, "a carry-over names one line, by province and source, or all lines with \"all\": true")
		}
	}
	return y, nil
}

// YearEndItem is one command of a bulk operation, planned or recorded.
type YearEndItem struct {
	Line           domain.LineKey      `json:"line"`
	Project        string              `json:"project,omitempty"`
	Kind           domain.CommandKind  `json:"kind"`
	TransferKind   domain.TransferKind `json:"transfer_kind,omitempty"`
	Amount         domain.Amount       `json:"amount"`
	To             *domain.LineKey     `json:"to,omitempty"`
	IdempotencyKey string              `json:"idempotency_key"`
	// Status is "planned" (a dry run), "recorded", "replayed" (recorded
	// before, under the same key) or "refused".
	Status  string   `json:"status"`
	EventID string   `json:"event_id,omitempty"`
	Seq     uint64   `json:"seq,omitempty"`
	ToSeq   uint64   `json:"to_seq,omitempty"`
	Error   *Problem `json:"error,omitempty"`
}

// YearEndSummary sums up a year-end operation's items.
type YearEndSummary struct {
	Items    int `json:"items"`
	Recorded int `json:"recorded"`
	Replayed int `json:"replayed"`
	Refused  int `json:"refused"`
	// Amount is the total of the items planned, or recorded and
	// replayed.
	Amount domain.Amount `json:"amount"`
}

// YearEndResponse answers the three routes.
type YearEndResponse struct {
	Op            domain.YearEndOp `json:"op"`
	FiscalYear    int              `json:"fiscal_year"`
	EffectiveDate domain.Date      `json:"effective_date"`
	Decision      string           `json:"decision"`
	DryRun        bool             `json:"dry_run"`
	Items         []YearEndItem    `json:"items"`
	Summary       YearEndSummary   `json:"summary"`
}

func (a *Server) yearEnd(op domain.YearEndOp) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		acc := accountOf(r)
		if acc.Role != domain.RoleAdmin {
			WriteError(w, r, a.log, domain.Errorf(domain.CodeForbidden, "", "only an admin runs the year-end operations on every line at once; %s is not one", acc.Name))
			return
		}
		if err := a.sound(); err != nil {
			WriteError(w, r, a.log, err)
			return
		}
		if r.Header.Get("Idempotency-Key") != "" {
			WriteError(w, r, a.log, domain.Errorf(domain.CodeInvalidIdempotencyKey, "Idempotency-Key",
				"a year-end operation takes no Idempotency-Key: each movement's key is derived from the operation, its decision, the line and the project, so that a rerun records nothing twice"))
			return
		}
		body, err := readBody(w, r)
		if err != nil {
			WriteError(w, r, a.log, err)
			return
		}
		req, err := decodeYearEnd(body)
		if err != nil {
			WriteError(w, r, a.log, err)
			return
		}
		y, err := req.operation(op)
		if err != nil {
			WriteError(w, r, a.log, err)
			return
		}
		res, err := a.runYearEnd(r.Context(), y, req.DryRun, acc.Name)
		if err != nil {
			WriteError(w, r, a.log, err)
			return
		}
		writeJSON(w, http.StatusOK, res)
	}
}

// runYearEnd plans y line by line on the ledger's current state and,
// unless dryRun, records each line's commands before planning the next.
// A command the rules refuse is reported and the others go on; a failure
// of the ledger itself ends the run (a rerun finishes it).
func (a *Server) runYearEnd(ctx context.Context, y domain.YearEnd, dryRun bool, actor string) (YearEndResponse, error) {
	res := YearEndResponse{Op: y.Op, FiscalYear: y.FiscalYear, EffectiveDate: y.EffectiveDate, Decision: y.Decision, DryRun: dryRun, Items: []YearEndItem{}}
	if err := y.Validate(a.policy); err != nil {
		return res, err
	}
	now := a.now().UTC()
	if today := domain.DateOf(now.In(vietnam)); y.EffectiveDate.After(today) {
		return res, domain.Errorf(domain.CodeDateOutsideWindow, "effective_date", "effective date %s is in the future (today is %s in Vietnam)", y.EffectiveDate, today)
	}
	total := domain.ZeroAmount
	for _, k := range y.Lines() {
		st, err := a.ledger.State(ctx, k)
		if err != nil {
			return res, err
		}
		cmds, err := domain.PlanYearEnd(y, []*domain.LineState{st}, a.policy)
		if err != nil {
			return res, err
		}
		for _, c := range cmds {
			c.EventID, c.Actor, c.Now = uuid.Must(uuid.NewV7()).String(), actor, now
			if c.Kind == domain.Transfer {
				c.InEventID = uuid.Must(uuid.NewV7()).String()
			}
			// What the rules refuse of one planned command they refuse of
			// all (its decision, its date): refuse the operation.
			if err := c.Validate(a.policy); err != nil {
				return res, err
			}
			item := YearEndItem{Line: c.Line(), Project: c.Project, Kind: c.Kind, TransferKind: c.TransferKind, Amount: c.Amount, IdempotencyKey: c.IdempotencyKey, Status: "planned"}
			if c.Kind == domain.Transfer {
				to := c.To
				item.To = &to
			}
			if !dryRun {
				if err := a.recordYearEndItem(ctx, c, &item); err != nil {
					return res, err
				}
			}
			switch item.Status {
			case "recorded":
				res.Summary.Recorded++
			case "replayed":
				res.Summary.Replayed++
			case "refused":
				res.Summary.Refused++
			}
			if item.Status != "refused" {
				total = total.Add(item.Amount)
			}
			res.Items = append(res.Items, item)
		}
	}
	res.Summary.Items, res.Summary.Amount = len(res.Items), total
	if !dryRun && len(res.Items) > 0 {
		a.log.Info("year-end operation", "op", y.Op, "fiscal_year", y.FiscalYear, "province", y.Province, "source", y.Source, "decision", y.Decision, "by", actor,
			"recorded", res.Summary.Recorded, "replayed", res.Summary.Replayed, "refused", res.Summary.Refused)
	}
	return res, nil
}

// recordYearEndItem records one planned command and sets the item's
// outcome. It returns an error only when the ledger failed, not when a
// rule refused the command.
func (a *Server) recordYearEndItem(ctx context.Context, c domain.Command, item *YearEndItem) error {
	var (
		rec      domain.Recorded
		toSeq    uint64
		replayed bool
		err      error
	)
	if c.Kind == domain.Transfer {
		var tr domain.TransferResult
		if tr, err = a.ledger.Transfer(ctx, c); err == nil {
			rec, toSeq, replayed = tr.Out, tr.In.Seq, tr.Replayed
		}
	} else {
		var rr domain.Result
		if rr, err = a.ledger.Record(ctx, c); err == nil {
			rec, replayed = rr.Recorded, rr.Replayed
		}
	}
	if err != nil {
		var de *domain.Error
		if !errors.As(err, &de) || de.Code == domain.CodeInternal || de.Code == domain.CodeUnavailable {
			return err
		}
		item.Status = "refused"
		status := StatusOf[de.Code]
		item.Error = &Problem{Type: "urn:kcledger:error:" + string(de.Code), Title: http.StatusText(status), Status: status, Code: de.Code, Field: de.Field, Detail: de.Message}
		return nil
	}
	item.Status, item.EventID, item.Seq, item.ToSeq = "recorded", rec.Event.ID, rec.Seq, toSeq
	item.Amount = rec.Event.Amount
	if replayed {
		item.Status = "replayed"
	}
	a.noteWrite(max(rec.Seq, toSeq))
	return nil
}
