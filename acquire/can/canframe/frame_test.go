package canframe

import (
	"bytes"
	"errors"
	"testing"

	"roadlog/schema"
)

func TestDLC(t *testing.T) {
	want := []uint8{0, 1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 20, 24, 32, 48, 64}
	for dlc, n := range want {
		if DLCToLen(uint8(dlc)) != n || LenToDLC(int(n)) != uint8(dlc) || !ValidFDLen(int(n)) {
			t.Errorf("dlc %d ↔ len %d", dlc, n)
		}
	}
	for _, n := range []int{9, 13, 33, 63, 65, -1} {
		if ValidFDLen(n) {
			t.Errorf("%d accepted as an FD length", n)
		}
	}
	if LenToDLC(9) != 9 || LenToDLC(49) != 15 || LenToDLC(100) != 15 {
		t.Error("LenToDLC rounding")
	}
}

func TestValidate(t *testing.T) {
	bad := []Frame{
		{ID: 0x800},
		{ID: 0x20000000, Flags: Extended},
		{ID: 1, Flags: FD, Len: 9},
		{ID: 1, Flags: FD | Remote},
		{ID: 1, Flags: BRS},
		{ID: 1, Len: 9},
		{ID: 1, Len: 7, DLC8: 9},
	}
	for _, f := range bad {
		if err := f.Validate(); !errors.Is(err, ErrInvalid) {
			t.Errorf("%+v: %v", f, err)
		}
	}
	good := Frame{ID: 0x1fffffff, Flags: Extended | FD | BRS, Len: 64}
	if err := good.Validate(); err != nil {
		t.Error(err)
	}
}

func TestRowRoundTrip(t *testing.T) {
	for _, f := range []Frame{
		{ID: 0x123, Len: 3, Data: [64]byte{1, 2, 3}},
		{ID: 0x7ff, Flags: Remote, Len: 5},
		{ID: 0x10, Len: 8, DLC8: 15, Data: [64]byte{1, 2, 3, 4, 5, 6, 7, 8}},
		{ID: 0x1abcdef, Flags: Extended | FD | ESI, Len: 20},
		{ID: 0x40, Flags: Error, Len: 8},
	} {
		var r schema.CAN
		f.ToRow(&r)
		if r.DLC != f.WireDLC() || !bytes.Equal(r.Data, f.Payload()) {
			t.Errorf("%+v → %+v", f, r)
		}
		var g Frame
		g.FromRow(&r)
		if g != f {
			t.Errorf("round trip %+v → %+v", f, g)
		}
	}
}
