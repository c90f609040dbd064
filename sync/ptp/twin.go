package ptp

import (
	"math/rand/v2"

	"roadlog/sync/simclock"
)

// Twin is a software PHC: a simulated clock (in TAI, or UTC with Discipline.Raw) read
// from a simulated host, each read taking ReadTime (± a uniform jitter of the same
// size) of true time. True returns the true time of the next read; simulations
// advance it, a live twin can use the host wall clock.
type Twin struct {
	PHC      *simclock.Oscillator // the PHC's clock (its reading: TAI ns)
	Host     *simclock.Oscillator // the host monotonic clock
	ReadTime int64                // ns of true time a clock_gettime on the PHC takes
	True     func() int64         // true time now
	Seed     uint64

	rng *rand.Rand
}

// Read reads the twin.
func (t *Twin) Read() (Reading, error) {
	if t.rng == nil {
		t.rng = rand.New(rand.NewPCG(t.Seed, 0x97c))
	}
	now := t.True()
	d := t.ReadTime + int64(t.rng.Float64()*float64(t.ReadTime))
	at := now + int64(t.rng.Float64()*float64(d))
	return Reading{Before: t.Host.Read(now), PHC: t.PHC.Read(at), After: t.Host.Read(now + d)}, nil
}
