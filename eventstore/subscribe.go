package eventstore

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"

	"github.com/kcledger/kcledger/domain"
)

// Subscriptions: durable, resumable consumers for downstream systems
// (kcledger subscribe). Each message is handed over one at a time, in
// stream order, and acknowledged only once the handler has returned
// without error; the server keeps a durable consumer's position, so a
// subscriber that stops, or is killed, resumes at the first message it
// did not acknowledge.

// SubscribeConfig says what to read and from where.
type SubscribeConfig struct {
	// Stream is the stream's name; empty is DefaultStream.
	Stream string
	// Durable names the consumer that keeps the subscriber's position on
	// the server (ValidateDurable); empty reads with an ephemeral ordered
	// consumer that remembers nothing.
	Durable string
	// Filters are subject filters (ValidateFilter); none is every event.
	Filters []string
	// Start is where a new consumer starts; an existing durable resumes
	// where it stopped and refuses a Start.
	Start Start
	// AckWait is how long the server waits for an acknowledgement before
	// it delivers the message again; handlers that take longer call
	// Delivery.InProgress. Zero is DefaultAckWait.
	AckWait time.Duration
}

// DefaultAckWait is the redelivery timeout of new durable subscriptions:
// how long a message taken by a subscriber that died waits before it is
// delivered again.
const DefaultAckWait = 10 * time.Second

// Start is the first message a new consumer delivers: the stream's first
// (the zero value), the one at Seq, or the first stored at or after Time.
type Start struct {
	Seq  uint64
	Time time.Time
}

func (s Start) given() bool { return s.Seq > 0 || !s.Time.IsZero() }

func (s Start) String() string {
	switch {
	case s.Seq > 0:
		return fmt.Sprintf("seq %d", s.Seq)
	case !s.Time.IsZero():
		return "messages stored since " + s.Time.Format(time.RFC3339)
	}
	return "the first event"
}

// Delivery is one message of a subscription.
type Delivery struct {
	Seq     uint64
	Subject string
	Header  nats.Header
	Data    []byte
	// Stored is when the server stored the message.
	Stored time.Time
	// Pending is how many matching messages follow this one.
	Pending uint64
}

// SubscriptionInfo describes a subscription as it begins.
type SubscriptionInfo struct {
	Durable string
	// Created is true when the durable consumer was made now.
	Created bool
	// Resume is the first sequence the subscription can deliver (for a
	// durable: one past the last acknowledged), and Pending how many
	// matching messages there are from there.
	Resume  uint64
	Pending uint64
	Filters []string
	// AckWait is the consumer's redelivery timeout; handlers that take
	// longer must call Delivery.InProgress within it.
	AckWait time.Duration
	// Unacknowledged is how many messages an earlier subscription took
	// and did not acknowledge (it stopped or died): the server delivers
	// them again once AckWait has passed since.
	Unacknowledged int
	// Taken, when Unacknowledged > 0, is the stream sequence of the
	// event that earlier subscription took: the filter's next event,
	// which with a filter need not be Resume.
	Taken uint64
}

var durableName = regexp.MustCompile(`^[A-Za-z0-9_-]{1,64}$`)

// ValidateDurable checks a durable consumer's name: 1 to 64 letters,
// digits, '-' or '_' (NATS also refuses '.', '*', '>', spaces and path
// separators; kcledger keeps to a set that is safe everywhere).
func ValidateDurable(name string) error {
	if !durableName.MatchString(name) {
		return domain.Errorf(domain.CodeInvalidField, "durable",
			"durable name %q: use 1 to 64 letters, digits, '-' or '_' (no spaces, dots, wildcards or slashes)", name)
	}
	return nil
}

// filterTokens are the tokens of an event subject after eventsPrefix, in
// order (subjects.go).
var filterTokens = []string{"fiscal year", "province", "source", "kind", "version"}

// ValidateFilter checks a subject filter against the documented subject
// taxonomy (docs/events.md): kcledger.events, then up to five tokens
// (fiscal year, province, source, kind, version), each a value that can
// occur or the wildcard '*', with '>' allowed as the last token. A filter
// that could match no event is an error naming the token.
func ValidateFilter(f string) error {
	bad := func(format string, a ...any) error {
		return domain.Errorf(domain.CodeInvalidField, "filter", "filter %q: "+format+"; see docs/events.md, e.g. kcledger.events.2025.> or kcledger.events.*.01.>", append([]any{f}, a...)...)
	}
	if f == AllEvents {
		return nil
	}
	rest, ok := strings.CutPrefix(f, eventsPrefix+".")
	if !ok {
		return bad("event subjects begin with %s.", eventsPrefix)
	}
	toks := strings.Split(rest, ".")
	if len(toks) > len(filterTokens) {
		return bad("an event subject has %d tokens after %s, not %d", len(filterTokens), eventsPrefix, len(toks))
	}
	for i, tok := range toks {
		name := filterTokens[i]
		switch {
		case tok == ">":
			if i != len(toks)-1 {
				return bad("'>' may only be the last token")
			}
			return nil
		case tok == "*":
			continue
		case tok == "":
			return bad("the %s token is empty", name)
		case strings.ContainsAny(tok, "*> \t"):
			return bad("the %s token %q mixes a wildcard with text; use '*' alone", name, tok)
		}
		if err := checkFilterToken(i, tok); err != nil {
			return bad("%s", err)
		}
	}
	if len(toks) < len(filterTokens) {
		return bad("it stops after the %s token and matches no event; end it with '>' or give all %d tokens", filterTokens[len(toks)-1], len(filterTokens))
	}
	return nil
}

func checkFilterToken(i int, tok string) error {
	switch filterTokens[i] {
	case "fiscal year":
		y, err := strconv.Atoi(tok)
		if err != nil || y < domain.MinFiscalYear || y > domain.MaxFiscalYear || strconv.Itoa(y) != tok {
			return fmt.Errorf("fiscal year %q: want %d–%d", tok, domain.MinFiscalYear, domain.MaxFiscalYear)
		}
	case "province":
		_, in63 := domain.LookupProvince(domain.Scheme63, tok)
		_, in34 := domain.LookupProvince(domain.Scheme34, tok)
		if !in63 && !in34 {
			return fmt.Errorf("province %q is no province code of the 63- or the 34-province scheme", tok)
		}
	case "source":
		if tok != string(domain.SourceNational) && tok != string(domain.SourceLocal) {
			return fmt.Errorf("source %q: want %s or %s", tok, domain.SourceNational, domain.SourceLocal)
		}
	case "kind":
		kinds := make([]string, 0, len(domain.EventTypes))
		for _, t := range domain.EventTypes {
			kinds = append(kinds, t.Kind())
		}
		if !slices.Contains(kinds, tok) {
			return fmt.Errorf("kind %q: want one of %s", tok, strings.Join(kinds, ", "))
		}
	case "version":
		versions := make([]string, 0, 1)
		for _, t := range domain.EventTypes {
			if !slices.Contains(versions, t.Version()) {
				versions = append(versions, t.Version())
			}
		}
		if !slices.Contains(versions, tok) {
			return fmt.Errorf("version %q: want %s", tok, strings.Join(versions, ", "))
		}
	}
	return nil
}

// ErrDurableMismatch reports a durable consumer that exists with another
// filter, or a start given for a durable that already has a position.
var ErrDurableMismatch = errors.New("eventstore: durable consumer exists with other settings")

// Subscribe validates c, opens the subscription (creating the durable
// consumer if needed), reports it to begin, then hands each message to fn
// in order until ctx ends (nil) or fn fails (its error). With a durable,
// a message is acknowledged, and the server told so before the next one
// comes, only when fn returned nil; a message whose fn failed stays
// unacknowledged, and a later subscription starts with it. Once a durable
// subscription has returned, the server has forgotten it, and a message
// the server sent it during the stop has been given back, not kept
// reserved for the ack wait.
func Subscribe(ctx context.Context, nc *nats.Conn, c SubscribeConfig, begin func(SubscriptionInfo), fn func(context.Context, *Delivery) error) error {
	if c.Stream == "" {
		c.Stream = DefaultStream
	}
	if len(c.Filters) == 0 {
		c.Filters = []string{AllEvents}
	}
	for _, f := range c.Filters {
		if err := ValidateFilter(f); err != nil {
			return err
		}
	}
	if c.Durable != "" {
		if err := ValidateDurable(c.Durable); err != nil {
			return err
		}
	}
	if c.AckWait <= 0 {
		c.AckWait = DefaultAckWait
	}
	js, err := jetstream.New(nc)
	if err != nil {
		return fmt.Errorf("eventstore: jetstream: %w", err)
	}
	reqCtx, cancel := withTimeout(ctx)
	stream, err := js.Stream(reqCtx, c.Stream)
	cancel()
	if stopped(ctx, err) {
		return nil // stopped before it began
	}
	if err != nil {
		return fmt.Errorf("eventstore: stream %s: %w", c.Stream, err)
	}
	if c.Durable == "" {
		return subscribeOrdered(ctx, js, c, begin, fn)
	}
	cons, info, err := durableConsumer(ctx, stream, c)
	if stopped(ctx, err) {
		return nil
	}
	if err != nil {
		return err
	}
	begin(info)
	it, err := cons.Messages(jetstream.PullMaxMessages(1))
	if err != nil {
		return fmt.Errorf("eventstore: subscribe %s: %w", c.Durable, err)
	}
	defer it.Stop()
	// A stop drains rather than cuts: the server may have sent a message
	// for this subscription's last pull request before it learns the
	// subscription is gone. Drained, that message is still read here and
	// given back at once (below); cut, it would arrive at a closed inbox
	// and stay reserved for the ack wait, holding up the next run.
	stop := context.AfterFunc(ctx, it.Drain)
	defer stop()
	ack := func(m jetstream.Msg, seq uint64) error {
		ackCtx, cancel := withTimeout(context.WithoutCancel(ctx))
		defer cancel()
		if err := m.DoubleAck(ackCtx); err != nil {
			return fmt.Errorf("eventstore: acknowledge seq %d: %w (it will be delivered again)", seq, err)
		}
		return nil
	}
	var acked uint64 // the last sequence this subscription acknowledged
	for {
		m, err := it.Next()
		if err != nil {
			if ctx.Err() != nil {
				// Drained: the server holds no request of ours, and
				// the messages given back are on their way to it.
				_ = nc.Flush()
				return nil
			}
			return fmt.Errorf("eventstore: subscribe %s: %w", c.Durable, err)
		}
		if ctx.Err() != nil {
			// Came during the drain: not handled, given back for the
			// next subscription to take at once.
			_ = m.Nak()
			continue
		}
		d, err := delivery(m)
		if err != nil {
			return err
		}
		if d.Seq <= acked {
			// A copy the server sent again while the handler held the
			// message past the ack wait: handled once already.
			if err := ack(m, d.Seq); err != nil {
				return err
			}
			continue
		}
		// The handler runs to its end even when ctx ends meanwhile: a
		// command half done is worse than a stop a little later. Until
		// then the server is told, within each ack wait, that the
		// message is still being worked on.
		if err := withHeartbeat(m, info.AckWait, func() error { return fn(context.WithoutCancel(ctx), d) }); err != nil {
			// Left unacknowledged: redelivered to the next subscription,
			// once this one has stopped asking for messages.
			it.Stop()
			_ = m.Nak()
			return err
		}
		if err := ack(m, d.Seq); err != nil {
			return err
		}
		acked = d.Seq
	}
}

// stopped reports whether err is ctx's end, a stop asked for rather than
// a failure (false for a nil err).
func stopped(ctx context.Context, err error) bool {
	return ctx.Err() != nil && errors.Is(err, ctx.Err())
}

// withHeartbeat runs fn, telling the server every third of ackWait that m
// is still in progress.
func withHeartbeat(m jetstream.Msg, ackWait time.Duration, fn func() error) error {
	if ackWait <= 0 {
		ackWait = DefaultAckWait
	}
	done := make(chan struct{})
	beats := make(chan struct{})
	go func() {
		defer close(beats)
		t := time.NewTicker(ackWait / 3)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-t.C:
				_ = m.InProgress()
			}
		}
	}()
	err := fn()
	close(done)
	<-beats
	return err
}

func delivery(m jetstream.Msg) (*Delivery, error) {
	meta, err := m.Metadata()
	if err != nil {
		return nil, fmt.Errorf("eventstore: subscribe: metadata of a message on %s: %w", m.Subject(), err)
	}
	return &Delivery{Seq: meta.Sequence.Stream, Subject: m.Subject(), Header: m.Headers(), Data: m.Data(), Stored: meta.Timestamp, Pending: meta.NumPending}, nil
}

// durableConsumer finds or makes the durable consumer of c.
func durableConsumer(ctx context.Context, stream jetstream.Stream, c SubscribeConfig) (jetstream.Consumer, SubscriptionInfo, error) {
	reqCtx, cancel := withTimeout(ctx)
	defer cancel()
	info := SubscriptionInfo{Durable: c.Durable, Filters: c.Filters}
	cons, err := stream.Consumer(reqCtx, c.Durable)
	switch {
	case err == nil:
		have := cons.CachedInfo()
		filters := have.Config.FilterSubjects
		if have.Config.FilterSubject != "" {
			filters = []string{have.Config.FilterSubject}
		}
		if !slices.Equal(filters, c.Filters) {
			return nil, info, fmt.Errorf("%w: durable %s reads %v, not %v; choose another durable name", ErrDurableMismatch, c.Durable, filters, c.Filters)
		}
		if have.Config.AckPolicy != jetstream.AckExplicitPolicy || have.Config.MaxAckPending != 1 {
			return nil, info, fmt.Errorf("%w: durable %s was not made by kcledger subscribe (ack policy %s, max ack pending %d; it needs explicit acks, one at a time, to keep order); choose another durable name", ErrDurableMismatch, c.Durable, have.Config.AckPolicy, have.Config.MaxAckPending)
		}
		if c.Start.given() {
			return nil, info, fmt.Errorf("%w: durable %s already resumes at seq %d; a start (%s) only applies to a new durable, so drop it or choose another name", ErrDurableMismatch, c.Durable, have.AckFloor.Stream+1, c.Start)
		}
		info.Resume, info.Pending = have.AckFloor.Stream+1, have.NumPending+uint64(have.NumAckPending)
		info.AckWait, info.Unacknowledged = have.Config.AckWait, have.NumAckPending
		if have.NumAckPending > 0 {
			// One message at a time (MaxAckPending 1): the one taken is
			// the last delivered.
			info.Taken = have.Delivered.Stream
		}
		return cons, info, nil
	case !errors.Is(err, jetstream.ErrConsumerNotFound):
		return nil, info, fmt.Errorf("eventstore: durable %s: %w", c.Durable, err)
	}
	cfg := jetstream.ConsumerConfig{
		Durable:        c.Durable,
		Description:    "kcledger subscribe",
		FilterSubjects: c.Filters,
		DeliverPolicy:  jetstream.DeliverAllPolicy,
		AckPolicy:      jetstream.AckExplicitPolicy,
		AckWait:        c.AckWait,
		// One message at a time: order is kept even across redeliveries.
		MaxAckPending: 1,
		MaxDeliver:    -1,
		ReplayPolicy:  jetstream.ReplayInstantPolicy,
	}
	switch {
	case c.Start.Seq > 0:
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, c.Start.Seq
	case !c.Start.Time.IsZero():
		t := c.Start.Time
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &t
	}
	cons, err = stream.CreateConsumer(reqCtx, cfg)
	if err != nil {
		return nil, info, fmt.Errorf("eventstore: create durable %s: %w", c.Durable, err)
	}
	have := cons.CachedInfo()
	info.Created, info.Pending, info.AckWait = true, have.NumPending, have.Config.AckWait
	info.Resume = max(c.Start.Seq, 1)
	return cons, info, nil
}

// subscribeOrdered reads with an ephemeral ordered consumer: nothing to
// acknowledge, nothing kept on the server.
func subscribeOrdered(ctx context.Context, js jetstream.JetStream, c SubscribeConfig, begin func(SubscriptionInfo), fn func(context.Context, *Delivery) error) error {
	cfg := jetstream.OrderedConsumerConfig{FilterSubjects: c.Filters, DeliverPolicy: jetstream.DeliverAllPolicy}
	switch {
	case c.Start.Seq > 0:
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, c.Start.Seq
	case !c.Start.Time.IsZero():
		t := c.Start.Time
		cfg.DeliverPolicy, cfg.OptStartTime = jetstream.DeliverByStartTimePolicy, &t
	}
	cons, err := js.OrderedConsumer(ctx, c.Stream, cfg)
	if stopped(ctx, err) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("eventstore: subscribe: %w", err)
	}
	info := SubscriptionInfo{Filters: c.Filters, Resume: max(c.Start.Seq, 1), AckWait: c.AckWait}
	if ci, err := cons.Info(ctx); err == nil {
		info.Pending = ci.NumPending
	}
	begin(info)
	it, err := cons.Messages()
	if err != nil {
		return fmt.Errorf("eventstore: subscribe: %w", err)
	}
	defer it.Stop()
	// A stop may cut: an ordered consumer takes no acknowledgements, so a
	// message lost on the way reserves nothing (unlike a durable's).
	stop := context.AfterFunc(ctx, it.Stop)
	defer stop()
	for {
		m, err := it.Next()
		if err != nil {
			if ctx.Err() != nil {
				return nil
			}
			return fmt.Errorf("eventstore: subscribe: %w", err)
		}
		d, err := delivery(m)
		if err != nil {
			return err
		}
		if err := fn(context.WithoutCancel(ctx), d); err != nil {
			return err
		}
		if ctx.Err() != nil {
			return nil
		}
	}
}
