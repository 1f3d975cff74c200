package domain

import (
	"crypto/sha256"
	"encoding/hex"
	"strconv"
	"time"
)

// EventType names a persisted event. Names are append-only: a breaking
// change to an event is a new version, never an edit of an old one.
type EventType string

// The four movements of khuyến công money.
const (
	TypeAllocated EventType = "funds.allocated.v1"
	TypeAdjusted  EventType = "funds.adjusted.v1"
	TypeDisbursed EventType = "funds.disbursed.v1"
	TypeRefunded  EventType = "funds.refunded.v1"
)

// TypeRepudiated is the ledger's own event, on no budget line: an admin
// records that the message at RepudiatedSeq is not sound (it does not
// decode, sits on the wrong subject, breaks its chain or a rule, or is
// forged), so that every reader skips it. History is not edited: the bad
// message stays in the stream, and the repudiation says why it counts for
// nothing. Repudiations chain among themselves (LineKey{}, the ledger's
// own line): the first links to GenesisHash, each next to the one before.
const TypeRepudiated EventType = "ledger.repudiated.v1"

// EventTypes lists every event type.
var EventTypes = []EventType{TypeAllocated, TypeAdjusted, TypeDisbursed, TypeRefunded, TypeRepudiated}

// Kind is the event type's subject token: "allocated", "adjusted",
// "disbursed" or "refunded".
func (t EventType) Kind() string {
	switch t {
	case TypeAllocated:
		return "allocated"
	case TypeAdjusted:
		return "adjusted"
	case TypeDisbursed:
		return "disbursed"
	case TypeRefunded:
		return "refunded"
	case TypeRepudiated:
		return "repudiated"
	}
	return ""
}

// Version is the event type's version token ("v1").
func (t EventType) Version() string { return "v1" }

// GenesisHash is the PrevHash of the first event of every budget line.
const GenesisHash = "0000000000000000000000000000000000000000000000000000000000000000"

// Event is one recorded movement of a budget line. Its JSON encoding is the
// public contract read by auditors and downstream subscribers: fields are
// only ever added.
type Event struct {
	ID   string    `json:"id"`
	Type EventType `json:"type"`
	// FiscalYear, Province, Source and Amount are on every movement, and
	// on no repudiation (which the ledger itself, not a line, records):
	// a movement always has them non-zero, so they are omitted only from
	// repudiations.
	FiscalYear int      `json:"fiscal_year,omitempty"`
	Province   string   `json:"province,omitempty"`
	Source     Source   `json:"source,omitempty"`
	Project    string   `json:"project,omitempty"`
	Category   Category `json:"category,omitempty"`
	// Amount is positive, except for adjustments where it is the signed delta.
	Amount Amount `json:"amount,omitzero"`
	// RepudiatedSeq is the stream sequence a repudiation names; 0 on
	// every movement.
	RepudiatedSeq uint64 `json:"repudiated_seq,omitempty"`
	// RepudiatedDigest is, on a repudiation, the MessageDigest of the
	// message it names, "" for a sequence the stream lacks: a message is
	// passed over only while it is still that message.
	RepudiatedDigest string `json:"repudiated_digest,omitempty"`
	Decision         string `json:"decision,omitempty"`
	Voucher          string `json:"voucher,omitempty"`
	Beneficiary      string `json:"beneficiary,omitempty"`
	Reason           string `json:"reason,omitempty"`
	// ProjectName, ImplementingUnit and Counterpart are the optional facts
	// of the project an allocation funds (Command). Counterpart is never
	// state money: no balance counts it.
	ProjectName      string    `json:"project_name,omitempty"`
	ImplementingUnit string    `json:"implementing_unit,omitempty"`
	Counterpart      Amount    `json:"counterpart,omitzero"`
	EffectiveDate    Date      `json:"effective_date"`
	RecordedAt       time.Time `json:"recorded_at"`
	Actor            string    `json:"actor"`
	IdempotencyKey   string    `json:"idempotency_key"`
	PrevHash         string    `json:"prev_hash"`
	Hash             string    `json:"hash"`
	// SignedBy and Signature: the key id of the kcledger process that
	// recorded the event, and its Ed25519 signature of Hash (signature.go).
	// Not covered by the hash, which they sign.
	SignedBy  string `json:"signed_by,omitempty"`
	Signature string `json:"signature,omitempty"`
}

// Line is the budget line the event belongs to; LineKey{}, the ledger's
// own line, for a repudiation.
func (e *Event) Line() LineKey {
	return LineKey{FiscalYear: e.FiscalYear, Province: e.Province, Source: e.Source}
}

// ComputeHash returns the SHA-256, in lowercase hex, of the event's
// canonical encoding. The canonical encoding is the concatenation, in this
// order, of the netstrings ("<byte length>:<bytes>,") of: the tag
// "kcledger-event-v1", id, type, fiscal_year, province, source, project,
// category, amount, decision, voucher, beneficiary, reason, effective_date,
// recorded_at (RFC 3339 with nanoseconds, UTC), actor, idempotency_key,
// prev_hash and, on a repudiation only (when it is not 0), repudiated_seq
// in decimal and repudiated_digest; then, only on an allocation that
// carries any of the project facts, the tag "project-facts-v1",
// project_name, implementing_unit and counterpart (in machine form, "0"
// when absent). Events without facts hash as they did before the facts
// existed. Every field but hash, signed_by and signature is covered, so
// altering any of them, or
// the order of a line's events, breaks the chain. docs/events.md repeats
// this recipe for verifiers written in other languages.
func (e *Event) ComputeHash() string {
	h := sha256.New()
	var buf []byte
	field := func(s string) {
		buf = strconv.AppendInt(buf[:0], int64(len(s)), 10)
		buf = append(buf, ':')
		buf = append(buf, s...)
		buf = append(buf, ',')
		h.Write(buf)
	}
	field("kcledger-event-v1")
	field(e.ID)
	field(string(e.Type))
	field(strconv.Itoa(e.FiscalYear))
	field(e.Province)
	field(string(e.Source))
	field(e.Project)
	field(string(e.Category))
	field(e.Amount.String())
	field(e.Decision)
	field(e.Voucher)
	field(e.Beneficiary)
	field(e.Reason)
	field(e.EffectiveDate.String())
	field(e.RecordedAt.UTC().Format(time.RFC3339Nano))
	field(e.Actor)
	field(e.IdempotencyKey)
	field(e.PrevHash)
	if e.RepudiatedSeq != 0 {
		field(strconv.FormatUint(e.RepudiatedSeq, 10))
		field(e.RepudiatedDigest)
	}
	if e.hasFacts() {
		field("project-facts-v1")
		field(e.ProjectName)
		field(e.ImplementingUnit)
		field(e.Counterpart.String())
	}
	return hex.EncodeToString(h.Sum(nil))
}

// hasFacts says whether the event carries any project fact.
func (e *Event) hasFacts() bool {
	return e.ProjectName != "" || e.ImplementingUnit != "" || !e.Counterpart.IsZero()
}

// Fingerprint identifies what the event's command asked for, leaving out
// what differs between two tries of the same request (event id, recorded
// time, idempotency key) and the hash chain. Two commands with the same
// idempotency key and fingerprint are the same command.
func (e *Event) Fingerprint() string {
	h := sha256.New()
	var buf []byte
	fields := []string{
		"kcledger-command-v1", string(e.Type), strconv.Itoa(e.FiscalYear), e.Province, string(e.Source),
		e.Project, string(e.Category), e.Amount.String(), e.Decision, e.Voucher, e.Beneficiary,
		e.Reason, e.EffectiveDate.String(), e.Actor,
	}
	if e.RepudiatedSeq != 0 {
		// Only then: a movement's fingerprint is what it always was.
		fields = append(fields, strconv.FormatUint(e.RepudiatedSeq, 10), e.RepudiatedDigest)
	}
	if e.hasFacts() {
		fields = append(fields, "project-facts-v1", e.ProjectName, e.ImplementingUnit, e.Counterpart.String())
	}
	for _, s := range fields {
		buf = strconv.AppendInt(buf[:0], int64(len(s)), 10)
		buf = append(buf, ':')
		buf = append(buf, s...)
		buf = append(buf, ',')
		h.Write(buf)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// Recorded is an event together with its position in the event log.
type Recorded struct {
	Event Event
	// Seq is the event's sequence in the log (JetStream stream sequence).
	// Sequences grow with every append but are not contiguous.
	Seq uint64
	// HashChecked says that whoever read the event from the log has
	// already found Event.Hash equal to Event.ComputeHash() (stream scans
	// do it on every core while events wait to be applied in order), so
	// LineState.Apply need not compute it again. When false, Apply does.
	HashChecked bool
	// Repudiated says that the message at Seq was repudiated: Event is
	// empty (the message need not even decode), and the message counts
	// for nothing but its position.
	Repudiated bool
}

// Validate checks a recorded event against the rules its command had to
// pass, as of its recorded time: auditors run it on every event of the
// stream, whoever wrote it.
func (e *Event) Validate(p Policy) error {
	var kind CommandKind
	for _, k := range []CommandKind{Allocate, Adjust, Disburse, Refund, Repudiate} {
		if k.EventType() == e.Type {
			kind = k
		}
	}
	if kind == "" {
		return Errorf(CodeInvalidField, "type", "unknown event type %q", e.Type)
	}
	c := Command{
		Kind: kind, FiscalYear: e.FiscalYear, Province: e.Province, Source: e.Source, Project: e.Project,
		Category: e.Category, Amount: e.Amount, Decision: e.Decision, Voucher: e.Voucher,
		Beneficiary: e.Beneficiary, Reason: e.Reason, EffectiveDate: e.EffectiveDate,
		ProjectName: e.ProjectName, ImplementingUnit: e.ImplementingUnit, Counterpart: e.Counterpart,
		RepudiatedSeq: e.RepudiatedSeq, RepudiatedDigest: e.RepudiatedDigest,
		EventID: e.ID, Actor: e.Actor, IdempotencyKey: e.IdempotencyKey, Now: e.RecordedAt,
	}
	return c.Validate(p)
}
