package ui_test

import (
	"net/http"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
)

// pageCounter counts the console's answers as serve's metrics do.
type pageCounter struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *pageCounter) Request(route, method string, status int, _ time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.n[route+" "+method+" "+http.StatusText(status)]++
}

// Every page's answer is told to the observer under the pattern that
// matched, never the raw path, with a bounded method: a form from
// another origin, refused before routing, is "unmatched".
func TestPagesObserved(t *testing.T) {
	pc := &pageCounter{n: map[string]int{}}
	c := startConsole(t, consoleOptions{observer: pc})
	b := c.loggedIn(t, "quan-sat", domain.RoleAuditor, nil, nil)
	pc.mu.Lock()
	pc.n = map[string]int{} // the log-in's own pages
	pc.mu.Unlock()

	b.get("/provinces/01")
	b.get("/provinces/79")
	b.get("/khong-co")
	req, err := http.NewRequestWithContext(t.Context(), "BREW", c.URL+"/provinces", nil)
	require.NoError(t, err)
	resp, err := b.http.Do(req)
	require.NoError(t, err)
	require.NoError(t, resp.Body.Close())
	b.postWith("/logout", url.Values{}, http.Header{"Origin": {"https://ke-gian.example"}, "Sec-Fetch-Site": {"cross-site"}})

	pc.mu.Lock()
	defer pc.mu.Unlock()
	assert.Equal(t, map[string]int{
		"GET /provinces/{code} GET OK": 2,
		"/ GET Not Found":              1,
		"/ other Not Found":            1,
		"unmatched POST Forbidden":     1,
	}, pc.n)
}
