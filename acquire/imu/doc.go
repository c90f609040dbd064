// Package imu reads inertial sensors into imu.arrow rows (schema.IMU): acceleration
// (m/s²), angular rate (rad/s), temperature (°C) and magnetic field (µT) in the vehicle
// frame (x forward, y left, z up) after the rig's axis mapping.
//
// IIO reads a Linux Industrial I/O device in buffered mode — how the kernel drivers
// for BMI088, ICM-42688, LSM6DSx and friends deliver samples: it discovers the
// channels in scan_elements, honours each channel's storage format, scale and offset,
// uses the kernel's timestamp channel, sets the sampling frequency and buffer length,
// enables the buffer and reads /dev/iio:deviceN. The sysfs and /dev roots are
// configurable, so that the driver runs unchanged against a fake tree.
//
// VectorNav reads the ASCII output ($VNIMU, $VNYMR) of VectorNav sensors on a serial
// port, with either of their checksums.
package imu
