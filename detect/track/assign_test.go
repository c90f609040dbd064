package track

import (
	"encoding/binary"
	"math"
	"math/rand/v2"
	"strconv"
	"testing"
)

// assignCases feed TestAssigner, FuzzAssigner's seeds and BenchmarkAssigner.
var assignCases = []struct {
	name       string
	rows, cols int
	cost       []float64
	max        float64
	want       []int // expected rowTo (unique optimum)
}{
	{"empty", 0, 0, nil, 1, []int{}},
	{"1x1", 1, 1, []float64{0.3}, 1, []int{0}},
	{"1x1-over-limit", 1, 1, []float64{0.9}, 0.8, []int{-1}},
	{"2x2-cross", 2, 2, []float64{0.9, 0.1, 0.2, 0.8}, 1, []int{1, 0}},
	{"greedy-trap", 2, 2, []float64{0.1, 0.2, 0.3, 0.9}, 1, []int{1, 0}},
	{"wide", 2, 4, []float64{0.5, 0.4, 0.9, 0.1, 0.2, 0.9, 0.9, 0.15}, 1, []int{3, 0}},
	{"tall", 3, 1, []float64{0.5, 0.2, 0.7}, 1, []int{-1, 0, -1}},
	{"forbidden-forces-other", 2, 2, []float64{0.1, math.Inf(1), 0.2, 0.3}, 1, []int{0, 1}},
	{"nan-forbidden", 2, 2, []float64{math.NaN(), 0.5, 0.4, 0.6}, 1, []int{1, 0}},
	{"strong-pair-not-broken", 2, 2, []float64{0.1, 0.6, 0.6, 0.9}, 0.8, []int{0, -1}},
	{"two-pairs-beat-one", 2, 2, []float64{0.3, 0.4, 0.4, 0.9}, 0.8, []int{1, 0}},
}

func TestAssigner(t *testing.T) {
	var a Assigner
	for _, c := range assignCases {
		t.Run(c.name, func(t *testing.T) {
			got := make([]int, c.rows)
			a.Solve(c.cost, c.rows, c.cols, c.max, got)
			for i := range got {
				if got[i] != c.want[i] {
					t.Fatalf("rowTo = %v, want %v", got, c.want)
				}
			}
			checkOptimal(t, c.cost, c.rows, c.cols, c.max, got)
		})
	}
}

// bruteForce returns the largest summed gain max−cost over every matching of allowed
// pairs (cost < max).
func bruteForce(cost []float64, rows, cols int, max float64) float64 {
	best := 0.0
	used := make([]bool, cols)
	var rec func(r int, g float64)
	rec = func(r int, g float64) {
		if r == rows {
			best = math.Max(best, g)
			return
		}
		rec(r+1, g)
		for j := 0; j < cols; j++ {
			x := cost[r*cols+j]
			if used[j] || !(x < max) {
				continue
			}
			used[j] = true
			rec(r+1, g+max-x)
			used[j] = false
		}
	}
	rec(0, 0)
	return best
}

func checkOptimal(t *testing.T, cost []float64, rows, cols int, max float64, got []int) {
	t.Helper()
	seen := map[int]bool{}
	gain := 0.0
	for r, c := range got {
		if c < 0 {
			continue
		}
		if c >= cols || seen[c] {
			t.Fatalf("row %d: column %d out of range or used twice (%v)", r, c, got)
		}
		x := cost[r*cols+c]
		if !(x < max) {
			t.Fatalf("row %d: forbidden pair cost %v ≥ %v", r, x, max)
		}
		seen[c] = true
		gain += max - x
	}
	if want := bruteForce(cost, rows, cols, max); math.Abs(gain-want) > 1e-9 {
		t.Fatalf("matching %v: gain %.6f, brute force %.6f", got, gain, want)
	}
}

func TestAssignerRandom(t *testing.T) {
	rng := rand.New(rand.NewPCG(1, 2))
	var a Assigner
	for k := 0; k < 500; k++ {
		rows, cols := rng.IntN(6), rng.IntN(6)
		cost := make([]float64, rows*cols)
		for i := range cost {
			cost[i] = math.Round(rng.Float64()*20) / 20 // ties on purpose
			if rng.IntN(5) == 0 {
				cost[i] = math.Inf(1)
			}
		}
		got := make([]int, rows)
		a.Solve(cost, rows, cols, 0.8, got)
		checkOptimal(t, cost, rows, cols, 0.8, got)
	}
}

func FuzzAssigner(f *testing.F) {
	for _, c := range assignCases {
		b := []byte{byte(c.rows), byte(c.cols)}
		for _, x := range c.cost {
			b = binary.LittleEndian.AppendUint16(b, uint16(min(x, 2)*1000))
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		if len(b) < 2 {
			return
		}
		rows, cols := int(b[0]%7), int(b[1]%7)
		b = b[2:]
		cost := make([]float64, rows*cols)
		for i := range cost {
			if 2*i+1 < len(b) {
				v := binary.LittleEndian.Uint16(b[2*i:])
				cost[i] = float64(v%2100) / 1000
				if v%97 == 0 {
					cost[i] = math.Inf(1)
				}
			}
		}
		var a Assigner
		got := make([]int, rows)
		a.Solve(cost, rows, cols, 1, got)
		checkOptimal(t, cost, rows, cols, 1, got)
	})
}

func BenchmarkAssigner(b *testing.B) {
	for _, n := range []int{4, 16, 64} {
		b.Run("n="+strconv.Itoa(n), func(b *testing.B) {
			rng := rand.New(rand.NewPCG(3, 4))
			cost := make([]float64, n*n)
			for i := range cost {
				cost[i] = rng.Float64()
			}
			var a Assigner
			rowTo := make([]int, n)
			b.ReportAllocs()
			for b.Loop() {
				a.Solve(cost, n, n, 0.8, rowTo)
			}
		})
	}
}
