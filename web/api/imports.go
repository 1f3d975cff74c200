package api

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"runtime"
	"strings"
	"sync"
	"unicode"
	"unicode/utf8"

	"github.com/google/uuid"

	"github.com/kcledger/kcledger/domain"
)

// PathImports is the route of `kcledger import`'s batches.
const PathImports = "/v1/imports"

// MaxImportBatch bounds the movements of one import request, recorded
// in atomic writes of domain.MaxAppendBatch: a few writes a request, so
// that the next write's events are signed while one is in flight, and
// fewer requests to make.
const MaxImportBatch = 5000

// maxImportBodyBytes bounds an import request's body: MaxImportBatch
// movements of at most a few KiB each (the CLI sends at most 4 MiB).
const maxImportBodyBytes = MaxImportBatch * 4 * 1024

// ImportRequest is a batch of movements to record at once, each on a
// line of its own, as `kcledger import` sends a file's rows.
type ImportRequest struct {
	// As, when set, is the account the movements were originally by
	// (kcledger import --as): their events name it as actor, and the
	// importing admin as imported_by.
	As        string           `json:"as,omitempty"`
	Movements []ImportMovement `json:"movements"`
}

// ImportMovement is one movement of a batch: its kind, its idempotency
// key (the Idempotency-Key of a recording route) and the body that
// route takes.
type ImportMovement struct {
	Kind           domain.CommandKind `json:"kind"`
	IdempotencyKey string             `json:"idempotency_key"`
	Body           json.RawMessage    `json:"body"`
}

// ImportResponse is what each movement of a batch recorded, in order.
type ImportResponse struct {
	Results []ImportResult `json:"results"`
}

// ImportResult is one movement's event: its id and sequence, and whether
// it was recorded already under its key. It is short on purpose: a batch
// answers hundreds, and the balances are the balances routes' to tell.
type ImportResult struct {
	EventID  string `json:"event_id"`
	Seq      uint64 `json:"seq"`
	Replayed bool   `json:"replayed"`
}

// importKinds are the kinds a batch takes: the movements on one line.
var importKinds = map[domain.CommandKind]bool{
	domain.Allocate: true, domain.Adjust: true, domain.Disburse: true, domain.Refund: true, domain.Lapse: true,
}

// importBatch records a batch of past movements in one atomic write
// (domain.Ledger.RecordBatch). Only an admin imports: the movements may be
// on any line, and on behalf of another account (as). A refusal names the
// movement by its place: movements[3].amount.
func (a *Server) importBatch(w http.ResponseWriter, r *http.Request) {
	acc := accountOf(r)
	if acc.Role != domain.RoleAdmin {
		// Read the batch first only to name the rule it breaks.
		if req, err := a.readImport(w, r); err == nil && req.As != "" {
			WriteError(w, r, a.log, domain.Errorf(domain.CodeForbidden, "as", "only an admin imports movements on behalf of another account (as); %s is not one", acc.Name))
			return
		}
		WriteError(w, r, a.log, domain.Errorf(domain.CodeForbidden, "", "only an admin imports movements, on any line; %s is not one", acc.Name))
		return
	}
	if err := a.sound(); err != nil {
		WriteError(w, r, a.log, err)
		return
	}
	req, err := a.readImport(w, r)
	if err != nil {
		WriteError(w, r, a.log, err)
		return
	}
	actor, importedBy := acc.Name, ""
	if req.As != "" {
		if req.As == acc.Name {
			WriteError(w, r, a.log, domain.Errorf(domain.CodeInvalidField, "as", "as names the account the movements were by, another than yours (%s): leave it out to import as yourself", acc.Name))
			return
		}
		if n := utf8.RuneCountInString(req.As); n > domain.MaxActorLen || !utf8.ValidString(req.As) || strings.TrimSpace(req.As) != req.As || strings.ContainsFunc(req.As, unicode.IsControl) {
			WriteError(w, r, a.log, domain.Errorf(domain.CodeInvalidField, "as", "as is an account name: 1 to %d characters of UTF-8, without control characters or surrounding spaces", domain.MaxActorLen))
			return
		}
		actor, importedBy = req.As, acc.Name
	}
	if n := len(req.Movements); n == 0 || n > MaxImportBatch {
		WriteError(w, r, a.log, domain.Errorf(domain.CodeInvalidField, "movements", "a batch has 1 to %d movements, not %d", MaxImportBatch, n))
		return
	}
	cmds, err := decodeMovements(req.Movements)
	if err != nil {
		WriteError(w, r, a.log, err)
		return
	}
	now := a.now().UTC()
	for i := range cmds {
		// In order: the event ids (UUID v7) grow with the file's rows.
		cmds[i].EventID = uuid.Must(uuid.NewV7()).String()
		cmds[i].Now = now
		// From the token, never from the request body; as, only for an
		// admin, names the movement's original account.
		cmds[i].Actor, cmds[i].ImportedBy = actor, importedBy
	}
	res, err := a.ledger.RecordBatch(r.Context(), cmds)
	for _, rr := range res {
		a.noteWrite(rr.Recorded.Seq)
	}
	if err != nil {
		var be *domain.BatchError
		if errors.As(err, &be) {
			err = importField(be.Err, fmt.Sprintf("movements[%d]", be.Index))
		}
		WriteError(w, r, a.log, err)
		return
	}
	out := ImportResponse{Results: make([]ImportResult, len(res))}
	for i, rr := range res {
		out.Results[i] = ImportResult{EventID: rr.Recorded.Event.ID, Seq: rr.Recorded.Seq, Replayed: rr.Replayed}
	}
	writeJSON(w, http.StatusOK, out)
}

// decodeMovementsPer is how many movements a goroutine decodes at least.
const decodeMovementsPer = 256

// decodeMovements decodes a batch's movements, on every core: each is
// decoded on its own, and decoding was a fifth of the time a batch took.
// A refusal names the first bad movement, as a decoding in order would.
func decodeMovements(ms []ImportMovement) ([]domain.Command, error) {
	cmds := make([]domain.Command, len(ms))
	errs := make([]error, len(ms))
	decode := func(from, to int) {
		for i := from; i < to; i++ {
			m := ms[i]
			at := fmt.Sprintf("movements[%d]", i)
			switch {
			case !importKinds[m.Kind]:
				errs[i] = domain.Errorf(domain.CodeInvalidField, at+".kind", "kind %q: want allocate, adjust, disburse, refund or lapse", m.Kind)
			case m.IdempotencyKey == "":
				errs[i] = domain.Errorf(domain.CodeInvalidIdempotencyKey, at+".idempotency_key", "every movement needs its idempotency key")
			default:
				cmd, err := DecodeMovement(m.Kind, m.Body)
				if err != nil {
					errs[i] = importField(err, at)
				}
				cmd.IdempotencyKey = m.IdempotencyKey
				cmds[i] = cmd
			}
			if errs[i] != nil {
				return // the later ones of this part cannot come first
			}
		}
	}
	workers := min(runtime.GOMAXPROCS(0), (len(ms)+decodeMovementsPer-1)/decodeMovementsPer)
	if workers <= 1 {
		decode(0, len(ms))
	} else {
		var wg sync.WaitGroup
		per := (len(ms) + workers - 1) / workers
		for from := 0; from < len(ms); from += per {
			wg.Add(1)
			go func() { defer wg.Done(); decode(from, min(from+per, len(ms))) }()
		}
		wg.Wait()
	}
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return cmds, nil
}

// readImport reads and decodes an import request's body.
func (a *Server) readImport(w http.ResponseWriter, r *http.Request) (ImportRequest, error) {
	mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
	if err != nil || mt != "application/json" {
		return ImportRequest{}, domain.Errorf(domain.CodeUnsupportedMediaType, "", "send the body as Content-Type: application/json")
	}
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxImportBodyBytes))
	var tooLarge *http.MaxBytesError
	if errors.As(err, &tooLarge) {
		return ImportRequest{}, domain.Errorf(domain.CodeBodyTooLarge, "", "the request body exceeds %d bytes", maxImportBodyBytes)
	}
	if err != nil {
		return ImportRequest{}, domain.Errorf(domain.CodeMalformedRequest, "", "reading the request body: %v", err)
	}
	return decodeBody[ImportRequest](body, map[string]bool{"movements": true, "as": true}, "")
}

// importField names a movement's field by its place in the batch.
func importField(err error, at string) error {
	var de *domain.Error
	if !errors.As(err, &de) {
		return err
	}
	if de.Field == "" {
		return withField(err, at)
	}
	return withField(err, at+"."+de.Field)
}
