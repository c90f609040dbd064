package model

import "math"

// Apply returns the activation of x, computed as the reference runtimes do (sigmoid and
// tanh through float64).
func (a Activation) Apply(x, alpha, beta float32) float32 {
	switch a {
	case ActRelu:
		if x < 0 {
			return 0
		}
		return x
	case ActRelu6:
		return min(max(x, 0), 6)
	case ActLeakyRelu:
		if x < 0 {
			return alpha * x
		}
		return x
	case ActSigmoid:
		return float32(1 / (1 + math.Exp(-float64(x))))
	case ActHardSwish:
		return x * min(max(x+3, 0), 6) * alpha
	case ActHardSigmoid:
		return min(max(x+3, 0), 6) * alpha
	case ActSiLU:
		return float32(float64(x) / (1 + math.Exp(-float64(x))))
	case ActTanh:
		return float32(math.Tanh(float64(x)))
	case ActClip:
		return min(max(x, alpha), beta)
	}
	return x
}

// ApplySlice applies the activation to every element of x in place.
func (a Activation) ApplySlice(x []float32, alpha, beta float32) {
	switch a {
	case ActNone:
	case ActRelu:
		for i, v := range x {
			if v < 0 {
				x[i] = 0
			}
		}
	case ActRelu6:
		for i, v := range x {
			x[i] = min(max(v, 0), 6)
		}
	default:
		for i, v := range x {
			x[i] = a.Apply(v, alpha, beta)
		}
	}
}
