// Package journal streams a drill's events to journal.jsonl as the drill runs, so that a drill
// killed with SIGKILL still leaves its evidence, and rebuilds a report from such a journal
// (`recall report --from-journal`).
//
// The journal is JSON Lines, one [drill.Event] per line: a header (the report as known at the
// start: scenario, population, recall), the phases, the environment, the tracker's
// configuration, each recall acknowledgement, fault injections and reverts, per (component,
// victim) pair each change of the tracker's folded state (not each probe), and the counters
// about once a second. Pair, acknowledgement and counter lines are buffered and flushed at most
// [FlushInterval] apart (and on Close), so a kill loses at most that much of them; the rare
// events are written at once. Credentials appear only as fingerprints.
package journal

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"sync"
	"time"

	"github.com/recall-drills/recall/internal/drill"
)

// FileName is the journal's name in a drill's output directory, beside report.json.
const FileName = "journal.jsonl"

// FlushInterval bounds how long an event waits in the buffer before it reaches the file.
const FlushInterval = 250 * time.Millisecond

// Writer is a [drill.Observer] that appends events to a file. It is safe for concurrent use.
type Writer struct {
	mu   sync.Mutex
	f    *os.File
	w    *bufio.Writer
	err  error // the first write error; later events are dropped
	stop chan struct{}
	done chan struct{}
}

// Create creates (truncating) the journal at path and starts its flusher.
func Create(path string) (*Writer, error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_TRUNC|os.O_WRONLY, 0o644)
	if err != nil {
		return nil, fmt.Errorf("journal: %w", err)
	}
	j := &Writer{f: f, w: bufio.NewWriterSize(f, 64<<10), stop: make(chan struct{}), done: make(chan struct{})}
	go j.flusher()
	return j, nil
}

func (j *Writer) flusher() {
	defer close(j.done)
	t := time.NewTicker(FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-j.stop:
			return
		case <-t.C:
			j.mu.Lock()
			if j.err == nil {
				j.err = j.w.Flush()
			}
			j.mu.Unlock()
		}
	}
}

// Record appends e as one line (drill.Observer).
func (j *Writer) Record(e drill.Event) {
	b, err := json.Marshal(e)
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.err != nil || j.w == nil {
		return
	}
	if err != nil {
		j.err = fmt.Errorf("journal: encode %s event: %w", e.Kind, err)
		return
	}
	b = append(b, '\n')
	if _, err := j.w.Write(b); err != nil {
		j.err = err
		return
	}
	if e.Kind != drill.EventPair && e.Kind != drill.EventAck && e.Kind != drill.EventCounters {
		// Rare events (the header, phases, the trigger, faults) reach the file at once: a kill
		// right after a phase began still shows that phase.
		j.err = j.w.Flush()
	}
}

// Close flushes what is buffered and closes the file; it returns the first error the journal
// met, if any. It is safe to call more than once.
func (j *Writer) Close() error {
	j.mu.Lock()
	if j.w == nil {
		err := j.err
		j.mu.Unlock()
		return err
	}
	j.mu.Unlock()
	close(j.stop)
	<-j.done
	j.mu.Lock()
	defer j.mu.Unlock()
	if j.err == nil {
		j.err = j.w.Flush()
	}
	if err := j.f.Close(); err != nil && j.err == nil {
		j.err = err
	}
	j.w = nil
	if j.err != nil {
		return fmt.Errorf("journal %s: %w", j.f.Name(), j.err)
	}
	return nil
}
