package api

import (
	"context"
	"net/http"
)

// CheckpointStore is what a rebuild needs of eventstore.Checkpoints.
type CheckpointStore interface {
	Save(ctx context.Context, name string, data []byte) error
}

// RebuildResponse answers POST /v1/rebuild.
type RebuildResponse struct {
	// Seq is the stream sequence the balances were rebuilt to.
	Seq uint64 `json:"seq"`
	// Differed says whether the rebuilt balances differed from those
	// served until then (which then came from a wrong checkpoint).
	Differed bool `json:"differed"`
}

// rebuild replays the whole stream into fresh balances, swaps them in
// without a restart, and saves a new checkpoint. Admins only.
func (a *Server) rebuild(w http.ResponseWriter, r *http.Request) {
	acc := accountOf(r)
	if err := acc.MayManageAccounts(); err != nil {
		WriteError(w, r, a.log, err)
		return
	}
	// A rebuild would stop at the same bad message (cmd/kcledger/repudiate.go).
	if err := a.sound(); err != nil {
		WriteError(w, r, a.log, err)
		return
	}
	seq, differed, err := a.balances.Rebuild(r.Context(), a.feed)
	if err != nil {
		WriteError(w, r, a.log, err)
		return
	}
	if differed {
		a.log.Warn("rebuilt balances differ from those served until now; the rebuilt ones are served from now on", "seq", seq, "by", acc.Name)
	} else {
		a.log.Info("balances rebuilt from the stream; they equal those served", "seq", seq, "by", acc.Name)
	}
	data, _ := a.balances.Checkpoint()
	if err := a.checkpoints.Save(r.Context(), BalancesCheckpoint, data); err != nil {
		WriteError(w, r, a.log, err)
		return
	}
	writeJSON(w, http.StatusOK, RebuildResponse{Seq: seq, Differed: differed})
}

// BalancesCheckpoint is the name of the balances' checkpoint.
const BalancesCheckpoint = "balances"
