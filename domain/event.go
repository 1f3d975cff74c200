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

// The budget year's movements between lines, and the end of a line.
//
// A transfer moves money still available on one line to another as one
// movement with two sides, two events appended in one atomic write: the
// transferred-out event on the source line and the transferred-in event
// on the destination line. Both carry the transfer's kind, its id (the id
// of the transferred-out event) and both lines. A lapse (hủy dự toán)
// cancels what is still available on a line after its settlement period;
// a lapse without a project closes the line to everything but refunds.
const (
	TypeTransferredOut EventType = "funds.transferred_out.v1"
	TypeTransferredIn  EventType = "funds.transferred_in.v1"
	TypeLapsed         EventType = "funds.lapsed.v1"
)

// EventTypes lists every event type.
var EventTypes = []EventType{TypeAllocated, TypeAdjusted, TypeDisbursed, TypeRefunded, TypeTransferredOut, TypeTransferredIn, TypeLapsed, TypeRepudiated}

// TransferKind says why money moves between two lines. Values are
// persisted.
type TransferKind string

// The kinds of transfer.
const (
	// TransferSuccession carries a merged province's line to its
	// successor's line of the same year and source (the 2025 merger),
	// dated on or after 1 July 2025.
	TransferSuccession TransferKind = "succession"
	// TransferCarryOver (chuyển nguồn) carries year N's line to year
	// N+1's line of the same province or its successor, by decision,
	// within year N's settlement period.
	TransferCarryOver TransferKind = "carry_over"
)

// Kind is the event type's subject token: "allocated", "adjusted",
// "disbursed", "refunded", "transferred_out", "transferred_in", "lapsed"
// or "repudiated".
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
	case TypeTransferredOut:
		return "transferred_out"
	case TypeTransferredIn:
		return "transferred_in"
	case TypeLapsed:
		return "lapsed"
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
	ProjectName      string `json:"project_name,omitempty"`
	ImplementingUnit string `json:"implementing_unit,omitempty"`
	Counterpart      Amount `json:"counterpart,omitzero"`
	// TransferKind, TransferID, FromLine and ToLine are on both sides of
	// a transfer, and on no other event. TransferID is the id of the
	// transferred-out event; FromLine and ToLine are the source and the
	// destination, one of them the event's own line.
	TransferKind  TransferKind `json:"transfer_kind,omitempty"`
	TransferID    string       `json:"transfer_id,omitempty"`
	FromLine      LineKey      `json:"from_line,omitzero"`
	ToLine        LineKey      `json:"to_line,omitzero"`
	EffectiveDate Date         `json:"effective_date"`
	RecordedAt    time.Time    `json:"recorded_at"`
	Actor         string       `json:"actor"`
	// ImportedBy is, on a movement an admin imported on behalf of
	// another account (kcledger import --as), the importing account;
	// Actor is then the account the movement was originally by. Absent
	// on every other event.
	ImportedBy     string `json:"imported_by,omitempty"`
	IdempotencyKey string `json:"idempotency_key"`
	PrevHash       string `json:"prev_hash"`
	Hash           string `json:"hash"`
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
// when absent); then, only on the two sides of a transfer, the tag
// "transfer-v1", transfer_kind, transfer_id, and from_line's and
// to_line's fiscal_year, province and source; then, only on a movement
// imported on behalf of another account, the tag "imported-by-v1" and
// imported_by. Events without facts, transfer or imported_by hash as they
// did before those existed. Every field but hash, signed_by and signature is covered, so
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
	if e.TransferKind != "" {
		field("transfer-v1")
		field(string(e.TransferKind))
		field(e.TransferID)
		for _, k := range []LineKey{e.FromLine, e.ToLine} {
			field(strconv.Itoa(k.FiscalYear))
			field(k.Province)
			field(string(k.Source))
		}
	}
	if e.ImportedBy != "" {
		field("imported-by-v1")
		field(e.ImportedBy)
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
	if e.TransferKind != "" {
		// Not the transfer's id, which is the event id of one try.
		fields = append(fields, "transfer-v1", string(e.TransferKind),
			strconv.Itoa(e.FromLine.FiscalYear), e.FromLine.Province, string(e.FromLine.Source),
			strconv.Itoa(e.ToLine.FiscalYear), e.ToLine.Province, string(e.ToLine.Source))
	}
	if e.ImportedBy != "" {
		fields = append(fields, "imported-by-v1", e.ImportedBy)
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
	for _, k := range []CommandKind{Allocate, Adjust, Disburse, Refund, Lapse, Repudiate} {
		if k.EventType() == e.Type {
			kind = k
		}
	}
	if e.Type == TypeTransferredOut || e.Type == TypeTransferredIn {
		kind = Transfer
	}
	if kind == "" {
		return Errorf(CodeInvalidField, "type", "unknown event type %q", e.Type)
	}
	c := Command{
		Kind: kind, FiscalYear: e.FiscalYear, Province: e.Province, Source: e.Source, Project: e.Project,
		Category: e.Category, Amount: e.Amount, Decision: e.Decision, Voucher: e.Voucher,
		Beneficiary: e.Beneficiary, Reason: e.Reason, EffectiveDate: e.EffectiveDate,
		ProjectName: e.ProjectName, ImplementingUnit: e.ImplementingUnit, Counterpart: e.Counterpart,
		TransferKind: e.TransferKind, To: e.ToLine,
		RepudiatedSeq: e.RepudiatedSeq, RepudiatedDigest: e.RepudiatedDigest,
		EventID: e.ID, Actor: e.Actor, ImportedBy: e.ImportedBy, IdempotencyKey: e.IdempotencyKey, Now: e.RecordedAt,
	}
	if kind != Transfer {
		switch {
		case e.TransferID != "":
			return Errorf(CodeInvalidField, "transfer_id", "%s is no side of a transfer and has no transfer_id", e.Type)
		case e.FromLine != (LineKey{}):
			return Errorf(CodeInvalidField, "from_line", "%s is no side of a transfer and has no from_line", e.Type)
		}
		return c.Validate(p)
	}
	if err := e.validateSide(); err != nil {
		return err
	}
	// The transfer command as it was: its own line the source, its event
	// id the transfer's id, and the in side's id another one.
	c.FiscalYear, c.Province, c.Source = e.FromLine.FiscalYear, e.FromLine.Province, e.FromLine.Source
	c.EventID, c.InEventID = e.TransferID, e.ID
	if e.Type == TypeTransferredOut {
		c.InEventID = e.ID + " in"
	}
	return c.Validate(p)
}

// validateSide checks what ties a side of a transfer to the transfer: its
// id (the out side's own id, which the in side names) and its line (the
// source for the out side, the destination for the in side).
func (e *Event) validateSide() error {
	if e.TransferKind == "" {
		return Errorf(CodeMissingField, "transfer_kind", "a side of a transfer names the transfer's kind")
	}
	if e.TransferID == "" {
		return Errorf(CodeMissingField, "transfer_id", "a side of a transfer names the transfer's id, the id of its transferred-out event")
	}
	own, field := e.FromLine, "from_line"
	if e.Type == TypeTransferredOut && e.TransferID != e.ID {
		return Errorf(CodeInvalidField, "transfer_id", "a transferred-out event's transfer_id is its own id %s, not %s", e.ID, e.TransferID)
	}
	if e.Type == TypeTransferredIn {
		if e.TransferID == e.ID {
			return Errorf(CodeInvalidField, "transfer_id", "a transferred-in event's transfer_id is the id of its transferred-out side, not its own %s", e.ID)
		}
		own, field = e.ToLine, "to_line"
	}
	if own != e.Line() {
		return Errorf(CodeInvalidField, field, "%s is recorded on line %s but its %s is %s", e.Type, e.Line(), field, own)
	}
	return nil
}
