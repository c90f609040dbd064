// Package candump reads and writes the text logs of can-utils' candump.
//
// Two layouts exist and both are read:
//
//	(1502984866.421964) slcan0 09F112CC#FF725AFF7FFF7FFD     log form (candump -l / -L)
//	  can0  09F8027F   [8]  00 FC FF FF 00 00 FF FF          console form (candump)
//
// The frame part of the log form follows can-utils lib.h: 3 hex digits for an
// 11-bit identifier, 8 for a 29-bit one (an error frame when CAN_ERR_FLAG
// 0x20000000 is set), "#R" or "#R<len>" for a remote frame, "##<flags>" for CAN FD,
// an optional "_<dlc>" after 8 data bytes for a raw DLC of 9–15, and candump -x's
// " T" / " R" (sent / received) after the frame. Comment lines ("#…") and blank lines
// are kept.
//
// A Line holds everything a line says, including its layout (digits of the
// timestamp, spacing of the console form, line ending), so that AppendLine writes
// back exactly the bytes that were read. Lines that do not parse are reported as a
// *SyntaxError with line, column and byte offset; a Reader carries on after them.
package candump
