package camera

import (
	"slices"
	"testing"

	"roadlog/rig"
)

// TestRigEncoders: the encoder kinds a rig file may name (rig keeps its own list, since
// it imports no acquire package) are this package's, all but EncCommand, whose argv a
// rig file cannot give.
func TestRigEncoders(t *testing.T) {
	want := []string{EncX264, EncNVENC, EncNVENCH, EncJetson, EncJetson4, EncMJPEG}
	got := rig.CameraEncoders()
	slices.Sort(want)
	slices.Sort(got)
	if !slices.Equal(got, want) {
		t.Errorf("rig.CameraEncoders() = %v, want %v", got, want)
	}
}
