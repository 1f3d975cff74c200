package projections

import (
	"testing"

	"github.com/stretchr/testify/require"
)

// A checkpoint of other balance fields (saved before domain.Balance
// gained one, say) is refused, not read with the new field zero.
func TestPlansCheckpointRefusesOtherBalanceFields(t *testing.T) {
	lines, _ := NewBalances().Checkpoint()
	w := &cpWriter{}
	w.buf = append(w.buf, plansCheckpointMagic...)
	w.uint(plansCheckpointVersion)
	w.bytes(lines)
	w.uint(2)
	w.str("allocated")
	w.str("disbursed")
	for range 5 { // no lines, categories, names, successions or series
		w.uint(0)
	}
	_, _, err := RestorePlans(w.buf)
	require.ErrorContains(t, err, "holds balances of fields [allocated disbursed], the model's are [allocated disbursed refunded")

	// The same with the model's fields is read.
	w = &cpWriter{}
	w.buf = append(w.buf, plansCheckpointMagic...)
	w.uint(plansCheckpointVersion)
	w.bytes(lines)
	w.uint(uint64(len(balanceFields())))
	for _, f := range balanceFields() {
		w.str(f.name)
	}
	for range 5 { // no lines, categories, names, successions or series
		w.uint(0)
	}
	_, _, err = RestorePlans(w.buf)
	require.NoError(t, err)
}
