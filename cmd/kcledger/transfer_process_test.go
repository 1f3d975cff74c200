package main

import (
	"context"
	"fmt"
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/web/api/apitest"
)

// carryOverLine is where testLine's money is carried over to.
var carryOverLine = domain.LineKey{FiscalYear: 2026, Province: "01", Source: domain.SourceNational}

func carryOverProcessBody(amount string) map[string]any {
	return map[string]any{"transfer_kind": "carry_over", "fiscal_year": 2025, "province": "01", "source": "national",
		"to_fiscal_year": 2026, "to_province": "01", "amount": amount, "decision": "55/QĐ-UBND", "effective_date": "2026-01-15"}
}

// Two serve processes on one NATS server carry money over out of a line
// and disburse from it at once: never more than the plan leaves it, both
// lines' chains intact, every acknowledged transfer in the stream once
// with both of its sides, and verify clean.
func TestTwoProcessesTransferAndDisburse(t *testing.T) {
	a, b, ns := startTwoServes(t)
	servers := []string{a.http, b.http}

	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	const allocated, each, clients, perClient = 10_000_000, 1_000_000, 16, 2
	status, _, err := post(ctx, a.http, "/v1/allocations", "alloc", allocationBody(fmt.Sprint(allocated)))
	require.NoError(t, err)
	require.Equal(t, http.StatusCreated, status)

	var (
		mu          sync.Mutex
		disbursed   = map[string]string{} // key → event id
		transferred = map[string][2]string{}
		refused     int
		wg          sync.WaitGroup
	)
	for c := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range perClient {
				transfer := (c+i)%2 == 0
				key := fmt.Sprintf("client-%d-%d", c, i)
				path, body := "/v1/disbursements", disbursementBody(fmt.Sprint(each))
				if transfer {
					path, body = "/v1/transfers", carryOverProcessBody(fmt.Sprint(each))
				}
				srv := servers[c%2]
				status, res, err := post(ctx, srv, path, key, body)
				if err != nil {
					t.Errorf("%s: %v", key, err)
					return
				}
				switch status {
				case http.StatusCreated:
					// A retry through the other process finds the original.
					rs, again, err := post(ctx, servers[(c+1)%2], path, key, body)
					if err != nil || rs != http.StatusOK {
						t.Errorf("%s: retry through the other process: status %d (%v)", key, rs, err)
						continue
					}
					mu.Lock()
					if transfer {
						out, in := sideID(res, "out"), sideID(res, "in")
						if out == "" || in == "" || sideID(again, "out") != out || sideID(again, "in") != in {
							t.Errorf("%s: transfer %s/%s, retried as %s/%s", key, out, in, sideID(again, "out"), sideID(again, "in"))
						}
						transferred[key] = [2]string{out, in}
					} else {
						if eventID(again) != eventID(res) {
							t.Errorf("%s: disbursement %s, retried as %s", key, eventID(res), eventID(again))
						}
						disbursed[key] = eventID(res)
					}
					mu.Unlock()
				case http.StatusUnprocessableEntity:
					if res["code"] != string(domain.CodeInsufficientFunds) {
						t.Errorf("%s: refused with %v, want insufficient_funds", key, res["code"])
					}
					mu.Lock()
					refused++
					mu.Unlock()
				default:
					t.Errorf("%s: status %d: %v", key, status, res)
				}
			}
		}()
	}
	wg.Wait()
	require.Equal(t, allocated/each, len(disbursed)+len(transferred), "exactly the plan can be paid out or carried over")
	require.Equal(t, clients*perClient-allocated/each, refused)

	// Both chains replay; each acknowledged movement is there once.
	src := domain.NewLineState(testLine)
	seen := map[string]int{}
	for _, r := range loadLine(t, ns.ClientURL(), testLine) {
		require.NoError(t, src.Apply(r), "the source line replays without breaking a rule or the hash chain")
		seen[r.Event.ID]++
	}
	dst := domain.NewLineState(carryOverLine)
	for _, r := range loadLine(t, ns.ClientURL(), carryOverLine) {
		require.NoError(t, dst.Apply(r), "the destination line replays without breaking a rule or the hash chain")
		require.Equal(t, domain.TypeTransferredIn, r.Event.Type)
		seen[r.Event.ID]++
	}
	for key, id := range disbursed {
		require.Equal(t, 1, seen[id], "disbursement %s (%s) is in the stream once", id, key)
	}
	for key, ids := range transferred {
		require.Equal(t, 1, seen[ids[0]], "transfer %s: its out side %s is in the stream once", key, ids[0])
		require.Equal(t, 1, seen[ids[1]], "transfer %s: its in side %s is in the stream once", key, ids[1])
	}
	require.Equal(t, len(disbursed)+2*len(transferred)+1, len(seen), "nothing unacknowledged was appended")
	bal := src.Balance
	apitest.RequireAmount(t, fmt.Sprint(allocated), bal.NetDisbursed().Add(bal.TransferredOut), "disbursed and transferred out")
	apitest.RequireAmount(t, fmt.Sprint(len(transferred)*each), bal.TransferredOut)
	apitest.RequireAmount(t, fmt.Sprint(len(transferred)*each), dst.Balance.TransferredIn)
	require.True(t, bal.Available().IsZero())

	// verify, from the stream itself, with the keys pinned.
	keysFile := pinKeys(t, a.http)
	for _, srv := range servers {
		code, out, stderr := cliEnv(t, srv, []string{"KCLEDGER_NATS_URL=" + ns.ClientURL(), "KCLEDGER_TOKEN_FILE=" + tokenFileOf(srv)},
			"verify", "--keys", keysFile, "--compare")
		require.Equal(t, 0, code, "verify against %s:\n%s\n%s", srv, out, stderr)
		require.Contains(t, out, "on 2 budget lines")
	}
}

// sideID is the event id of a transfer answer's out or in side.
func sideID(body map[string]any, side string) string {
	s, _ := body[side].(map[string]any)
	return eventID(s)
}

func tokenFileOf(server string) string {
	path, _ := tokenFiles.Load(server)
	s, _ := path.(string)
	return s
}
