package imu

import (
	"errors"
	"testing"
)

// formatCases is the _type parser's case table: real strings from kernel drivers and
// broken ones. It seeds FuzzIIOFormat.
var formatCases = []struct {
	in   string
	want Format
	bad  bool
}{
	{in: "le:s16/16>>0", want: Format{Signed: true, Bits: 16, Storage: 16, Repeat: 1}},                  // bmi088, icm42600
	{in: "be:s16/16>>0", want: Format{BigEndian: true, Signed: true, Bits: 16, Storage: 16, Repeat: 1}}, // mpu6050
	{in: "be:u12/16>>4", want: Format{BigEndian: true, Bits: 12, Storage: 16, Shift: 4, Repeat: 1}},     // adxl345-like
	{in: "le:s12/16>>4", want: Format{Signed: true, Bits: 12, Storage: 16, Shift: 4, Repeat: 1}},
	{in: "le:s64/64>>0", want: Format{Signed: true, Bits: 64, Storage: 64, Repeat: 1}}, // timestamp
	{in: "le:s20/32>>0", want: Format{Signed: true, Bits: 20, Storage: 32, Repeat: 1}}, // icm42688 high-res
	{in: "le:u8/8>>0", want: Format{Bits: 8, Storage: 8, Repeat: 1}},
	{in: "le:s16/16X3>>0", want: Format{Signed: true, Bits: 16, Storage: 16, Repeat: 3}},
	{in: "le:s16/16>>0\n", want: Format{Signed: true, Bits: 16, Storage: 16, Repeat: 1}}, // as read from sysfs
	{in: "", bad: true},
	{in: "me:s16/16>>0", bad: true},
	{in: "le:x16/16>>0", bad: true},
	{in: "le:s16/12>>0", bad: true},
	{in: "le:s16/24>>0", bad: true},
	{in: "le:s12/16>>5", bad: true},
	{in: "le:s16/16", bad: true},
	{in: "le:s0/16>>0", bad: true},
	{in: "le:s16/16X0>>0", bad: true},
	{in: "le:s16/16>>-1", bad: true},
	{in: "le:", bad: true},
}

func TestParseFormat(t *testing.T) {
	for _, tc := range formatCases {
		f, err := ParseFormat(tc.in)
		if tc.bad {
			if !errors.Is(err, ErrFormat) {
				t.Errorf("%q: %+v %v, want ErrFormat", tc.in, f, err)
			}
			continue
		}
		if err != nil || f != tc.want {
			t.Errorf("%q: %+v %v, want %+v", tc.in, f, err, tc.want)
		}
		if g, err := ParseFormat(f.String()); err != nil || g != f {
			t.Errorf("%q: String %q does not parse back (%v)", tc.in, f.String(), err)
		}
	}
}

func TestFormatValue(t *testing.T) {
	for _, tc := range []struct {
		typ  string
		b    []byte
		want int64
	}{
		{"le:s16/16>>0", []byte{0xfe, 0xff}, -2},
		{"be:s16/16>>0", []byte{0xff, 0xfe}, -2},
		{"le:u16/16>>0", []byte{0xfe, 0xff}, 65534},
		{"be:u12/16>>4", []byte{0xab, 0xcd}, 0xabc},
		{"le:s12/16>>4", []byte{0x00, 0x80}, -2048},
		{"le:s12/16>>4", []byte{0xf0, 0x7f}, 2047},
		{"le:s20/32>>0", []byte{0xff, 0xff, 0x0f, 0xff}, -1}, // bits above 20 ignored
		{"le:s64/64>>0", []byte{1, 2, 3, 4, 5, 6, 7, 0x80}, -0x7ff8f9fafbfcfdff},
		{"be:u8/8>>0", []byte{200}, 200},
		{"le:s8/8>>0", []byte{200}, -56},
	} {
		f, err := ParseFormat(tc.typ)
		if err != nil {
			t.Fatal(err)
		}
		if got := f.Value(tc.b, 0); got != tc.want {
			t.Errorf("%s % x = %d, want %d", tc.typ, tc.b, got, tc.want)
		}
		b := make([]byte, len(tc.b))
		f.Put(b, 0, tc.want)
		if got := f.Value(b, 0); got != tc.want {
			t.Errorf("%s: Put(%d) reads back %d", tc.typ, tc.want, got)
		}
	}
}

// TestLayout checks record layouts against the kernel's iio_compute_scan_bytes.
func TestLayout(t *testing.T) {
	f := func(s string) Format { v, _ := ParseFormat(s); return v }
	l := computeLayout([]Channel{
		{Name: "in_timestamp", Index: 7, Format: f("le:s64/64>>0")},
		{Name: "in_accel_x", Index: 0, Format: f("le:s16/16>>0")},
		{Name: "in_accel_y", Index: 1, Format: f("le:s16/16>>0")},
		{Name: "in_accel_z", Index: 2, Format: f("le:s16/16>>0")},
	})
	want := map[string]int{"in_accel_x": 0, "in_accel_y": 2, "in_accel_z": 4, "in_timestamp": 8}
	for _, c := range l.Channels {
		if c.Offset != want[c.Name] {
			t.Errorf("%s at %d, want %d", c.Name, c.Offset, want[c.Name])
		}
	}
	if l.Size != 16 || l.Channels[0].Name != "in_accel_x" {
		t.Errorf("size %d, first %s", l.Size, l.Channels[0].Name)
	}
	l = computeLayout([]Channel{
		{Name: "in_temp", Index: 0, Format: f("le:s8/8>>0")},
		{Name: "in_accel_x", Index: 1, Format: f("le:s32/32>>0")},
		{Name: "in_anglvel_x", Index: 2, Format: f("le:s16/16>>0")},
	})
	if l.Channels[1].Offset != 4 || l.Channels[2].Offset != 8 || l.Size != 12 {
		t.Errorf("offsets %d %d, size %d; want 4 8 12", l.Channels[1].Offset, l.Channels[2].Offset, l.Size)
	}
}

// FuzzIIOFormat: ParseFormat never panics, what it accepts prints and parses back, and
// Put then Value is the identity on the format's range.
func FuzzIIOFormat(f *testing.F) {
	for _, tc := range formatCases {
		f.Add(tc.in, int64(-3))
	}
	f.Fuzz(func(t *testing.T, s string, v int64) {
		fm, err := ParseFormat(s)
		if err != nil {
			if !errors.Is(err, ErrFormat) {
				t.Fatalf("error %v is not ErrFormat", err)
			}
			return
		}
		if g, err := ParseFormat(fm.String()); err != nil || g != fm {
			t.Fatalf("%q → %+v → %q → %+v %v", s, fm, fm.String(), g, err)
		}
		if fm.Bits < 64 {
			v &= 1<<uint(fm.Bits) - 1
			if fm.Signed && v&(1<<uint(fm.Bits-1)) != 0 {
				v |= ^int64(0) << uint(fm.Bits)
			}
		}
		b := make([]byte, fm.Bytes())
		fm.Put(b, fm.Repeat-1, v)
		if got := fm.Value(b, fm.Repeat-1); got != v {
			t.Fatalf("%s: Put(%d) reads back %d", fm, v, got)
		}
	})
}
