package api

import (
	"encoding/json"
	"errors"
	"net/http"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/kcledger/kcledger/domain"
)

// RecordResponse is the answer to a recording request.
type RecordResponse struct {
	Event    domain.Event `json:"event"`
	Seq      uint64       `json:"seq"`
	Replayed bool         `json:"replayed"`
	Line     LineView     `json:"line"`
	Project  *ProjectView `json:"project,omitempty"`
}

// LineView is a line's balance as the recording routes answer it.
type LineView struct {
	Line    domain.LineKey `json:"line"`
	Balance domain.Balance `json:"balance"`
	Events  int            `json:"events"`
	LastSeq uint64         `json:"last_seq"`
}

// ProjectView is the balance of the project a movement names.
type ProjectView struct {
	Project string         `json:"project"`
	Balance domain.Balance `json:"balance"`
}

func (a *Server) record(kind domain.CommandKind) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		cmd, err := a.command(w, r, kind)
		if err != nil {
			WriteError(w, r, a.log, err)
			return
		}
		res, err := a.ledger.Record(r.Context(), cmd)
		a.observeCommand(kind.EventType(), res.Replayed, err)
		if err != nil {
			WriteError(w, r, a.log, keyError(err))
			return
		}
		a.noteWrite(res.Recorded.Seq)
		resp := RecordResponse{
			Event:    res.Recorded.Event,
			Seq:      res.Recorded.Seq,
			Replayed: res.Replayed,
			Line:     lineViewOf(res.Line),
			Project:  projectViewOf(res.Line, res.Recorded.Event.Project),
		}
		status := http.StatusCreated
		if res.Replayed {
			status = http.StatusOK
		}
		writeJSON(w, status, resp)
	}
}

// command reads a recording request into the command to decide: the
// account records at all, the ledger's state is known, the body decodes,
// the account may record on every line the command moves money on (both
// of a transfer's), and an Idempotency-Key is given. The fields set at
// the edge (ids, time, actor) are filled in.
func (a *Server) command(w http.ResponseWriter, r *http.Request, kind domain.CommandKind) (domain.Command, error) {
	acc := accountOf(r)
	if err := acc.MayRecordAny(); err != nil {
		return domain.Command{}, err
	}
	// A ledger whose state is unknown decides no new movement.
	if err := a.sound(); err != nil {
		return domain.Command{}, err
	}
	body, err := readBody(w, r)
	if err != nil {
		return domain.Command{}, err
	}
	cmd, err := DecodeMovement(kind, body)
	if err != nil {
		return cmd, err
	}
	if err := acc.MayRecord(cmd.Line()); err != nil {
		return cmd, err
	}
	if kind == domain.Transfer {
		if err := acc.MayRecord(cmd.To); err != nil {
			var de *domain.Error
			if errors.As(err, &de) && de.Field != "" {
				err = withField(err, "to_"+de.Field) // the destination's province or source
			}
			return cmd, err
		}
	}
	key := r.Header.Get("Idempotency-Key")
	if key == "" {
		return cmd, domain.Errorf(domain.CodeInvalidIdempotencyKey, "Idempotency-Key",
			"the Idempotency-Key header is required: a unique key per movement (a UUID), reused only to retry the same request")
	}
	cmd.IdempotencyKey = key
	cmd.EventID = uuid.Must(uuid.NewV7()).String()
	if kind == domain.Transfer {
		cmd.InEventID = uuid.Must(uuid.NewV7()).String()
	}
	cmd.Now = a.now().UTC()
	cmd.Actor = acc.Name // from the token, never from the request body
	return cmd, nil
}

// keyError names the Idempotency-Key header on the ledger's refusals of
// the key, which came in that header.
func keyError(err error) error {
	if c := domain.ErrorCode(err); c == domain.CodeInvalidIdempotencyKey || c == domain.CodeIdempotencyKeyReused {
		return withField(err, "Idempotency-Key")
	}
	return err
}

func lineViewOf(l *domain.LineState) LineView {
	return LineView{Line: l.Key, Balance: l.Balance, Events: l.Events, LastSeq: l.LastSeq}
}

// projectViewOf is the balance of the project an event names, or nil.
func projectViewOf(l *domain.LineState, project string) *ProjectView {
	if project == "" {
		return nil
	}
	return &ProjectView{Project: project, Balance: l.Project(project)}
}

// movementRequest is the body of the recording routes. Amounts and the
// date are decoded by hand so that errors name their field. A transfer's
// body also names its kind and its destination line (transferFields).
type movementRequest struct {
	FiscalYear  int             `json:"fiscal_year"`
	Province    string          `json:"province"`
	Source      string          `json:"source"`
	Project     string          `json:"project"`
	Category    string          `json:"category"`
	Amount      json.RawMessage `json:"amount"`
	Delta       json.RawMessage `json:"delta"`
	Decision    string          `json:"decision"`
	Voucher     string          `json:"voucher"`
	Beneficiary string          `json:"beneficiary"`
	Reason      string          `json:"reason"`
	// The project facts of an allocation to a project, all optional.
	ProjectName      string          `json:"project_name"`
	ImplementingUnit string          `json:"implementing_unit"`
	Counterpart      json.RawMessage `json:"counterpart"`
	EffectiveDate    json.RawMessage `json:"effective_date"`
	// A transfer's kind and destination; to_source defaults to source.
	TransferKind string `json:"transfer_kind"`
	ToFiscalYear int    `json:"to_fiscal_year"`
	ToProvince   string `json:"to_province"`
	ToSource     string `json:"to_source"`
}

// DecodeMovement reads a recording request body into a command. It
// refuses bodies over MaxBodyBytes, invalid UTF-8, unknown fields, trailing
// data and JSON numbers for money.
func DecodeMovement(kind domain.CommandKind, body []byte) (domain.Command, error) {
	if !utf8.Valid(body) {
		return domain.Command{}, domain.Errorf(domain.CodeMalformedRequest, "", "the request body is not valid UTF-8")
	}
	known := movementFields
	if kind == domain.Transfer {
		known = transferFields
	}
	req, err := decodeBody[movementRequest](body, known, "")
	if err != nil {
		return domain.Command{}, err
	}
	cmd := domain.Command{
		Kind:        kind,
		FiscalYear:  req.FiscalYear,
		Province:    req.Province,
		Source:      domain.Source(req.Source),
		Project:     req.Project,
		Category:    domain.Category(req.Category),
		Decision:    req.Decision,
		Voucher:     req.Voucher,
		Beneficiary: req.Beneficiary,
		Reason:      req.Reason,

		ProjectName:      req.ProjectName,
		ImplementingUnit: req.ImplementingUnit,
	}
	if req.FiscalYear == 0 {
		return cmd, domain.Errorf(domain.CodeMissingField, "fiscal_year", "fiscal_year is required, e.g. 2025")
	}
	if kind == domain.Transfer {
		if req.ToFiscalYear == 0 {
			return cmd, domain.Errorf(domain.CodeMissingField, "to_fiscal_year", "to_fiscal_year is required: the destination line's fiscal year (the same for a succession, the next for a carry-over)")
		}
		cmd.TransferKind = domain.TransferKind(req.TransferKind)
		cmd.To = domain.LineKey{FiscalYear: req.ToFiscalYear, Province: req.ToProvince, Source: domain.Source(req.ToSource)}
		if req.ToSource == "" {
			cmd.To.Source = cmd.Source
		}
	}
	use, avoid := "amount", "delta"
	raw, other := req.Amount, req.Delta
	if kind == domain.Adjust {
		use, avoid = "delta", "amount"
		raw, other = req.Delta, req.Amount
	}
	if other != nil {
		return cmd, domain.Errorf(domain.CodeUnknownField, avoid, "%s takes %q, not %q", KindNoun(kind), use, avoid)
	}
	if raw == nil || string(raw) == "null" {
		return cmd, domain.Errorf(domain.CodeMissingField, use, "%s is required, as a string of whole đồng, e.g. \"1500000000\"", use)
	}
	if err := cmd.Amount.UnmarshalJSON(raw); err != nil {
		return cmd, withField(err, use)
	}
	if req.Counterpart != nil && string(req.Counterpart) != "null" {
		if err := cmd.Counterpart.UnmarshalJSON(req.Counterpart); err != nil {
			return cmd, withField(err, "counterpart")
		}
	}
	if req.EffectiveDate == nil || string(req.EffectiveDate) == "null" {
		return cmd, domain.Errorf(domain.CodeMissingField, "effective_date", "effective_date is required, as \"YYYY-MM-DD\"")
	}
	if err := cmd.EffectiveDate.UnmarshalJSON(req.EffectiveDate); err != nil {
		return cmd, withField(err, "effective_date")
	}
	return cmd, nil
}

// KindNoun names a kind of movement with its article ("an allocation"),
// as messages say it.
func KindNoun(k domain.CommandKind) string {
	switch k {
	case domain.Allocate:
		return "an allocation"
	case domain.Adjust:
		return "an adjustment"
	case domain.Disburse:
		return "a disbursement"
	case domain.Transfer:
		return "a transfer"
	case domain.Lapse:
		return "a lapse"
	}
	return "a refund"
}

// movementFields are the exact keys a recording request may carry.
var movementFields = map[string]bool{
	"fiscal_year": true, "province": true, "source": true, "project": true, "category": true,
	"amount": true, "delta": true, "decision": true, "voucher": true, "beneficiary": true,
	"reason": true, "effective_date": true,
	"project_name": true, "implementing_unit": true, "counterpart": true,
}

// transferFields are the exact keys a transfer request may carry: no
// voucher, beneficiary or project facts, and its kind and destination.
var transferFields = map[string]bool{
	"fiscal_year": true, "province": true, "source": true, "project": true, "category": true,
	"amount": true, "decision": true, "reason": true, "effective_date": true,
	"transfer_kind": true, "to_fiscal_year": true, "to_province": true, "to_source": true,
}

// checkKeys walks the top level of a JSON object and refuses keys that are
// not exactly one of movementFields, and keys given twice. encoding/json
// alone would match "AMOUNT" to amount and let the last duplicate win.
func checkKeys(body []byte) error { return checkKeysIn(body, movementFields) }
