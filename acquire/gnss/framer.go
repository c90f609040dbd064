package gnss

// DefaultMaxLine is the longest sentence, in bytes from '$' to the last checksum digit,
// that the Framer accepts when its MaxLine is 0. NMEA 0183 allows 82; proprietary
// sentences of real receivers reach about 200 (MediaTek PMTKCHN: 203).
const DefaultMaxLine = 512

// Cut says how the Framer ended a sentence.
type Cut uint8

// Ways a sentence ends. Every Cut other than CutNone means the sentence is incomplete.
const (
	CutNone     Cut = 0 // ended by CR or LF (or by the end of a datagram)
	CutRestart  Cut = 1 // a new '$' began before the line ended
	CutBinary   Cut = 2 // a byte outside printable ASCII arrived inside the sentence
	CutOverlong Cut = 3 // longer than MaxLine; the rest of the line is dropped
	CutEOF      Cut = 4 // the input ended inside the sentence
)

// FramerStats accounts for every byte fed to a Framer:
// Bytes = SentenceBytes + Terminators + Noise + Skipped.
type FramerStats struct {
	Bytes         int64 // bytes fed
	Sentences     int64 // sentences emitted, whatever their Cut
	SentenceBytes int64 // bytes inside emitted sentences
	Terminators   int64 // CR and LF bytes
	Noise         int64 // bytes outside any sentence: binary noise, text, tag blocks, a doubled '$'
	Skipped       int64 // bytes dropped after an over-long sentence was cut
	DoubledStarts int64 // "$$" starts seen (one '$' counted as noise)
}

type framerState uint8

const (
	hunting framerState = iota // looking for '$' or '!'
	inSentence
	skipping // dropping the rest of an over-long line
)

// Framer splits a byte stream into NMEA sentence candidates. It never fails and never
// grows beyond MaxLine bytes of buffer. The zero value is ready to use.
type Framer struct {
	MaxLine int // longest sentence accepted (0: DefaultMaxLine)

	buf   []byte
	state framerState
	stats FramerStats
}

// Stats returns the byte accounting so far.
func (f *Framer) Stats() FramerStats { return f.stats }

func (f *Framer) maxLine() int {
	if f.MaxLine > 0 {
		return f.MaxLine
	}
	return DefaultMaxLine
}

// Feed frames p. For each sentence it completes, it calls emit with the sentence's
// bytes (from '$' or '!' up to, not including, the line end; valid only during the
// call) and how it ended.
func (f *Framer) Feed(p []byte, emit func(line []byte, cut Cut)) {
	f.stats.Bytes += int64(len(p))
	max := f.maxLine()
	for _, c := range p {
		switch f.state {
		case hunting:
			switch {
			case c == '$' || c == '!':
				f.buf = append(f.buf[:0], c)
				f.state = inSentence
			case c == '\r' || c == '\n':
				f.stats.Terminators++
			default:
				f.stats.Noise++
			}
		case skipping:
			switch {
			case c == '\r' || c == '\n':
				f.stats.Terminators++
				f.state = hunting
			case c == '$':
				f.buf = append(f.buf[:0], c)
				f.state = inSentence
			default:
				f.stats.Skipped++
			}
		case inSentence:
			switch {
			case c == '\r' || c == '\n':
				f.stats.Terminators++
				f.end(emit, CutNone)
				f.state = hunting
			case c == '$':
				if len(f.buf) == 1 { // "$$": keep one start
					f.stats.Noise++
					f.stats.DoubledStarts++
					f.buf[0] = c
					continue
				}
				f.end(emit, CutRestart)
				f.buf = append(f.buf[:0], c)
			case c < 0x20 && c != '\t' || c > 0x7e:
				f.stats.Noise++
				f.end(emit, CutBinary)
				f.state = hunting
			case len(f.buf) >= max:
				f.stats.Skipped++
				f.end(emit, CutOverlong)
				f.state = skipping
			default:
				f.buf = append(f.buf, c)
			}
		}
	}
}

// Flush ends the pending sentence, if any. With eor (end of record: a datagram's end)
// the sentence counts as complete (CutNone); otherwise it is cut (CutEOF).
func (f *Framer) Flush(emit func(line []byte, cut Cut), eor bool) {
	if f.state == inSentence {
		cut := CutEOF
		if eor {
			cut = CutNone
		}
		f.end(emit, cut)
	}
	f.state = hunting
}

func (f *Framer) end(emit func([]byte, Cut), cut Cut) {
	if len(f.buf) <= 1 { // a lone start character is noise, not a sentence
		f.stats.Noise += int64(len(f.buf))
		f.buf = f.buf[:0]
		return
	}
	f.stats.Sentences++
	f.stats.SentenceBytes += int64(len(f.buf))
	emit(f.buf, cut)
	f.buf = f.buf[:0]
}
