package track

import "math"

// Assigner solves the linear assignment problem of the tracker: match rows (tracks)
// to columns (detections) so that the summed gain maxCost−cost over the matched pairs
// is largest, pairs costing more than maxCost being forbidden. Leaving a row and a
// column unmatched thus costs maxCost/2 each, as in ByteTrack's lapjv with a cost
// limit: one strong match is never broken up to make two weak ones.
//
// It runs the Hungarian method in its shortest-augmenting-path form with potentials,
// O(n²·(n+m)), on the rows×(cols+rows) matrix of cost−maxCost in which every row has a
// private "unmatched" column of cost 0. Written by hand: none of the libraries the team
// uses ships an assignment solver, and the tracker needs one that does not allocate
// per frame. The zero value is ready to use; scratch buffers grow and are reused.
type Assigner struct {
	u, v, minv []float64
	p, way     []int
	used       []bool
	c          []float64 // the rows×(cols+rows) matrix the algorithm runs on
}

// Solve matches rows to columns of the row-major cost matrix (rows×cols). rowTo[i]
// receives the column of row i, or -1; it must have length rows. NaN costs and costs
// above maxCost are forbidden pairs.
func (a *Assigner) Solve(cost []float64, rows, cols int, maxCost float64, rowTo []int) {
	for i := range rowTo[:rows] {
		rowTo[i] = -1
	}
	if rows == 0 || cols == 0 {
		return
	}
	n, m := rows, cols+rows
	a.grow(n, m)
	if cap(a.c) < n*m {
		a.c = make([]float64, n*m)
	}
	cm := a.c[:n*m]
	for i := 0; i < n; i++ {
		row := cm[i*m : (i+1)*m]
		for j := 0; j < cols; j++ {
			c := cost[i*cols+j]
			if !(c <= maxCost) { // NaN or forbidden: no better than unmatched
				c = maxCost
			}
			row[j] = c - maxCost
		}
		clear(row[cols:]) // the rows' ways out: unmatched costs 0
	}
	u, v, p, way, minv, used := a.u[:n+1], a.v[:m+1], a.p[:m+1], a.way[:m+1], a.minv[:m+1], a.used[:m+1]
	clear(u)
	clear(v)
	clear(p)
	clear(way)
	inf := math.Inf(1)
	for i := 1; i <= n; i++ {
		p[0] = i
		j0 := 0
		for j := range minv {
			minv[j], used[j] = inf, false
		}
		for {
			used[j0] = true
			i0, delta, j1 := p[j0], inf, 0
			row := cm[(i0-1)*m:]
			for j := 1; j <= m; j++ {
				if used[j] {
					continue
				}
				cur := row[j-1] - u[i0] - v[j]
				if cur < minv[j] {
					minv[j], way[j] = cur, j0
				}
				if minv[j] < delta {
					delta, j1 = minv[j], j
				}
			}
			for j := 0; j <= m; j++ {
				if used[j] {
					u[p[j]] += delta
					v[j] -= delta
				} else {
					minv[j] -= delta
				}
			}
			j0 = j1
			if p[j0] == 0 {
				break
			}
		}
		for j0 != 0 {
			j1 := way[j0]
			p[j0] = p[j1]
			j0 = j1
		}
	}
	for j := 1; j <= cols; j++ {
		if r := p[j] - 1; r >= 0 && cost[r*cols+j-1] < maxCost {
			rowTo[r] = j - 1
		}
	}
}

func (a *Assigner) grow(n, m int) {
	if cap(a.u) < n+1 {
		a.u = make([]float64, n+1)
	}
	if cap(a.v) < m+1 {
		a.v = make([]float64, m+1)
		a.p = make([]int, m+1)
		a.way = make([]int, m+1)
		a.minv = make([]float64, m+1)
		a.used = make([]bool, m+1)
	}
}
