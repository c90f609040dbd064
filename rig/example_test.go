package rig_test

import (
	"errors"
	"fmt"

	"roadlog/rig"
)

func ExampleParse() {
	r, err := rig.Parse([]byte(`vehicle: testcar7
gnss:
  - name: ublox
    kind: serial
    port: /dev/ttyACM0
    pps: /dev/pps0
imu:
  - kind: iio
    device: bmi088_accel
    axes: {x: y, y: -x, z: z}
`), "rig.yaml")
	if err != nil {
		fmt.Println(err)
		return
	}
	m, _ := r.IMU[0].Axes.Map()
	fmt.Println(r.Vehicle, r.GNSS[0].Name, r.GNSS[0].Baud, r.IMU[0].Name, m.Apply([3]float32{1, 2, 3}), r.Recorder.Segment)
	// Output: testcar7 ublox 9600 imu0 [2 -1 3] 1m0s
}

func ExampleError() {
	_, err := rig.Parse([]byte(`vehicle: testcar7
gnss:
  - kind: serial
    port: /dev/ttyACM0
    bauds: 115200
`), "rig.yaml")
	var e *rig.Error
	if errors.As(err, &e) && errors.Is(e, rig.ErrUnknownKey) {
		fmt.Printf("%s line %d: %s\n", e.File, e.Line, e.Key)
	}
	fmt.Println(err)
	// Output:
	// rig.yaml line 5: gnss[0].bauds
	// rig.yaml:5:5: gnss[0].bauds: unknown key (known keys: name, kind, port, baud, url, pps, raw, max_line)
}
