package sim

import (
	"bytes"
	"image/jpeg"
	"os"
	"testing"
)

func TestRenderShowsTheLeadCar(t *testing.T) {
	cams := Cameras(4, 320, 180)
	w := At(Actors(), 5)
	r := newRenderer(cams[0], 80)
	b := r.render(&w)
	img, err := jpeg.Decode(bytes.NewReader(b))
	if err != nil {
		t.Fatal(err)
	}
	if img.Bounds().Dx() != 320 || img.Bounds().Dy() != 180 {
		t.Fatalf("size %v", img.Bounds())
	}
	if dir := os.Getenv("ROADLOG_SIM_PNG"); dir != "" {
		os.WriteFile(dir+"/front.jpg", b, 0o644)
	}
	// The lead car (red) is straight ahead: the centre of its box is red.
	var lead *ActorState
	for i := range w.Actors {
		if w.Actors[i].ID == Events.LeadID {
			lead = &w.Actors[i]
		}
	}
	bx, _, ok := cams[0].actorBox(lead.X-(w.EgoX+EgoLength/2), lead.Y, lead.Length, lead.Width, lead.Height)
	if !ok {
		t.Fatal("lead car not visible in the front camera")
	}
	cr, cg, cb, _ := img.At(int((bx.x1+bx.x2)/2), int(bx.y1+0.7*(bx.y2-bx.y1))).RGBA()
	if cr>>8 < 150 || cg>>8 > 80 || cb>>8 > 80 {
		t.Fatalf("pixel inside the lead car's box is %d,%d,%d, not red", cr>>8, cg>>8, cb>>8)
	}
}
