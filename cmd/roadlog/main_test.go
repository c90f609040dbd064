package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// roadlogBin is the roadlog binary built once for the tests that run it as a child
// process (crash tests, exit codes).
var roadlogBin string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "roadlog-bin-")
	if err != nil {
		panic(err)
	}
	roadlogBin = filepath.Join(dir, "roadlog")
	if out, err := exec.Command("go", "build", "-o", roadlogBin, ".").CombinedOutput(); err != nil {
		os.Stderr.Write(out)
		panic(err)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}
