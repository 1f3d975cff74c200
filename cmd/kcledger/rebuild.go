package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"

	webapi "github.com/kcledger/kcledger/web/api"
)

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
	var res webapi.RebuildResponse
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
