package api

import (
	"errors"
	"net/http"

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

type LineView struct {
	Line    domain.LineKey `json:"line"`
	Balance domain.Balance `json:"balance"`
	Events  int            `json:"events"`
	LastSeq uint64         `json:"last_seq"`
}

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
		WriteJSON(w, status, resp)
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
	body, err := ReadBody(w, r)
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
				err = WithField(err, "to_"+de.Field) // the destination's province or source
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
		return WithField(err, "Idempotency-Key")
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
