package api_test

import (
	"net/http"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/web/api"
	"github.com/kcledger/kcledger/web/api/apitest"
)

// observed records what the API tells its observer.
type observed struct {
	mu       sync.Mutex
	requests map[[3]string]int // route, method, status
	refusals map[domain.Code]int
	commands map[[2]string]int // event type, outcome
}

func (o *observed) Request(route, method string, status int, _ time.Duration) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.requests[[3]string{route, method, http.StatusText(status)}]++
}

func (o *observed) Refused(code domain.Code) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.refusals[code]++
}

func (o *observed) Command(t domain.EventType, outcome string) {
	o.mu.Lock()
	defer o.mu.Unlock()
	o.commands[[2]string{string(t), outcome}]++
}

func (o *observed) request(route, method string, status int) int {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.requests[[3]string{route, method, http.StatusText(status)}]
}

// The observer's labels are bounded: a route is the pattern that
// matched (never the raw path), a method outside the known ones is
// "other"; refusals come with their code, and a recording command that
// appends nothing with its outcome.
func TestMetricsObserverLabels(t *testing.T) {
	o := &observed{requests: map[[3]string]int{}, refusals: map[domain.Code]int{}, commands: map[[2]string]int{}}
	ta := apitest.Start(t, apitest.Options{Observer: o})
	body := apitest.MustJSON(t, apitest.ValidBody(apitest.PathAllocations))
	require.Equal(t, http.StatusCreated, ta.Post(t, apitest.PathAllocations, "obs-1", body).Status)
	require.Equal(t, http.StatusOK, ta.Post(t, apitest.PathAllocations, "obs-1", body).Status)
	huge := apitest.ValidBody(apitest.PathDisbursements)
	huge["amount"] = "900000000000"
	ta.Post(t, apitest.PathDisbursements, "obs-2", apitest.MustJSON(t, huge))
	ta.Get(t, "/v1/events/1")
	ta.Get(t, "/v1/events/999999")
	ta.Get(t, "/v1/no-such-thing")
	ta.Do(t, "BREW", apitest.PathAllocations, nil, nil)
	ta.Get(t, "/healthz")

	for _, c := range []struct {
		route, method string
		status        int
	}{
		{"POST /v1/allocations", "POST", http.StatusCreated},
		{"POST /v1/allocations", "POST", http.StatusOK},
		{"POST /v1/disbursements", "POST", http.StatusUnprocessableEntity},
		{"GET /v1/events/{seq}", "GET", http.StatusOK},
		{"GET /v1/events/{seq}", "GET", http.StatusNotFound},
		{"/v1/", "GET", http.StatusNotFound},
		{"/v1/allocations", "other", http.StatusMethodNotAllowed},
		{"GET /healthz", "GET", http.StatusOK},
	} {
		require.Eventually(t, func() bool { return o.request(c.route, c.method, c.status) == 1 },
			5*time.Second, 10*time.Millisecond, "%s %s %d: %v", c.method, c.route, c.status, o.requests)
	}
	o.mu.Lock()
	defer o.mu.Unlock()
	for k := range o.requests {
		assert.NotContains(t, k[0], "999999", "a raw path as a route")
		assert.NotEqual(t, "BREW", k[1], "an unknown method as a label")
	}
	assert.Equal(t, 1, o.refusals[domain.CodeInsufficientFunds])
	assert.Equal(t, 1, o.refusals[domain.CodeMethodNotAllowed])
	assert.Equal(t, 1, o.commands[[2]string{string(domain.TypeAllocated), api.OutcomeReplayed}])
	assert.Equal(t, 1, o.commands[[2]string{string(domain.TypeDisbursed), api.OutcomeRefused}])
	assert.Zero(t, o.commands[[2]string{string(domain.TypeAllocated), api.OutcomeRefused}])
}
