package main

import (
	"context"
	"flag"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/chromedp/chromedp"

	"roadlog/record/drive"
)

var screenshot = flag.String("screenshot", "", "write a PNG of the served page (1280x800, recording) to this file, e.g. ../../docs/serve.png")

// TestServePageInChromium runs roadlog serve --sim (truth-fed detector, reference
// clock, CAN button: the whole daemon) and drives its page in headless Chromium:
// the page shows every sensor and the detections on the thumbnails, Start records,
// and the drive verifies after the daemon stops.
func TestServePageInChromium(t *testing.T) {
	var path string
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			path = p
			break
		}
	}
	if path == "" {
		t.Skip("chromium is not installed (apt-get install -y chromium): the served page is not tested in a browser")
	}
	ctx, cancelDaemon := context.WithCancel(context.Background())
	out := t.TempDir()
	url, done, stderr := daemon(t, ctx, "--out", out, "--camera-size", "320x180")
	actx, cancelAlloc := chromedp.NewExecAllocator(context.Background(), chromedp.ExecPath(path),
		chromedp.Flag("headless", true), chromedp.NoSandbox, chromedp.DisableGPU, chromedp.Flag("disable-quic", true),
		chromedp.NoFirstRun, chromedp.Flag("disable-background-networking", true), chromedp.Flag("disable-component-update", true),
		chromedp.Flag("disable-sync", true), chromedp.Flag("disable-dev-shm-usage", true), chromedp.UserDataDir(t.TempDir()),
		chromedp.WindowSize(1280, 800))
	defer cancelAlloc()
	bctx, cancelBrowser := chromedp.NewContext(actx)
	defer cancelBrowser()
	bctx, cancelTimeout := context.WithTimeout(bctx, 90*time.Second)
	defer cancelTimeout()
	until := func(js string) chromedp.Action[chromedp.Void] {
		return chromedp.Poll[chromedp.Void](js, chromedp.WithPollingInterval(50*time.Millisecond), chromedp.WithPollingTimeout(30*time.Second))
	}
	run := func(what string, a ...chromedp.Action[chromedp.Void]) {
		t.Helper()
		if err := chromedp.Do(bctx, a...); err != nil {
			txt, _ := chromedp.Run(bctx, chromedp.Evaluate[string](`document.body.innerText`))
			t.Fatalf("%s: %v\npage text:\n%s", what, err, txt)
		}
	}
	run("load", chromedp.EmulateViewport(1280, 800), chromedp.Navigate(url+"/"),
		until(`document.querySelector("#state").textContent === "IDLE"`),
		until(`document.querySelectorAll("#sensors tbody tr").length >= 10`),
		until(`[...document.querySelectorAll("#cameras figcaption")].some(c => c.textContent.includes("detection"))`))
	run("start", until(`!document.querySelector("#startstop").disabled`), chromedp.Click(chromedp.CSS("#startstop")),
		until(`document.querySelector("#state").textContent === "RECORDING"`),
		until(`document.querySelector("#elapsed").textContent >= "00:00:02"`))
	if *screenshot != "" {
		png, err := chromedp.Run(bctx, chromedp.CaptureScreenshot())
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(*screenshot, png, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	dir, err := chromedp.Run(bctx, chromedp.Evaluate[string](`document.querySelector("#drive-id").textContent.split(" ")[0]`))
	if err != nil {
		t.Fatal(err)
	}
	cancelDaemon() // as SIGTERM does: the drive is closed before the daemon exits
	if err := <-done; err != nil {
		t.Fatalf("serve: %v\n%s", err, stderr)
	}
	drives, _ := os.ReadDir(out)
	if len(drives) != 1 || drives[0].Name() != dir {
		t.Fatalf("drives %v, the page showed %q", drives, dir)
	}
	rep, err := drive.Verify(filepath.Join(out, dir))
	if err != nil || !rep.OK() || rep.Rows["objects"] == 0 {
		if rep != nil {
			rep.Print(os.Stderr)
		}
		t.Fatalf("the drive recorded from the page: %v", err)
	}
}
