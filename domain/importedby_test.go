package domain_test

import (
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/kcledger/kcledger/domain"
)

// An event imported on behalf of another account (kcledger import --as)
// names the importing account in imported_by, covered by the hash and
// the fingerprint; an event without it hashes, fingerprints and encodes
// as every event did before the field existed.
func TestImportedByInTheContract(t *testing.T) {
	c := factsCommand()
	c.ProjectName, c.ImplementingUnit, c.Counterpart = "", "", domain.Amount{}
	st := domain.NewLineState(c.Line())
	plain, err := domain.Decide(st, c, domain.Policy{})
	require.NoError(t, err)
	assert.Equal(t, recipeBeforeFacts(&plain), plain.Hash, "no imported_by: the recipe as it was")
	data, err := domain.MarshalEvent(&plain)
	require.NoError(t, err)
	assert.NotContains(t, string(data), "imported_by")

	c.Actor, c.ImportedBy = "so-cong-thuong-ha-noi", "admin"
	imported, err := domain.Decide(st, c, domain.Policy{})
	require.NoError(t, err)
	require.NoError(t, imported.Validate(domain.Policy{}))
	assert.Equal(t, "admin", imported.ImportedBy)
	assert.NotEqual(t, recipeBeforeFacts(&imported), imported.Hash, "imported_by is covered by the hash")
	other := imported
	other.ImportedBy = "another-admin"
	assert.NotEqual(t, imported.ComputeHash(), other.ComputeHash())
	assert.NotEqual(t, imported.Fingerprint(), other.Fingerprint())
	assert.NotEqual(t, plain.Fingerprint(), imported.Fingerprint())

	data, err = domain.MarshalEvent(&imported)
	require.NoError(t, err)
	std, err := json.Marshal(&imported)
	require.NoError(t, err)
	assert.Equal(t, string(std), string(data), "MarshalEvent agrees with encoding/json")
	assert.Contains(t, string(data), `"actor":"so-cong-thuong-ha-noi","imported_by":"admin"`)
	var back domain.Event
	require.NoError(t, domain.UnmarshalEvent(data, &back))
	assert.Equal(t, "admin", back.ImportedBy)
	assert.Equal(t, imported.Hash, back.ComputeHash())

	for name, tc := range map[string]struct {
		by    string
		field string
	}{
		"too long":          {strings.Repeat("a", domain.MaxActorLen+1), "imported_by"},
		"the actor himself": {c.Actor, "imported_by"},
	} {
		bad := c
		bad.ImportedBy = tc.by
		err := bad.Validate(domain.Policy{})
		var de *domain.Error
		require.ErrorAs(t, err, &de, name)
		assert.Equal(t, tc.field, de.Field, name)
	}
}
