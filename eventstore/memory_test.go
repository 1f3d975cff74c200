package eventstore_test

import (
	"testing"

	"github.com/kcledger/kcledger/domain"
	"github.com/kcledger/kcledger/eventstore"
	"github.com/kcledger/kcledger/eventstore/eventstoretest"
)

func TestMemoryConformance(t *testing.T) {
	eventstoretest.Run(t, func(t *testing.T) domain.EventLog { return eventstore.NewMemory() })
}
