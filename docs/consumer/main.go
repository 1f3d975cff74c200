// Command consumer is a small example subscriber of the kcledger stream,
// written from docs/events.md alone: it keeps, per province, the net
// disbursed total (disbursed − refunded) in whole đồng.
//
// Exactly once, across restarts and kill -9: the totals and the stream
// sequence of the last message counted in them are saved TOGETHER, in one
// JSON file replaced atomically (temporary file, fsync, rename) after each
// message. On start the consumer reads that file and has JetStream deliver
// from the next sequence on, so whenever the process dies, each message is
// either wholly in the file (totals and position) or not at all. Nothing
// is acknowledged: the position lives with the totals, not in the server.
//
//	consumer -s nats://127.0.0.1:4222 -user kho-bac -password … -state totals.json
//	consumer -idle 2s   # exit 0 once caught up (cron jobs, tests)
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"math/big"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
)

// state is the file: {"last_seq": 12, "net_disbursed": {"01": "250000000"}}.
type state struct {
	LastSeq      uint64            `json:"last_seq"`
	NetDisbursed map[string]string `json:"net_disbursed"`
}

var (
	url      = flag.String("s", env("NATS_URL", nats.DefaultURL), "NATS server URL (env NATS_URL)")
	user     = flag.String("user", os.Getenv("NATS_USER"), "NATS user, read-only (env NATS_USER)")
	password = flag.String("password", os.Getenv("NATS_PASSWORD"), "NATS password (env NATS_PASSWORD)")
	file     = flag.String("state", "consumer-state.json", "state file: the totals and the last stream sequence")
	stream   = flag.String("stream", "KCLEDGER", "stream name")
	idle     = flag.Duration("idle", 0, "exit 0 after no message for this long (0: run until SIGINT/SIGTERM)")
	delay    = flag.Duration("delay", 0, "demo/test aid only: take this long over each message")
)

func main() {
	flag.Parse()
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "consumer:", err)
		os.Exit(1)
	}
}

func run() error {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	st := state{NetDisbursed: map[string]string{}}
	if b, err := os.ReadFile(*file); err == nil {
		if err := json.Unmarshal(b, &st); err != nil {
			return fmt.Errorf("%s: %w", *file, err)
		}
	} else if !errors.Is(err, os.ErrNotExist) {
		return err
	}
	if st.NetDisbursed == nil {
		st.NetDisbursed = map[string]string{}
	}
	nc, err := nats.Connect(*url, nats.UserInfo(*user, *password), nats.Name("kcledger example consumer"))
	if err != nil {
		return err
	}
	defer nc.Close()
	js, err := jetstream.New(nc)
	if err != nil {
		return err
	}
	cfg := jetstream.OrderedConsumerConfig{
		FilterSubjects: []string{"kcledger.events.*.*.*.disbursed.>", "kcledger.events.*.*.*.refunded.>"},
		DeliverPolicy:  jetstream.DeliverAllPolicy,
	}
	if st.LastSeq > 0 {
		cfg.DeliverPolicy, cfg.OptStartSeq = jetstream.DeliverByStartSequencePolicy, st.LastSeq+1
	}
	cons, err := js.OrderedConsumer(ctx, *stream, cfg)
	if err != nil {
		return err
	}
	it, err := cons.Messages()
	if err != nil {
		return err
	}
	defer it.Stop()
	fmt.Fprintf(os.Stderr, "consuming %s from seq %d\n", *stream, st.LastSeq+1)
	for {
		wait, cancel := ctx, context.CancelFunc(func() {})
		if *idle > 0 {
			wait, cancel = context.WithTimeout(ctx, *idle)
		}
		msg, err := it.Next(jetstream.NextContext(wait))
		cancel()
		switch {
		case ctx.Err() != nil: // SIGINT/SIGTERM: all that was counted is saved
			fmt.Fprintf(os.Stderr, "stopped at seq %d\n", st.LastSeq)
			return nil
		case errors.Is(err, context.DeadlineExceeded):
			fmt.Fprintf(os.Stderr, "idle for %s at seq %d; exiting\n", *idle, st.LastSeq)
			return nil
		case err != nil:
			return err
		}
		meta, err := msg.Metadata()
		if err != nil {
			return err
		}
		seq := meta.Sequence.Stream
		if seq <= st.LastSeq { // already in the totals
			fmt.Fprintf(os.Stderr, "seq %d already counted; skipped\n", seq)
			continue
		}
		time.Sleep(*delay)
		var ev struct{ Type, Province, Amount string }
		if err := json.Unmarshal(msg.Data(), &ev); err != nil {
			return fmt.Errorf("seq %d: %w", seq, err)
		}
		amount, ok := new(big.Int).SetString(ev.Amount, 10) // whole đồng: never a float
		if !ok || amount.Sign() <= 0 || ev.Province == "" {
			return fmt.Errorf("seq %d: bad province %q or amount %q", seq, ev.Province, ev.Amount)
		}
		total := new(big.Int)
		if s, found := st.NetDisbursed[ev.Province]; found {
			if _, ok := total.SetString(s, 10); !ok {
				return fmt.Errorf("%s: bad total %q for province %s", *file, s, ev.Province)
			}
		}
		switch ev.Type {
		case "funds.disbursed.v1":
			total.Add(total, amount)
		case "funds.refunded.v1":
			total.Sub(total, amount)
		default: // a new version: stop rather than miscount
			return fmt.Errorf("seq %d: unknown event type %q", seq, ev.Type)
		}
		st.LastSeq, st.NetDisbursed[ev.Province] = seq, total.String()
		if err := save(*file, st); err != nil {
			return err
		}
		fmt.Fprintf(os.Stderr, "seq %d: %s %s %s; net disbursed %s\n", seq, ev.Province, ev.Type, ev.Amount, total)
	}
}

// save replaces file atomically: a crash leaves either the old state or
// the new one, never a mix.
func save(file string, st state) error {
	b, err := json.Marshal(st)
	if err != nil {
		return err
	}
	tmp, err := os.CreateTemp(filepath.Dir(file), ".consumer-state-*")
	if err != nil {
		return err
	}
	defer os.Remove(tmp.Name()) // a no-op once renamed
	_, err = tmp.Write(b)
	if err == nil {
		err = tmp.Sync()
	}
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Rename(tmp.Name(), file)
	}
	if d, derr := os.Open(filepath.Dir(file)); err == nil && derr == nil {
		err = d.Sync() // the rename itself, durable
		d.Close()
	}
	return err
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}
