package control

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"roadlog/schema"
)

var screenshot = flag.String("screenshot", "", "write a PNG of the page (1280x800, recording) to this file, e.g. ../../docs/serve.png")

// chromium returns Debian's chromium, or skips.
func chromium(t *testing.T) string {
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("chromium is not installed (apt-get install -y chromium): the page is not tested in a browser")
	return ""
}

// browser starts a headless Chromium with no network beyond the page it is given.
func browser(t *testing.T) (context.Context, context.CancelFunc) {
	path := chromium(t)
	opts := []chromedp.ExecAllocatorOption{
		chromedp.ExecPath(path),
		chromedp.Flag("headless", true),
		chromedp.NoSandbox,
		chromedp.DisableGPU,
		chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun,
		chromedp.Flag("disable-background-networking", true),
		chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true),
		chromedp.Flag("disable-dev-shm-usage", true),
		chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800),
	}
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), opts...)
	ctx, cancelCtx := chromedp.NewContext(actx)
	ctx, cancelTimeout := context.WithTimeout(ctx, 90*time.Second)
	return ctx, func() { cancelTimeout(); cancelCtx(); cancelAlloc() }
}

// until waits for a JavaScript condition on the page.
func until(js string) chromedp.Action[chromedp.Void] {
	return chromedp.Poll[chromedp.Void](js, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(30*time.Second))
}

func textIs(sel, want string) chromedp.Action[chromedp.Void] {
	return until(fmt.Sprintf(`document.querySelector(%q).textContent === %q`, sel, want))
}

// press waits until the page takes presses again (its debounce ignores a press that
// comes too soon after the last one, and any while a request is in flight), presses
// sel once, and waits for cond.
func press(sel, cond string) chromedp.Action[chromedp.Void] {
	return chromedp.Steps(
		until(`!busy && Date.now() - lastPress > PRESS_GUARD_MS && Date.now() - confirmShownAt > CONFIRM_ARM_MS`),
		chromedp.Click(chromedp.CSS(sel)),
		until(cond))
}

// TestPageInChromium drives the page in a real browser against the daemon recording
// the simulated rig: load, Start, watch the status, Mark with a note, Stop (confirmed),
// and verify the drive and its events.
func TestPageInChromium(t *testing.T) {
	ctx, cancel := browser(t)
	defer cancel()
	st := newStation(t, stationConfig{cameras: 4, clock: true})

	run := func(what string, a ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(ctx, a...); err != nil {
			txt, _ := chromedp.Run(ctx, chromedp.Evaluate[string](`document.body.innerText`))
			t.Fatalf("%s: %v\npage text:\n%s", what, err, txt)
		}
	}
	run("load the page", chromedp.EmulateViewport(1280, 800), chromedp.Navigate(st.hs.URL), textIs("#state", "IDLE"),
		until(`document.querySelectorAll("#sensors tbody tr").length >= 8`),
		until(`document.querySelectorAll(".mark").length === 4 && document.querySelector(".mark").disabled`))

	// a press starts recording; a second, accidental press right after does not stop it
	// (two clicks in one go, as a bouncing finger makes them)
	run("start", until(`!document.querySelector("#startstop").disabled`),
		chromedp.Evaluate[chromedp.Void](`(() => { const b = document.querySelector("#startstop"); b.click(); b.click(); })()`))
	run("see recording", textIs("#state", "RECORDING"), textIs("#startstop", "STOP RECORDING"),
		until(`document.querySelector("#drive-id").textContent.includes("_test")`),
		until(`document.querySelector("#confirm").hidden`))
	d := st.eng.Current()
	if d == nil {
		t.Fatal("the page says recording, the engine does not")
	}
	run("see the elapsed time run", until(`document.querySelector("#elapsed").textContent >= "00:00:01"`))

	run("type a note", chromedp.SendKeys(chromedp.CSS("#note"), "truck drifting into our lane"))
	run("mark", press(`.mark[data-category="cut_in"]`, `document.querySelector("#toast").textContent.startsWith("Marked: cut in")`))
	run("note cleared", until(`document.querySelector("#note").value === ""`))

	if *screenshot != "" {
		run("thumbnails", until(`[...document.querySelectorAll("#cameras figcaption")].length === 4`),
			chromedp.Sleep(1500*time.Millisecond)) // let every thumbnail arrive once more
		png, err := chromedp.Run(ctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(*screenshot, png, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// Stop asks first: "keep recording" keeps it, "yes, stop" stops it.
	run("ask to stop", press("#startstop", `!document.querySelector("#confirm").hidden`))
	run("keep recording", chromedp.Click(chromedp.CSS("#confirm-cancel")), until(`document.querySelector("#confirm").hidden`))
	if st.eng.Current() != d {
		t.Fatal("cancelling the stop dialog stopped the drive")
	}
	run("ask to stop again", press("#startstop", `!document.querySelector("#confirm").hidden`))
	run("confirm", press("#confirm-stop", `document.querySelector("#confirm").hidden`))
	run("see idle", textIs("#state", "IDLE"), until(`document.querySelector("#toast").textContent.startsWith("Stopped: ")`))

	<-d.Done()
	sum := d.Summary()
	verifyDrive(t, sum.Dir)
	var got []string
	for _, e := range driveEvents(t, sum.Dir) {
		switch e.Code {
		case schema.EvRecordStart, schema.EvRecordStop, schema.EvMark:
			got = append(got, e.Kind+"/"+e.Input+"/"+e.Category+"/"+e.Message)
		}
	}
	want := []string{"record_start/web//recording started", "mark/web/cut_in/truck drifting into our lane",
		"record_stop/web//recording stopped: stopped by the driver (web)"}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("events:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}
