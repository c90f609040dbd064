// Package gnss reads NMEA 0183 from GNSS receivers — on a serial port, from a TCP
// server, as UDP datagrams, or through a gpsd daemon — and turns each navigation epoch
// into one schema.GNSS row of gnss.arrow.
//
// The path of every byte is the same for all transports:
//
//	bytes ─▶ Framer ─▶ Decoder ─▶ Merger ─▶ schema.GNSS rows
//
// The Framer is lenient: it finds sentences in a byte stream with partial lines, any
// CR/LF mix, doubled "$$" starts and binary noise between sentences, and caps every
// sentence at a documented length (Config.MaxLine). The Decoder checks the checksum,
// classifies what it cannot use (checksum error, truncated, proprietary, unknown
// type, malformed fields) and decodes the standard sentences with
// github.com/adrianmo/go-nmea, adding parsers where go-nmea v1.10.0 lacks them (GST)
// or gets them wrong (GSV with NMEA 4.10/4.11 signal IDs) and lenient fallbacks where
// real receivers bend the standard (GGA fix quality 7 and 8, RMC/GLL carrying junk
// positions while flagged invalid, GSA with a non-numeric trailing field). Nothing a
// receiver sends is fatal; everything is counted (Stats) and published periodically as
// an EvSourceStats event. The Merger groups the sentences of one epoch by their UTC
// time and fills one row.
//
// Sources: Serial, TCP, UDP and GPSD; each has exported configuration and a blocking
// Run(ctx, sink) that returns when ctx ends (nil) or the transport fails (an error; the
// recorder's supervisor restarts the source). The PPS line of a receiver is its own
// source, in package pps.
package gnss
