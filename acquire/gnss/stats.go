package gnss

import (
	"encoding/json"
	"fmt"
	"sync"

	"roadlog/sync/clock"
	"roadlog/sync/devclock"
)

// Stats is a snapshot of what a source has seen since it started.
type Stats struct {
	Framer       FramerStats
	Classes      [numClasses]int64         // sentences by Class
	Types        [len(StandardTypes)]int64 // decoded standard sentences, indexed like StandardTypes
	Lenient      int64                     // standard sentences decoded only by a lenient fallback
	Merger       MergerStats
	GPSD         GPSDStats // the GPSD source's report counts
	LastSentence int64     // host monotonic ns of the last sentence (0: none yet)
}

// Class returns the number of sentences of class c.
func (s *Stats) Class(c Class) int64 {
	if int(c) < len(s.Classes) {
		return s.Classes[c]
	}
	return 0
}

// Type returns the number of decoded standard sentences of type typ ("GGA").
func (s *Stats) Type(typ string) int64 {
	if i := standardIndex(typ); i >= 0 {
		return s.Types[i]
	}
	return 0
}

// Problems returns the number of sentences that could not be used.
func (s *Stats) Problems() int64 {
	return s.Classes[ClassChecksum] + s.Classes[ClassNoChecksum] + s.Classes[ClassTruncated] + s.Classes[ClassMalformed]
}

func (s *Stats) count(sn *Sentence, thost int64) {
	s.Classes[sn.Class]++
	s.LastSentence = thost
	if sn.Class != ClassStandard {
		return
	}
	if sn.Lenient {
		s.Lenient++
	}
	if i := standardIndex(sn.Type); i >= 0 {
		s.Types[i]++
	}
}

// Summary is a one-line account for logs and event messages.
func (s *Stats) Summary() string {
	return fmt.Sprintf("%d epochs, %d sentences: %d standard, %d other, %d proprietary, %d unknown, "+
		"%d checksum errors, %d without checksum, %d truncated, %d malformed; %d noise bytes",
		s.Merger.Epochs, s.Framer.Sentences, s.Classes[ClassStandard], s.Classes[ClassOther],
		s.Classes[ClassProprietary], s.Classes[ClassUnknown], s.Classes[ClassChecksum],
		s.Classes[ClassNoChecksum], s.Classes[ClassTruncated], s.Classes[ClassMalformed], s.Framer.Noise)
}

// MarshalJSON writes the counters with names, for the Detail of EvSourceStats events.
func (s Stats) MarshalJSON() ([]byte, error) {
	classes := map[string]int64{}
	for c := Class(1); c < numClasses; c++ {
		classes[c.String()] = s.Classes[c]
	}
	var gpsd *GPSDStats
	if s.GPSD.Reports > 0 || s.GPSD.BadJSON > 0 {
		gpsd = &s.GPSD
	}
	types := map[string]int64{}
	for i, t := range StandardTypes {
		types[t] = s.Types[i]
	}
	return json.Marshal(struct {
		Framer       FramerStats      `json:"framer"`
		Classes      map[string]int64 `json:"classes"`
		Types        map[string]int64 `json:"types"`
		Lenient      int64            `json:"lenient"`
		Merger       MergerStats      `json:"merger"`
		GPSD         *GPSDStats       `json:"gpsd,omitempty"`
		LastSentence int64            `json:"last_sentence_host_ns"`
	}{s.Framer, classes, types, s.Lenient, s.Merger, gpsd, s.LastSentence})
}

// statsBox hands the owner goroutine's counters to readers on other goroutines, and
// keeps what a source carries from one run to the next: its clock model.
type statsBox struct {
	mu sync.Mutex // guards s and st
	s  Stats
	st *devclock.Stamps
}

// stamps returns the source's clock model, made on first use from cfg: each epoch's
// UTC time of fix, taken as it stands while the reference is disciplined, mapped
// through the sentences' arrival otherwise (sync rows under gnss/<Name>).
func (b *statsBox) stamps(cfg Config, tb clock.Timebase) *devclock.Stamps {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.st == nil {
		b.st = devclock.NewStamps(devclock.StampsConfig{Name: "gnss/" + cfg.Name}, tb)
	}
	return b.st
}

func (b *statsBox) store(s *Stats) {
	b.mu.Lock()
	b.s = *s
	b.mu.Unlock()
}

func (b *statsBox) load() Stats {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.s
}
