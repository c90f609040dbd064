// Package onnxcase builds a small ONNX model that exercises the common CNN op set
// (convolution dense/grouped/depthwise/strided, batch-norm, the activations, squeeze-
// excitation, residual add, pools, concat, nearest and bilinear resize, pad, clip,
// transpose, flatten, Gemm, softmax) together with its outputs computed directly, in
// NCHW, by straightforward loops written independently of detect/model. Tests of the
// importer and of every engine run the model and compare.
package onnxcase

import (
	"math"
	"math/rand/v2"

	"google.golang.org/protobuf/proto"

	"roadlog/detect/model/onnxpb"
)

// Case is the model, one input and the expected outputs.
type Case struct {
	Model      []byte    // serialised ModelProto
	Input      []float32 // "x", NCHW [1,4,8,8]
	InputShape []int
	// Outputs in graph order: "probs" [1,10], "features" [1,16,6,6] (NCHW).
	Outputs      [][]float32
	OutputShapes [][]int
	OutputNames  []string
}

// nchw is a tensor in the ONNX layout.
type nchw struct {
	n, c, h, w int
	d          []float32
}

func newT(n, c, h, w int) nchw { return nchw{n, c, h, w, make([]float32, n*c*h*w)} }

func (t nchw) at(n, c, y, x int) float32 { return t.d[((n*t.c+c)*t.h+y)*t.w+x] }

func (t nchw) set(n, c, y, x int, v float32) { t.d[((n*t.c+c)*t.h+y)*t.w+x] = v }

func conv(x nchw, w []float32, b []float32, cout, k, stride, pad, groups int) nchw {
	oh := (x.h+2*pad-k)/stride + 1
	ow := (x.w+2*pad-k)/stride + 1
	o := newT(x.n, cout, oh, ow)
	cinG, coutG := x.c/groups, cout/groups
	for co := 0; co < cout; co++ {
		g := co / coutG
		for y := 0; y < oh; y++ {
			for xx := 0; xx < ow; xx++ {
				var acc float64
				if b != nil {
					acc = float64(b[co])
				}
				for ci := 0; ci < cinG; ci++ {
					for ky := 0; ky < k; ky++ {
						for kx := 0; kx < k; kx++ {
							iy, ix := y*stride-pad+ky, xx*stride-pad+kx
							if iy < 0 || iy >= x.h || ix < 0 || ix >= x.w {
								continue
							}
							acc += float64(x.at(0, g*cinG+ci, iy, ix)) * float64(w[((co*cinG+ci)*k+ky)*k+kx])
						}
					}
				}
				o.set(0, co, y, xx, float32(acc))
			}
		}
	}
	return o
}

func mapT(x nchw, f func(c int, v float32) float32) nchw {
	o := newT(x.n, x.c, x.h, x.w)
	for i, v := range x.d {
		o.d[i] = f((i/(x.h*x.w))%x.c, v)
	}
	return o
}

func sigmoid(v float32) float32 { return float32(1 / (1 + math.Exp(-float64(v)))) }

func pool(x nchw, k, stride, pad int, isMax bool) nchw {
	oh := (x.h+2*pad-k)/stride + 1
	ow := (x.w+2*pad-k)/stride + 1
	o := newT(x.n, x.c, oh, ow)
	for c := 0; c < x.c; c++ {
		for y := 0; y < oh; y++ {
			for xx := 0; xx < ow; xx++ {
				acc, cnt := float32(0), 0
				if isMax {
					acc = float32(math.Inf(-1))
				}
				for ky := 0; ky < k; ky++ {
					for kx := 0; kx < k; kx++ {
						iy, ix := y*stride-pad+ky, xx*stride-pad+kx
						if iy < 0 || iy >= x.h || ix < 0 || ix >= x.w {
							continue
						}
						v := x.at(0, c, iy, ix)
						if isMax {
							acc = max(acc, v)
						} else {
							acc += v
						}
						cnt++
					}
				}
				if !isMax {
					acc /= float32(cnt)
				}
				o.set(0, c, y, xx, acc)
			}
		}
	}
	return o
}

// Build returns the case for a seed (weights and input are pseudo-random).
func Build(seed uint64) Case {
	rng := rand.New(rand.NewPCG(seed, 7))
	rnd := func(n int, scale float32) []float32 {
		out := make([]float32, n)
		for i := range out {
			out[i] = (rng.Float32()*2 - 1) * scale
		}
		return out
	}
	x := newT(1, 4, 8, 8)
	copy(x.d, rnd(len(x.d), 2))
	w1, b1 := rnd(8*4*9, 0.5), rnd(8, 0.2)
	gamma, beta, mean := rnd(8, 0.5), rnd(8, 0.3), rnd(8, 0.3)
	variance := make([]float32, 8)
	for i := range variance {
		variance[i] = 0.5 + rng.Float32()
		gamma[i] += 1
	}
	wd, bd := rnd(8*9, 0.6), rnd(8, 0.1)
	wg := rnd(8*4, 0.5)
	wm, cm := rnd(10*784, 0.05), rnd(10, 0.1)

	// direct computation, NCHW
	c1 := conv(x, w1, b1, 8, 3, 1, 1, 1)
	bn := mapT(c1, func(c int, v float32) float32 {
		return (v-mean[c])/float32(math.Sqrt(float64(variance[c])+1e-5))*gamma[c] + beta[c]
	})
	r := mapT(bn, func(_ int, v float32) float32 { return max(v, 0) })
	dw := conv(r, wd, bd, 8, 3, 2, 1, 8)
	hs := mapT(dw, func(_ int, v float32) float32 { return v * min(max(v+3, 0), 6) / 6 })
	gp := conv(hs, wg, nil, 8, 1, 1, 0, 2)
	lr := mapT(gp, func(_ int, v float32) float32 {
		if v < 0 {
			return 0.1 * v
		}
		return v
	})
	se := make([]float32, 8)
	for c := 0; c < 8; c++ {
		var s float64
		for y := 0; y < 4; y++ {
			for xx := 0; xx < 4; xx++ {
				s += float64(lr.at(0, c, y, xx))
			}
		}
		se[c] = sigmoid(float32(s / 16))
	}
	m := mapT(lr, func(c int, v float32) float32 { return v * se[c] })
	ad := newT(1, 8, 4, 4)
	for i := range ad.d {
		ad.d[i] = m.d[i] + hs.d[i]
	}
	si := mapT(ad, func(_ int, v float32) float32 { return v * sigmoid(v) })
	mp := pool(si, 2, 2, 0, true)
	ap := pool(si, 3, 1, 1, false)
	up := newT(1, 8, 4, 4) // nearest ×2, asymmetric, floor
	for c := 0; c < 8; c++ {
		for y := 0; y < 4; y++ {
			for xx := 0; xx < 4; xx++ {
				up.set(0, c, y, xx, mp.at(0, c, y/2, xx/2))
			}
		}
	}
	cc := newT(1, 16, 4, 4)
	copy(cc.d[:8*16], ap.d)
	copy(cc.d[8*16:], up.d)
	rl := newT(1, 16, 6, 6) // bilinear to 6×6, half_pixel
	for c := 0; c < 16; c++ {
		for y := 0; y < 6; y++ {
			sy := math.Max((float64(y)+0.5)*4/6-0.5, 0)
			y0 := int(sy)
			y1 := min(y0+1, 3)
			fy := sy - float64(y0)
			for xx := 0; xx < 6; xx++ {
				sx := math.Max((float64(xx)+0.5)*4/6-0.5, 0)
				x0 := int(sx)
				x1 := min(x0+1, 3)
				fx := sx - float64(x0)
				v := float64(cc.at(0, c, y0, x0))*(1-fy)*(1-fx) + float64(cc.at(0, c, y0, x1))*(1-fy)*fx +
					float64(cc.at(0, c, y1, x0))*fy*(1-fx) + float64(cc.at(0, c, y1, x1))*fy*fx
				rl.set(0, c, y, xx, float32(v))
			}
		}
	}
	pd := newT(1, 16, 7, 7) // reflect pad: one row on top, one column on the right
	for c := 0; c < 16; c++ {
		for y := 0; y < 7; y++ {
			sy := y - 1
			if sy < 0 {
				sy = -sy
			}
			for xx := 0; xx < 7; xx++ {
				sx := xx
				if sx > 5 {
					sx = 10 - sx
				}
				pd.set(0, c, y, xx, rl.at(0, c, sy, sx))
			}
		}
	}
	cl := mapT(pd, func(_ int, v float32) float32 { return min(max(v, -1), 2) })
	fl := make([]float32, 784) // transpose to NHWC, flatten
	for y := 0; y < 7; y++ {
		for xx := 0; xx < 7; xx++ {
			for c := 0; c < 16; c++ {
				fl[(y*7+xx)*16+c] = cl.at(0, c, y, xx)
			}
		}
	}
	gm := make([]float64, 10)
	mx := math.Inf(-1)
	for j := 0; j < 10; j++ {
		acc := float64(cm[j])
		for k := 0; k < 784; k++ {
			acc += float64(fl[k]) * float64(wm[j*784+k])
		}
		gm[j] = acc
		mx = math.Max(mx, acc)
	}
	probs := make([]float32, 10)
	var sum float64
	for j := range gm {
		sum += math.Exp(gm[j] - mx)
	}
	for j := range gm {
		probs[j] = float32(math.Exp(gm[j]-mx) / sum)
	}

	// the ONNX model
	g := &onnxpb.GraphProto{Name: proto.String("onnxcase")}
	init := func(name string, dims []int64, d []float32) {
		g.Initializer = append(g.Initializer, &onnxpb.TensorProto{Name: proto.String(name), Dims: dims,
			DataType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)), FloatData: d})
	}
	initI := func(name string, d []int64) {
		g.Initializer = append(g.Initializer, &onnxpb.TensorProto{Name: proto.String(name), Dims: []int64{int64(len(d))},
			DataType: proto.Int32(int32(onnxpb.TensorProto_INT64)), Int64Data: d})
	}
	ints := func(name string, v ...int64) *onnxpb.AttributeProto {
		return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INTS.Enum(), Ints: v}
	}
	one := func(name string, v int64) *onnxpb.AttributeProto {
		return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_INT.Enum(), I: proto.Int64(v)}
	}
	flt := func(name string, v float32) *onnxpb.AttributeProto {
		return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_FLOAT.Enum(), F: proto.Float32(v)}
	}
	str := func(name, v string) *onnxpb.AttributeProto {
		return &onnxpb.AttributeProto{Name: proto.String(name), Type: onnxpb.AttributeProto_STRING.Enum(), S: []byte(v)}
	}
	node := func(op string, in, out []string, attrs ...*onnxpb.AttributeProto) {
		g.Node = append(g.Node, &onnxpb.NodeProto{OpType: proto.String(op), Name: proto.String(out[0] + "_node"), Input: in, Output: out, Attribute: attrs})
	}
	init("w1", []int64{8, 4, 3, 3}, w1)
	init("b1", []int64{8}, b1)
	init("gamma", []int64{8}, gamma)
	init("beta", []int64{8}, beta)
	init("mean", []int64{8}, mean)
	init("var", []int64{8}, variance)
	init("wd", []int64{8, 1, 3, 3}, wd)
	init("bd", []int64{8}, bd)
	init("wg", []int64{8, 4, 1, 1}, wg)
	init("wm", []int64{10, 784}, wm)
	init("cm", []int64{10}, cm)
	init("scales2", []int64{4}, []float32{1, 1, 2, 2})
	init("cmin", nil, []float32{-1})
	init("cmax", nil, []float32{2})
	initI("sizes6", []int64{1, 16, 6, 6})
	initI("pads", []int64{0, 0, 1, 0, 0, 0, 0, 1})

	node("Conv", []string{"x", "w1", "b1"}, []string{"c1"}, ints("pads", 1, 1, 1, 1), ints("kernel_shape", 3, 3))
	node("BatchNormalization", []string{"c1", "gamma", "beta", "mean", "var"}, []string{"bn"}, flt("epsilon", 1e-5))
	node("Relu", []string{"bn"}, []string{"r"})
	node("Conv", []string{"r", "wd", "bd"}, []string{"dw"}, ints("pads", 1, 1, 1, 1), ints("strides", 2, 2), one("group", 8))
	node("HardSwish", []string{"dw"}, []string{"hs"})
	node("Conv", []string{"hs", "wg"}, []string{"gp"}, one("group", 2))
	node("LeakyRelu", []string{"gp"}, []string{"lr"}, flt("alpha", 0.1))
	node("GlobalAveragePool", []string{"lr"}, []string{"gap"})
	node("Sigmoid", []string{"gap"}, []string{"sg"})
	node("Mul", []string{"lr", "sg"}, []string{"m"})
	node("Add", []string{"m", "hs"}, []string{"ad"})
	node("Sigmoid", []string{"ad"}, []string{"ads"})
	node("Mul", []string{"ad", "ads"}, []string{"si"})
	node("MaxPool", []string{"si"}, []string{"mp"}, ints("kernel_shape", 2, 2), ints("strides", 2, 2))
	node("AveragePool", []string{"si"}, []string{"ap"}, ints("kernel_shape", 3, 3), ints("pads", 1, 1, 1, 1))
	node("Resize", []string{"mp", "", "scales2"}, []string{"up"}, str("mode", "nearest"),
		str("coordinate_transformation_mode", "asymmetric"), str("nearest_mode", "floor"))
	node("Concat", []string{"ap", "up"}, []string{"cc"}, one("axis", 1))
	node("Resize", []string{"cc", "", "", "sizes6"}, []string{"features"}, str("mode", "linear"))
	node("Pad", []string{"features", "pads"}, []string{"pd"}, str("mode", "reflect"))
	node("Clip", []string{"pd", "cmin", "cmax"}, []string{"cl"})
	node("Transpose", []string{"cl"}, []string{"tr"}, ints("perm", 0, 2, 3, 1))
	node("Flatten", []string{"tr"}, []string{"fl"}, one("axis", 1))
	node("Gemm", []string{"fl", "wm", "cm"}, []string{"gm"}, one("transB", 1))
	node("Softmax", []string{"gm"}, []string{"probs"}, one("axis", -1))

	vi := func(name string, dims ...int64) *onnxpb.ValueInfoProto {
		var d []*onnxpb.TensorShapeProto_Dimension
		for _, v := range dims {
			d = append(d, &onnxpb.TensorShapeProto_Dimension{Value: &onnxpb.TensorShapeProto_Dimension_DimValue{DimValue: v}})
		}
		return &onnxpb.ValueInfoProto{Name: proto.String(name), Type: &onnxpb.TypeProto{Value: &onnxpb.TypeProto_TensorType{
			TensorType: &onnxpb.TypeProto_Tensor{ElemType: proto.Int32(int32(onnxpb.TensorProto_FLOAT)), Shape: &onnxpb.TensorShapeProto{Dim: d}}}}}
	}
	g.Input = []*onnxpb.ValueInfoProto{vi("x", 1, 4, 8, 8)}
	g.Output = []*onnxpb.ValueInfoProto{vi("probs", 1, 10), vi("features", 1, 16, 6, 6)}
	mp2 := &onnxpb.ModelProto{IrVersion: proto.Int64(8), ProducerName: proto.String("roadlog onnxcase"), Graph: g,
		OpsetImport: []*onnxpb.OperatorSetIdProto{{Domain: proto.String(""), Version: proto.Int64(14)}}}
	data, err := proto.Marshal(mp2)
	if err != nil { // marshalling a well-formed message in memory does not fail
		panic(err)
	}
	return Case{Model: data, Input: x.d, InputShape: []int{1, 4, 8, 8},
		Outputs: [][]float32{probs, rl.d}, OutputShapes: [][]int{{1, 10}, {1, 16, 6, 6}}, OutputNames: []string{"probs", "features"}}
}
