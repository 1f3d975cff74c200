package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	webapi "github.com/kcledger/kcledger/web/api"
)

// checkpointStore is what a rebuild needs of eventstore.Checkpoints.
type checkpointStore interface {
	Save(ctx context.Context, name string, data []byte) error
}

// rebuildResponse answers POST /v1/rebuild.
type rebuildResponse struct {
	// Seq is the stream sequence the balances were rebuilt to.
	Seq uint64 `json:"seq"`
	// Differed says whether the rebuilt balances differed from those
	// served until then (which then came from a wrong checkpoint).
	Differed bool `json:"differed"`
}

// rebuild replays the whole stream into fresh balances, swaps them in
// without a restart, and saves a new checkpoint. Admins only.
func (a *api) rebuild(w http.ResponseWriter, r *http.Request) {
	acc := accountOf(r)
	if err := acc.MayManageAccounts(); err != nil {
		webapi.WriteError(w, r, a.log, err)
		return
	}
	// A rebuild would stop at the same bad message (repudiate.go).
	if err := a.sound(); err != nil {
		webapi.WriteError(w, r, a.log, err)
		return
	}
	seq, differed, err := a.balances.Rebuild(r.Context(), a.feed)
	if err != nil {
		webapi.WriteError(w, r, a.log, err)
		return
	}
	if differed {
		a.log.Warn("rebuilt balances differ from those served until now; the rebuilt ones are served from now on", "seq", seq, "by", acc.Name)
	} else {
		a.log.Info("balances rebuilt from the stream; they equal those served", "seq", seq, "by", acc.Name)
	}
	data, _ := a.balances.Checkpoint()
	if err := a.checkpoints.Save(r.Context(), balancesCheckpoint, data); err != nil {
		webapi.WriteError(w, r, a.log, err)
		return
	}
	webapi.WriteJSON(w, http.StatusOK, rebuildResponse{Seq: seq, Differed: differed})
}

// runRebuild is `kcledger rebuild`.
func runRebuild(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := newFlags("rebuild", "rebuild the running ledger's balances from the whole stream, swap them in without a restart, and save a new checkpoint (admins); serve --rebuild does the same at start, for the idempotency key index too", stderr)
	server := addClientFlags(fs)
	asJSON := fs.Bool("json", envBool("KCLEDGER_JSON"), "print JSON (KCLEDGER_JSON)")
	if code, ok := parseFlags(fs, args); !ok {
		return code
	}
	c, err := server.client()
	if err != nil {
		fmt.Fprintf(stderr, "kcledger rebuild: %v\n", err)
		return exitUsage
	}
	var res rebuildResponse
	if _, err := c.do(ctx, http.MethodPost, "/v1/rebuild", nil, nil, &res); err != nil {
		return exitFor(err, stderr, *server.server)
	}
	if *asJSON {
		_ = json.NewEncoder(stdout).Encode(res)
		return exitOK
	}
	if res.Differed {
		fmt.Fprintf(stdout, "Rebuilt the balances up to seq %d. They DIFFERED from those served until now; the rebuilt ones are served from now on.\n", res.Seq)
	} else {
		fmt.Fprintf(stdout, "Rebuilt the balances up to seq %d; they equal those served until now.\n", res.Seq)
	}
	return exitOK
}
