package imu

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
)

// Errors of IIO discovery.
var (
	ErrNoDevice   = errors.New("no such iio device")
	ErrNoChannels = errors.New("iio device has no accelerometer or gyroscope scan elements")
	ErrSysfs      = errors.New("bad iio sysfs attribute")
)

// role is what a channel measures.
type role uint8

const (
	roleOther role = iota // a channel enabled by someone else: kept in the layout, not read
	roleAccel             // m/s²
	roleGyro              // rad/s (IIO "anglvel")
	roleMagn              // gauss
	roleTemp              // milli °C
	roleTime              // ns
)

// Channel is one enabled scan element of an IIO buffer.
type Channel struct {
	Name      string  // scan element, e.g. "in_accel_x"
	Index     int     // scan index: the order in a record
	Format    Format  // storage
	Offset    int     // byte offset in a record
	Scale     float64 // value = (raw + RawOffset) × Scale, in IIO units
	RawOffset float64
	role      role
	axis      int // 0–2 for x, y, z
}

// Layout is the record layout of an IIO buffer: the enabled channels in scan order and
// the record size, computed as the kernel's iio_compute_scan_bytes does.
type Layout struct {
	Channels []Channel
	Size     int
}

// channelRole classifies a scan element by name.
func channelRole(name string) (role, int) {
	axis := func(s string) int { return strings.IndexByte("xyz", s[len(s)-1]) }
	switch {
	case name == "in_timestamp":
		return roleTime, 0
	case name == "in_temp":
		return roleTemp, 0
	case len(name) == len("in_accel_x") && strings.HasPrefix(name, "in_accel_") && axis(name) >= 0:
		return roleAccel, axis(name)
	case len(name) == len("in_anglvel_x") && strings.HasPrefix(name, "in_anglvel_") && axis(name) >= 0:
		return roleGyro, axis(name)
	case len(name) == len("in_magn_x") && strings.HasPrefix(name, "in_magn_") && axis(name) >= 0:
		return roleMagn, axis(name)
	}
	return roleOther, 0
}

// computeLayout orders the channels by scan index and places each at the next offset
// aligned to its own size; the record is padded to the largest channel.
func computeLayout(chs []Channel) Layout {
	slices.SortFunc(chs, func(a, b Channel) int { return a.Index - b.Index })
	off, largest := 0, 1
	for i := range chs {
		n := chs[i].Format.Bytes()
		off = alignUp(off, n)
		chs[i].Offset = off
		off += n
		largest = max(largest, n)
	}
	return Layout{Channels: chs, Size: alignUp(off, largest)}
}

func alignUp(n, a int) int {
	if a <= 1 {
		return n
	}
	return (n + a - 1) / a * a
}

// sysfs reads and writes the attributes of one IIO device.
type sysfs struct{ dir string }

func (s sysfs) path(name string) string { return filepath.Join(s.dir, name) }

func (s sysfs) read(name string) (string, error) {
	b, err := os.ReadFile(s.path(name))
	if err != nil {
		return "", err
	}
	return strings.TrimSpace(string(b)), nil
}

func (s sysfs) exists(name string) bool {
	_, err := os.Stat(s.path(name))
	return err == nil
}

func (s sysfs) write(name, value string) error {
	f, err := os.OpenFile(s.path(name), os.O_WRONLY|os.O_TRUNC, 0)
	if err != nil {
		return fmt.Errorf("set iio %s: %w", name, err)
	}
	_, err = f.WriteString(value + "\n")
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("set iio %s to %s: %w", name, value, err)
	}
	return nil
}

func (s sysfs) int(name string) (int, error) {
	v, err := s.read(name)
	if err != nil {
		return 0, err
	}
	n, err := strconv.Atoi(v)
	if err != nil {
		return 0, fmt.Errorf("%w: %s = %q", ErrSysfs, name, v)
	}
	return n, nil
}

// float reads the first attribute of names that exists; ok is false when none does.
func (s sysfs) float(names ...string) (v float64, ok bool, err error) {
	for _, n := range names {
		t, err := s.read(n)
		if errors.Is(err, os.ErrNotExist) {
			continue
		}
		if err != nil {
			return 0, false, err
		}
		v, err := strconv.ParseFloat(t, 64)
		if err != nil {
			return 0, false, fmt.Errorf("%w: %s = %q", ErrSysfs, n, t)
		}
		return v, true, nil
	}
	return 0, false, nil
}

// scanElements lists the scan elements of the device (names without _en).
func (s sysfs) scanElements() ([]string, error) {
	ents, err := os.ReadDir(s.path("scan_elements"))
	if err != nil {
		return nil, fmt.Errorf("list iio scan elements: %w", err)
	}
	var out []string
	for _, e := range ents {
		if n, ok := strings.CutSuffix(e.Name(), "_en"); ok {
			out = append(out, n)
		}
	}
	return out, nil
}

// discover enables the channels an IMU needs and returns the layout of every enabled
// channel (channels others enabled stay, and are skipped when reading).
func (s sysfs) discover() (Layout, error) {
	names, err := s.scanElements()
	if err != nil {
		return Layout{}, err
	}
	var chs []Channel
	motion := false
	for _, n := range names {
		r, ax := channelRole(n)
		if r != roleOther {
			if err := s.write("scan_elements/"+n+"_en", "1"); err != nil {
				return Layout{}, err
			}
		}
		en, err := s.int("scan_elements/" + n + "_en")
		if err != nil {
			return Layout{}, fmt.Errorf("read iio %s_en: %w", n, err)
		}
		if en == 0 {
			continue
		}
		c := Channel{Name: n, role: r, axis: ax, Scale: 1}
		if c.Index, err = s.int("scan_elements/" + n + "_index"); err != nil {
			return Layout{}, fmt.Errorf("read iio %s_index: %w", n, err)
		}
		t, err := s.read("scan_elements/" + n + "_type")
		if err != nil {
			return Layout{}, fmt.Errorf("read iio %s_type: %w", n, err)
		}
		if c.Format, err = ParseFormat(t); err != nil {
			return Layout{}, fmt.Errorf("read iio %s_type: %w", n, err)
		}
		typ := n
		if r == roleAccel || r == roleGyro || r == roleMagn {
			typ = n[:len(n)-2] // in_accel_x → in_accel, whose scale all axes share
		}
		if v, ok, err := s.float(n+"_scale", typ+"_scale"); err != nil {
			return Layout{}, err
		} else if ok {
			c.Scale = v
		}
		if v, ok, err := s.float(n+"_offset", typ+"_offset"); err != nil {
			return Layout{}, err
		} else if ok {
			c.RawOffset = v
		}
		motion = motion || r == roleAccel || r == roleGyro
		chs = append(chs, c)
	}
	if !motion {
		return Layout{}, fmt.Errorf("%w (%s)", ErrNoChannels, s.dir)
	}
	return computeLayout(chs), nil
}

// resolveIIO finds a device's sysfs folder and its /dev node: device is
// "iio:deviceN", a path under the sysfs root, or the driver's name.
func resolveIIO(root, devDir, device string) (dir, node string, err error) {
	switch {
	case strings.HasPrefix(device, "iio:device"):
		dir = filepath.Join(root, device)
	case strings.HasPrefix(device, "/"):
		dir = device
	default:
		ents, err := os.ReadDir(root)
		if err != nil {
			return "", "", fmt.Errorf("list iio devices: %w", err)
		}
		for _, e := range ents {
			name, err := os.ReadFile(filepath.Join(root, e.Name(), "name"))
			if err == nil && strings.TrimSpace(string(name)) == device {
				dir = filepath.Join(root, e.Name())
				break
			}
		}
		if dir == "" {
			return "", "", fmt.Errorf("%w: none is named %q under %s", ErrNoDevice, device, root)
		}
	}
	if _, err := os.Stat(filepath.Join(dir, "scan_elements")); err != nil {
		return "", "", fmt.Errorf("%w: %s has no scan_elements: %w", ErrNoDevice, dir, err)
	}
	return dir, filepath.Join(devDir, filepath.Base(dir)), nil
}
