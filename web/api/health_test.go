package api_test

import (
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/web/api/apitest"
)

// /readyz turns 503 while the idempotency key index would refuse a
// recording (it lags the stream beyond its bound), saying why, and 200
// once it is current again.
func TestReadyzFollowsTheKeyIndex(t *testing.T) {
	var behind atomic.Bool
	ta := apitest.Start(t, apitest.Options{KeysCurrent: func() error {
		if behind.Load() {
			return domain.Errorf(domain.CodeUnavailable, "", "the idempotency key index is catching up with the stream")
		}
		return nil
	}})
	r := ta.Get(t, "/readyz")
	require.Equal(t, http.StatusOK, r.Status, "%s", r.Body)

	behind.Store(true)
	p := apitest.RequireProblem(t, ta.Get(t, "/readyz"), http.StatusServiceUnavailable, domain.CodeUnavailable, "")
	assert.Contains(t, p.Detail, "idempotency key index")

	behind.Store(false)
	r = ta.Get(t, "/readyz")
	assert.Equal(t, http.StatusOK, r.Status, "%s", r.Body)
}
