// Package dbc parses CAN databases in Vector's DBC format and decodes frames with
// them.
//
// The parser starts from the grammar einride's go.einride.tech/can/pkg/dbc reads
// and accepts what real-world files need on top of it (every case below is seen in
// public DBC files):
//
//   - 29-bit message ids written without the 0x80000000 extended flag
//   - "//" comment lines, a UTF-8 byte-order mark, CRLF line endings
//   - Latin-1 (ISO 8859-1) text in strings and units, converted to UTF-8
//   - message, signal and node names that start with a digit ("2017_5")
//   - a statement's missing ';' at the end of its line
//   - numbers with a leading '+' ("+127") and exponents ("1.67772e+006")
//   - extended multiplexing: "m3M" signals and SG_MUL_VAL_ ranges
//   - comments written "CM_ SG_ <id> "…"" without the signal name, or "CM_ <id> "…""
//   - a bare "m" multiplexer indicator (read as "M" when SG_MUL_VAL_ or mN
//     signals show that the signal is the message's multiplexer)
//
// Each tolerated deviation is recorded in File.Warnings with its position. Real
// errors (a statement that cannot be read) are returned as an ErrorList of *Error,
// each with file, line, column and byte offset; the parser skips the statement and
// goes on, so the File it returns holds everything else.
//
// The parser is this package's own rather than a wrapper of einride's because
// einride's parser stops at the first deviation (it rejects 22 of the 86 files of
// the shared corpus) and its DBC-to-descriptor compiler is internal; its AST and
// decoder serve as the reference the tests compare against on every file it reads.
//
// Compile turns a File into a Database, the runtime decoder: little-endian
// (Intel) and big-endian (Motorola, DBC's sawtooth bit numbering) signals up to 64
// bits anywhere in a payload of up to 64 bytes (CAN FD), signed, IEEE float
// (SIG_VALTYPE_), scale and offset, simple and extended (cascaded, ranged)
// multiplexing, and value tables.
package dbc
