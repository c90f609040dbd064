// Package sdnotify tells systemd about the daemon (sd_notify(3)): READY=1 once it
// serves, WATCHDOG=1 pings, STOPPING=1 when it shuts down. The protocol is one
// datagram per message to the socket named in $NOTIFY_SOCKET, so it is written here
// rather than pulling in go-systemd for it.
package sdnotify

import (
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"
	"time"
)

// Messages.
const (
	Ready    = "READY=1"
	Stopping = "STOPPING=1"
	Watchdog = "WATCHDOG=1"
)

// ErrBadWatchdog reports a WATCHDOG_USEC that is not a positive number.
var ErrBadWatchdog = errors.New("bad WATCHDOG_USEC")

// Notify sends state to systemd. It reports false (and no error) when the process
// was not started by systemd with a notify socket.
func Notify(state string) (bool, error) {
	name := os.Getenv("NOTIFY_SOCKET")
	if name == "" {
		return false, nil
	}
	if name[0] == '@' { // abstract socket
		name = "\x00" + name[1:]
	}
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: name, Net: "unixgram"})
	if err != nil {
		return false, fmt.Errorf("notify systemd: %w", err)
	}
	defer conn.Close()
	if _, err := conn.Write([]byte(state)); err != nil {
		return false, fmt.Errorf("notify systemd: %w", err)
	}
	return true, nil
}

// WatchdogInterval returns how often systemd expects WATCHDOG=1 (WATCHDOG_USEC, for
// this process when WATCHDOG_PID names one), or false when no watchdog is set.
func WatchdogInterval() (time.Duration, bool, error) {
	us := os.Getenv("WATCHDOG_USEC")
	if us == "" {
		return 0, false, nil
	}
	if pid := os.Getenv("WATCHDOG_PID"); pid != "" && pid != strconv.Itoa(os.Getpid()) {
		return 0, false, nil
	}
	n, err := strconv.ParseInt(us, 10, 64)
	if err != nil || n <= 0 {
		return 0, false, fmt.Errorf("%w: %q", ErrBadWatchdog, us)
	}
	return time.Duration(n) * time.Microsecond, true, nil
}
