package dbc

import (
	"errors"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"

	"go.einride.tech/can"
	edbc "go.einride.tech/can/pkg/dbc"
	"go.einride.tech/can/pkg/descriptor"

	"roadlog/internal/shared"
)

// einrideRejects lists the corpus files einride v0.17.0 rejects, why, and what this
// parser does with the same text. TestCorpusParseTable checks that this is exactly
// the set einride rejects and that this parser reads all of them.
var einrideRejects = map[string]string{
	"cantools/abs.dbc":                                   "Latin-1 in a string: read as Latin-1 (warning)",
	"cantools/choices.dbc":                               "Latin-1 in a string: read as Latin-1 (warning)",
	"cantools/vehicle.dbc":                               "Latin-1 in a string: read as Latin-1 (warning)",
	"cantools/attributes.dbc":                            "attribute name \"NWM-WakeupAllowed\" (valid DBC: names in quotes are free text)",
	"cantools/emc32.dbc":                                 "EV_ access type DUMMY_NODE_VECTOR8000 (valid DBC; EV_ is skipped)",
	"cantools/foobar.dbc":                                "// comment line at the top: skipped",
	"cantools/socialledge.dbc":                           "// comment line: skipped",
	"cantools/issue_184_extended_mux_cascaded.dbc":       "extended multiplexing m2M: read, with SG_MUL_VAL_ ranges",
	"cantools/multiplex_2.dbc":                           "extended multiplexing m0M: read, with SG_MUL_VAL_ ranges",
	"cantools/issue_199.dbc":                             "29-bit id without the extended flag: extended (warning)",
	"cantools/issue_199_extended.dbc":                    "extended id 0xFFFFFFFF: masked to 29 bits (warning)",
	"opendbc/chrysler_cusw.dbc":                          "29-bit id without the extended flag: extended (warning)",
	"opendbc/fca_giorgio.dbc":                            "29-bit id without the extended flag: extended (warning)",
	"opendbc/honda_crv_ex_2017_body.dbc":                 "29-bit id without the extended flag: extended (warning)",
	"opendbc/toyota_2017_ref_pt.dbc":                     "ids with bit 30 set: masked to 29 bits (warning)",
	"opendbc/gm_global_a_powertrain.dbc":                 "VAL_ without ';' at the line end (warning)",
	"opendbc/honda_civic_touring_2016_can_generated.dbc": "CM_ SG_ <id> without a signal name: message comment (warning)",
	"opendbc/hyundai_can.dbc":                            "CM_ <id> without BO_: message comment (warning)",
	"opendbc/mazda_2017.dbc":                             "message name 2017_5 starts with a digit (warning)",
	"opendbc/psa_aee2010_r3.dbc":                         "signal name starts with a digit (warning)",
	"opendbc/test.dbc":                                   "signal names 0_COUNTER, 64_BIT_LE start with a digit (warning)",
	"opendbc/vw_pq.dbc":                                  "bare multiplexer indicator 'm': read as 'M' (warning)",
}

func corpusFiles(t testing.TB) (dir string, files []string) {
	dir = shared.Path(t, "testdata/dbc")
	files, err := filepath.Glob(filepath.Join(dir, "*", "*.dbc"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no DBC files in %s: %v", dir, err)
	}
	return dir, files
}

// TestCorpusParseTable parses every DBC of the shared corpus, prints one row per
// file, and requires every file to parse without error.
func TestCorpusParseTable(t *testing.T) {
	dir, files := corpusFiles(t)
	rejected := map[string]bool{}
	t.Logf("%-62s %5s %6s %5s  %s", "file", "msgs", "sigs", "warn", "einride v0.17.0")
	for _, p := range files {
		name, _ := filepath.Rel(dir, p)
		name = filepath.ToSlash(name)
		src, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		f, err := Parse(name, src)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		nsig := 0
		for _, m := range f.Messages {
			nsig += len(m.Signals)
		}
		ep := edbc.NewParser(name, src)
		eerr := ep.Parse()
		status := "ok"
		if eerr != nil {
			rejected[name] = true
			status = "rejects (" + eerr.Error() + "): " + einrideRejects[name]
		}
		t.Logf("%-62s %5d %6d %5d  %s", name, len(f.Messages), nsig, len(f.Warnings), status)
		for _, w := range f.Warnings {
			if !errors.Is(w, ErrTolerated) || w.Pos.Line < 1 || w.File != name {
				t.Errorf("warning without location or sentinel: %v", w)
			}
		}
	}
	for name := range einrideRejects {
		if !rejected[name] {
			t.Errorf("%s: listed as rejected by einride, but einride reads it", name)
		}
	}
	for name := range rejected {
		if _, ok := einrideRejects[name]; !ok {
			t.Errorf("%s: einride rejects it; add it to einrideRejects with the reason", name)
		}
	}
}

// TestAgreesWithEinride compares this parser and decoder with einride's on every
// corpus file einride reads: the same messages and signals, and the same raw and
// physical values for random 8-byte payloads.
func TestAgreesWithEinride(t *testing.T) {
	dir, files := corpusFiles(t)
	rng := rand.New(rand.NewPCG(1, 2))
	checked := 0
	for _, p := range files {
		name, _ := filepath.Rel(dir, p)
		src, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		ep := edbc.NewParser(name, src)
		if ep.Parse() != nil {
			continue
		}
		f, err := Parse(name, src)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		Compile(f)
		ours := map[uint32]*Message{}
		for _, m := range f.Messages {
			if _, dup := ours[m.RawID]; !dup {
				ours[m.RawID] = m
			}
		}
		for _, d := range ep.Defs() {
			md, ok := d.(*edbc.MessageDef)
			if !ok {
				continue
			}
			m := ours[uint32(md.MessageID)]
			if m == nil || m.Name != string(md.Name) || uint64(m.Size) != md.Size || len(m.Signals) != len(md.Signals) {
				t.Errorf("%s: message %d %s differs: %+v", name, md.MessageID, md.Name, m)
				continue
			}
			for i, sd := range md.Signals {
				s := m.Signals[i]
				if s.Name != string(sd.Name) || uint64(s.Start) != sd.StartBit || uint64(s.Size) != sd.Size ||
					s.BigEndian != sd.IsBigEndian || s.Signed != sd.IsSigned || s.Factor != sd.Factor ||
					s.Offset != sd.Offset || s.Min != sd.Minimum || s.Max != sd.Maximum || s.Unit != sd.Unit ||
					(s.Mux == MuxSwitch) != sd.IsMultiplexerSwitch || (s.Mux == MuxMultiplexed) != sd.IsMultiplexed ||
					(sd.IsMultiplexed && s.MuxValue != sd.MultiplexerSwitch) {
					t.Errorf("%s: %s.%s differs:\n ours %+v\n einride %+v", name, m.Name, s.Name, s, sd)
					continue
				}
				if _, last := s.byteSpan(); last >= 8 || s.Type != ValueInt {
					continue
				}
				es := descriptor.Signal{Start: uint8(sd.StartBit), Length: uint8(sd.Size), IsBigEndian: sd.IsBigEndian,
					IsSigned: sd.IsSigned, Scale: sd.Factor, Offset: sd.Offset}
				for range 8 {
					var d can.Data
					for j := range d {
						d[j] = byte(rng.Uint32())
					}
					raw, ok := s.Raw(d[:])
					if !ok || raw != es.UnmarshalUnsigned(d) {
						t.Fatalf("%s: %s.%s raw %x, einride %x (payload %x)", name, m.Name, s.Name, raw, es.UnmarshalUnsigned(d), d)
					}
					if s.Size == 1 {
						continue // einride returns 1-bit signals as 0/1, ignoring factor and offset
					}
					if got, want := s.Physical(raw), es.UnmarshalPhysical(d); got != want && !(math.IsNaN(got) && math.IsNaN(want)) {
						t.Fatalf("%s: %s.%s = %v, einride %v (payload %x)", name, m.Name, s.Name, got, want, d)
					}
					checked++
				}
			}
		}
	}
	if checked == 0 {
		t.Fatal("nothing compared")
	}
	t.Logf("%d signal decodes agree", checked)
}
