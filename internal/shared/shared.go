// Package shared finds the team's shared corpus (../shared beside the repository:
// real-world test data, the default model, peer baselines) for tests and benchmarks.
package shared

import (
	"image"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// Dir returns the shared folder, or "" when it is absent. ROADLOG_SHARED overrides.
func Dir() string {
	if d := os.Getenv("ROADLOG_SHARED"); d != "" {
		return d
	}
	wd, err := os.Getwd()
	if err != nil {
		return ""
	}
	for d := wd; ; d = filepath.Dir(d) {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			s := filepath.Join(d, "..", "shared")
			if st, err := os.Stat(s); err == nil && st.IsDir() {
				return filepath.Clean(s)
			}
			// a git worktree elsewhere: fall back to the main checkout's neighbour
			if st, err := os.Stat("/work/shared"); err == nil && st.IsDir() {
				return "/work/shared"
			}
			return ""
		}
		if filepath.Dir(d) == d {
			return ""
		}
	}
}

// Path returns the path of rel inside the shared folder, skipping the test (or
// benchmark) with a clear message when the folder or the file is absent.
func Path(tb testing.TB, rel string) string {
	tb.Helper()
	d := Dir()
	if d == "" {
		tb.Skip("shared corpus ../shared is absent (set ROADLOG_SHARED); skipping test that needs " + rel)
	}
	p := filepath.Join(d, rel)
	if _, err := os.Stat(p); err != nil {
		tb.Skipf("shared corpus file %s is absent: %v", p, err)
	}
	return p
}

// DashcamClip is the shared corpus's dash-cam video (Udacity, 960×540 at 25 fps).
const DashcamClip = "testdata/images/video/udacity_lanes_solidWhiteRight.mp4"

// VideoFrames decodes the first n frames of the shared video rel, w×h, with ffmpeg,
// skipping the test when the video or ffmpeg is absent (make test installs it).
func VideoFrames(tb testing.TB, rel string, n, w, h int) []*image.RGBA {
	tb.Helper()
	clip := Path(tb, rel)
	ff, err := exec.LookPath("ffmpeg")
	if err != nil {
		tb.Skip("ffmpeg not installed (make test installs it)")
	}
	out, err := exec.Command(ff, "-loglevel", "error", "-i", clip, "-frames:v", strconv.Itoa(n), "-f", "rawvideo", "-pix_fmt", "rgba", "-").Output()
	if err != nil {
		tb.Fatalf("ffmpeg %s: %v", rel, err)
	}
	if len(out) != w*h*4*n {
		tb.Fatalf("ffmpeg gave %d bytes of %s, want %d frames of %d×%d", len(out), rel, n, w, h)
	}
	frames := make([]*image.RGBA, n)
	for i := range frames {
		frames[i] = &image.RGBA{Pix: out[i*w*h*4 : (i+1)*w*h*4], Stride: 4 * w, Rect: image.Rect(0, 0, w, h)}
	}
	return frames
}
