package main

import (
	"encoding/json"
	"net/http"
	"testing"

	"github.com/kcledger/kcledger/web/api/apitest"

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
		b := apitest.ValidBody(apitest.PathAllocations)
		b["province"] = prov
		r := ta.Post(t, apitest.PathAllocations, "alloc-"+prov, apitest.MustJSON(t, b))
		require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	}
	hanoi := ta.as(ta.AddAccount(t, "officer-hanoi", domain.RoleOfficer, []string{"01"}, []string{"national"}))
	hcm := ta.as(ta.AddAccount(t, "officer-hcm", domain.RoleOfficer, []string{"79"}, []string{"national"}))

	const key = "shared-key"
	disb := apitest.ValidBody(apitest.PathDisbursements)
	r := hanoi.Post(t, apitest.PathDisbursements, key, apitest.MustJSON(t, disb))
	require.Equal(t, http.StatusCreated, r.Status, "%s", r.Body)
	var first webapi.RecordResponse
	require.NoError(t, json.Unmarshal(r.Body, &first))
	seq := ta.streamLastSeq(t)

	other := apitest.ValidBody(apitest.PathDisbursements)
	other["province"] = "79"
	p := apitest.RequireProblem(t, hcm.Post(t, apitest.PathDisbursements, key, apitest.MustJSON(t, other)), http.StatusConflict, domain.CodeIdempotencyKeyReused, "Idempotency-Key")
	assert.Contains(t, p.Detail, "already taken")
	for _, secret := range []string{first.Event.ID, first.Event.Line().String(), "officer-hanoi", first.Event.Hash, "Hà Nội"} {
		assert.NotContains(t, p.Detail, secret)
	}

	disb["amount"] = "100000001"
	p = apitest.RequireProblem(t, hanoi.Post(t, apitest.PathDisbursements, key, apitest.MustJSON(t, disb)), http.StatusConflict, domain.CodeIdempotencyKeyReused, "Idempotency-Key")
	assert.Contains(t, p.Detail, first.Event.ID, "its own event is named")
	require.Equal(t, seq, ta.streamLastSeq(t), "nothing appended")
}
