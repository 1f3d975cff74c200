package api

import (
	"net/http"

	"github.com/kcledger/kcledger/domain"
)

// TransferResponse is the answer to a transfer: both of its events, each
// with its own line's state after it (or, for a replay, as it is now).
type TransferResponse struct {
	Out      TransferSide `json:"out"`
	In       TransferSide `json:"in"`
	Replayed bool         `json:"replayed"`
}

// TransferSide is one of a transfer's events, as a recording answer
// shows a movement.
type TransferSide struct {
	Event   domain.Event `json:"event"`
	Seq     uint64       `json:"seq"`
	Line    LineView     `json:"line"`
	Project *ProjectView `json:"project,omitempty"`
}

func (a *Server) transfer(w http.ResponseWriter, r *http.Request) {
	cmd, err := a.command(w, r, domain.Transfer)
	if err != nil {
		WriteError(w, r, a.log, err)
		return
	}
	res, err := a.ledger.Transfer(r.Context(), cmd)
	a.observeCommand(domain.TypeTransferredOut, res.Replayed, err)
	if err != nil {
		WriteError(w, r, a.log, keyError(err))
		return
	}
	a.noteWrite(max(res.Out.Seq, res.In.Seq))
	resp := TransferResponse{
		Out: TransferSide{Event: res.Out.Event, Seq: res.Out.Seq, Line: lineViewOf(res.From),
			Project: projectViewOf(res.From, res.Out.Event.Project)},
		In: TransferSide{Event: res.In.Event, Seq: res.In.Seq, Line: lineViewOf(res.To),
			Project: projectViewOf(res.To, res.In.Event.Project)},
		Replayed: res.Replayed,
	}
	status := http.StatusCreated
	if res.Replayed {
		status = http.StatusOK
	}
	writeJSON(w, status, resp)
}
