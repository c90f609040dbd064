package sdnotify

import (
	"net"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// TestNotify sends to a real datagram socket, as systemd listens on.
func TestNotify(t *testing.T) {
	sock := filepath.Join(t.TempDir(), "notify")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	t.Setenv("NOTIFY_SOCKET", sock)
	for _, msg := range []string{Ready, Watchdog, Stopping} {
		ok, err := Notify(msg)
		if !ok || err != nil {
			t.Fatalf("notify %s: %v %v", msg, ok, err)
		}
		buf := make([]byte, 64)
		conn.SetReadDeadline(time.Now().Add(5 * time.Second))
		n, err := conn.Read(buf)
		if err != nil || string(buf[:n]) != msg {
			t.Fatalf("systemd got %q, %v; want %q", buf[:n], err, msg)
		}
	}
	t.Setenv("NOTIFY_SOCKET", filepath.Join(t.TempDir(), "missing"))
	if ok, err := Notify(Ready); ok || err == nil {
		t.Fatal("notify to a missing socket succeeded")
	}
	t.Setenv("NOTIFY_SOCKET", "")
	if ok, err := Notify(Ready); ok || err != nil {
		t.Fatalf("without systemd: %v %v", ok, err)
	}
}

func TestWatchdogInterval(t *testing.T) {
	me := strconv.Itoa(os.Getpid())
	for _, c := range []struct {
		usec, pid string
		want      time.Duration
		on, err   bool
	}{
		{"", "", 0, false, false},
		{"10000000", "", 10 * time.Second, true, false},
		{"10000000", me, 10 * time.Second, true, false},
		{"10000000", "1", 0, false, false},
		{"ten", "", 0, false, true},
		{"-5", "", 0, false, true},
	} {
		t.Setenv("WATCHDOG_USEC", c.usec)
		t.Setenv("WATCHDOG_PID", c.pid)
		d, on, err := WatchdogInterval()
		if d != c.want || on != c.on || (err != nil) != c.err {
			t.Errorf("WATCHDOG_USEC=%q WATCHDOG_PID=%q: %v %v %v", c.usec, c.pid, d, on, err)
		}
	}
}
