//go:build !linux

package pps

func open(path string) (device, error) { return nil, ErrUnsupported }
