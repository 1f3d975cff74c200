package main

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	webapi "github.com/kcledger/kcledger/web/api"
)

// TestReusedKeyOfAnotherAccount checks that an officer who sends another
// account's idempotency key learns only that the key is taken: not the
// other province's line, nor its event, nor who recorded it. An officer
// reusing its own key is told which of its events holds it.
func TestReusedKeyOfAnotherAccount(t *testing.T) {
	t.Parallel()
	ta := newTestAPI(t)
	for _, prov := range []string{"01", "79"} {
		b := validBody(pathAllocations)
		b["province"] = prov
		r := ta.post(t, pathAllocations, "alloc-"+prov, mustJSON(t, b))
		require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
	}
	hanoi := ta.as(ta.addAccount(t, "officer-hanoi", domain.RoleOfficer, []string{"01"}, []string{"national"}))
	hcm := ta.as(ta.addAccount(t, "officer-hcm", domain.RoleOfficer, []string{"79"}, []string{"national"}))

	const key = "shared-key"
	disb := validBody(pathDisbursements)
	r := hanoi.post(t, pathDisbursements, key, mustJSON(t, disb))
	require.Equal(t, http.StatusCreated, r.status, "%s", r.body)
	var first webapi.RecordResponse
	require.NoError(t, json.Unmarshal(r.body, &first))
	seq := ta.streamLastSeq(t)

	other := validBody(pathDisbursements)
	other["province"] = "79"
	p := requireProblem(t, hcm.post(t, pathDisbursements, key, mustJSON(t, other)), http.StatusConflict, domain.CodeIdempotencyKeyReused, "Idempotency-Key")
	assert.Contains(t, p.Detail, "already taken")
	for _, secret := range []string{first.Event.ID, first.Event.Line().String(), "officer-hanoi", first.Event.Hash, "Hà Nội"} {
		assert.NotContains(t, p.Detail, secret)
	}

	disb["amount"] = "100000001"
	p = requireProblem(t, hanoi.post(t, pathDisbursements, key, mustJSON(t, disb)), http.StatusConflict, domain.CodeIdempotencyKeyReused, "Idempotency-Key")
	assert.Contains(t, p.Detail, first.Event.ID, "its own event is named")
	require.Equal(t, seq, ta.streamLastSeq(t), "nothing appended")
}
