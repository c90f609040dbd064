// Package duckdb runs SQL in DuckDB (the @duckdb/node-api npm package, under node) for
// tests that check the tools' Parquet, CSV and JSON output with an independent reader.
// The package is installed once into <repo>/.cache/duckdb; tests skip when node or npm
// is missing or the install fails.
package duckdb

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
)

// Version is the @duckdb/node-api version installed.
const Version = "1.5.6-r.1"

const script = `import { DuckDBInstance } from '@duckdb/node-api';
const db = await DuckDBInstance.create(':memory:');
const c = await db.connect();
const out = [];
for (const q of JSON.parse(process.argv[2])) {
  const r = await c.runAndReadAll(q);
  out.push(r.getRowObjectsJson());
}
process.stdout.write(JSON.stringify(out));
`

var (
	once    sync.Once
	dir     string
	skipMsg string
)

func install() {
	root, err := moduleRoot()
	if err != nil {
		skipMsg = err.Error()
		return
	}
	if _, err := exec.LookPath("node"); err != nil {
		skipMsg = "node is not installed"
		return
	}
	d := filepath.Join(root, ".cache", "duckdb")
	// Test binaries of several packages run at once and may all find the package
	// missing: one installs while the others wait, so that none runs DuckDB from a
	// node_modules another npm is rewriting (which ended in SIGBUS).
	if err := os.MkdirAll(filepath.Dir(d), 0o755); err != nil {
		skipMsg = err.Error()
		return
	}
	lock, err := os.OpenFile(d+".lock", os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		skipMsg = err.Error()
		return
	}
	defer lock.Close()
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX); err != nil {
		skipMsg = "lock the DuckDB install: " + err.Error()
		return
	}
	defer syscall.Flock(int(lock.Fd()), syscall.LOCK_UN)
	if _, err := os.Stat(filepath.Join(d, "node_modules", "@duckdb", "node-api", "package.json")); err != nil {
		npm, err := exec.LookPath("npm")
		if err != nil {
			skipMsg = "npm is not installed"
			return
		}
		if err := os.MkdirAll(d, 0o755); err != nil {
			skipMsg = err.Error()
			return
		}
		pkg := fmt.Sprintf(`{"name":"roadlog-duckdb-check","private":true,"type":"module","dependencies":{"@duckdb/node-api":"%s"}}`, Version)
		if err := os.WriteFile(filepath.Join(d, "package.json"), []byte(pkg), 0o644); err != nil {
			skipMsg = err.Error()
			return
		}
		cmd := exec.Command(npm, "install", "--no-audit", "--no-fund", "--silent")
		cmd.Dir = d
		if out, err := cmd.CombinedOutput(); err != nil {
			skipMsg = fmt.Sprintf("npm install @duckdb/node-api@%s failed: %v: %s", Version, err, out)
			return
		}
	}
	// written aside and renamed: another package's test may be running the old one
	tmp := filepath.Join(d, fmt.Sprintf("query.mjs.%d", os.Getpid()))
	if err := os.WriteFile(tmp, []byte(script), 0o644); err != nil {
		skipMsg = err.Error()
		return
	}
	if err := os.Rename(tmp, filepath.Join(d, "query.mjs")); err != nil {
		skipMsg = err.Error()
		return
	}
	dir = d
}

// Query runs each statement in one DuckDB session and returns each one's rows (values
// as DuckDB's JSON conversion gives them: big integers and timestamps as strings). It
// skips the test when DuckDB cannot be run here.
func Query(tb testing.TB, sql ...string) [][]map[string]any {
	tb.Helper()
	once.Do(install)
	if dir == "" {
		tb.Skip("DuckDB check skipped: " + skipMsg)
	}
	arg, err := json.Marshal(sql)
	if err != nil {
		tb.Fatal(err)
	}
	cmd := exec.Command("node", filepath.Join(dir, "query.mjs"), string(arg))
	cmd.Dir = dir
	var out, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		tb.Fatalf("duckdb: %v: %s", err, stderr.String())
	}
	var res [][]map[string]any
	if err := json.Unmarshal(out.Bytes(), &res); err != nil {
		tb.Fatalf("duckdb output: %v", err)
	}
	return res
}

func moduleRoot() (string, error) {
	d, err := os.Getwd()
	if err != nil {
		return "", err
	}
	for {
		if _, err := os.Stat(filepath.Join(d, "go.mod")); err == nil {
			return d, nil
		}
		p := filepath.Dir(d)
		if p == d {
			return "", errors.New("go.mod not found")
		}
		d = p
	}
}
